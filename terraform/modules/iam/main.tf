data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  # Only ECS tasks of this account and region may assume the roles (confused-deputy guard).
  ecs_tasks_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
      Condition = {
        StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id }
        ArnLike = {
          "aws:SourceArn" = "arn:${data.aws_partition.current.partition}:ecs:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:*"
        }
      }
    }]
  })

  # Exactly the item actions the chat server calls on each table (app/chatapp/store.py);
  # none of them reads an index.
  table_actions = {
    messages       = ["dynamodb:PutItem", "dynamodb:Query"]
    connections    = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    "user-counter" = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
  }
  table_sids = {
    messages       = "MessagesTable"
    connections    = "ConnectionsTable"
    "user-counter" = "UserCounterTable"
  }

  execution_statements = concat(
    [
      {
        Sid      = "EcrAuthorization"
        Effect   = "Allow"
        Action   = ["ecr:GetAuthorizationToken"]
        Resource = "*" # GetAuthorizationToken supports no resource-level scoping.
      },
      {
        Sid      = "PullApplicationImages"
        Effect   = "Allow"
        Action   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
        Resource = var.ecr_repository_arn
      },
      {
        Sid      = "WriteContainerLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = "${var.log_group_arn}:log-stream:*"
      },
    ],
    length(var.secret_parameter_arns) == 0 ? [] : [{
      Sid      = "ReadContainerSecrets"
      Effect   = "Allow"
      Action   = ["ssm:GetParameters"]
      Resource = var.secret_parameter_arns
    }],
  )

  task_statements = concat(
    [
      for role, actions in local.table_actions : {
        Sid      = local.table_sids[role]
        Effect   = "Allow"
        Action   = actions
        Resource = var.dynamodb_table_arns[role]
      }
    ],
    [{
      # The chat's GET /api/me/messages: one user's messages across rooms.
      Sid      = "MessagesOfAUser"
      Effect   = "Allow"
      Action   = ["dynamodb:Query"]
      Resource = "${var.dynamodb_table_arns["messages"]}/index/userId-timestamp-index"
    }],
    [
      {
        # A task notices that its own target is draining and moves its clients off
        # before the ALB cuts them. ELBv2 Describe* actions support no resource-level
        # scoping, so this read-only action cannot be narrowed to the two target groups.
        Sid      = "ReadOwnTargetHealth"
        Effect   = "Allow"
        Action   = ["elasticloadbalancing:DescribeTargetHealth"]
        Resource = "*"
      },
      {
        Sid      = "ReportConnectionMetrics"
        Effect   = "Allow"
        Action   = ["cloudwatch:PutMetricData"]
        Resource = "*" # PutMetricData supports no resources; the namespace condition scopes it.
        Condition = {
          StringEquals = { "cloudwatch:namespace" = var.metrics_namespace }
        }
      },
    ],
    var.enable_xray ? [{
      Sid    = "XRayWrites"
      Effect = "Allow"
      Action = [
        "xray:GetSamplingRules",
        "xray:GetSamplingStatisticSummaries",
        "xray:GetSamplingTargets",
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
      ]
      Resource = "*" # These X-Ray actions support no resource-level scoping.
    }] : [],
    var.enable_execute_command ? [{
      Sid    = "EcsExecSessions"
      Effect = "Allow"
      Action = [
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
      ]
      Resource = "*" # ssmmessages supports no resource-level scoping.
    }] : [],
  )
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-ecs-execution"
  description        = "Lets ECS pull the chat images, write their logs and read their secrets"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-log-read-secrets"
  role   = aws_iam_role.execution.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.execution_statements })
}

resource "aws_iam_role" "task" {
  name               = "${var.name_prefix}-ecs-task"
  description        = "What the chat application itself may do: its DynamoDB tables, its target health, its metrics, X-Ray"
  assume_role_policy = local.ecs_tasks_trust
}

resource "aws_iam_role_policy" "task" {
  name   = "chat-application"
  role   = aws_iam_role.task.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.task_statements })
}
