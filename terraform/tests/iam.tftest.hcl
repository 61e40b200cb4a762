# The task role grants each table exactly the item actions the chat server calls, and
# one index query (a user's messages); the execution role reads exactly the stack's secrets.

mock_provider "aws" {
  override_during = plan
}

variables {
  name_prefix = "chatapp-dev"
  dynamodb_table_arns = {
    messages       = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-messages"
    connections    = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-connections"
    "user-counter" = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-user-counter"
  }
  ecr_repository_arn    = "arn:aws:ecr:ap-northeast-2:123456789012:repository/chatapp-dev"
  log_group_arn         = "arn:aws:logs:ap-northeast-2:123456789012:log-group:/ecs/chatapp-dev"
  metrics_namespace     = "ChatApp/dev"
  secret_parameter_arns = ["arn:aws:ssm:ap-northeast-2:123456789012:parameter/chatapp-dev/redis/auth-token"]
}

run "task_role_grants_each_table_only_the_calls_the_app_makes" {
  command = plan

  module {
    source = "./modules/iam"
  }

  assert {
    condition = jsonencode({
      for s in jsondecode(aws_iam_role_policy.task.policy).Statement : s.Sid => sort(s.Action)
      if startswith(s.Sid, "MessagesTable") || startswith(s.Sid, "ConnectionsTable") || startswith(s.Sid, "UserCounterTable")
      }) == jsonencode({
      MessagesTable    = ["dynamodb:PutItem", "dynamodb:Query"]
      ConnectionsTable = ["dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
      UserCounterTable = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    })
    error_message = "The task role's table statements are not exactly the chat server's item actions."
  }

  assert {
    condition = alltrue([
      for s in jsondecode(aws_iam_role_policy.task.policy).Statement :
      !startswith(jsonencode(s.Action), "[\"dynamodb") || !strcontains(jsonencode(s.Resource), "*")
    ])
    error_message = "A DynamoDB statement of the task role names a wildcard resource."
  }

  assert {
    condition = jsonencode([
      for s in jsondecode(aws_iam_role_policy.execution.policy).Statement : s.Resource
      if s.Sid == "ReadContainerSecrets"
    ]) == jsonencode([var.secret_parameter_arns])
    error_message = "The execution role must read exactly the stack's secret parameters."
  }
}

run "rejects_table_arns_without_the_three_tables" {
  command = plan

  module {
    source = "./modules/iam"
  }

  variables {
    dynamodb_table_arns = {
      messages = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-messages"
    }
  }

  expect_failures = [var.dynamodb_table_arns]
}
