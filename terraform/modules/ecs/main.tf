data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  colours = toset(["blue", "green"])

  # Fargate gives a container at most 120 s between SIGTERM and SIGKILL; the ALB
  # deregistration delay is sized to match so clients get the whole window to move.
  stop_timeout = 120

  log_options = {
    "awslogs-group"  = aws_cloudwatch_log_group.this.name
    "awslogs-region" = data.aws_region.current.name
  }

  xray_environment = var.enable_xray ? { AWS_XRAY_DAEMON_ADDRESS = "127.0.0.1:2000" } : {}

  # The version a task reports to its clients: the image tag (or the first digest
  # characters), so `hello` tells which release served a connection.
  versions = {
    for colour in local.colours : colour => (
      length(split("@", var.images[colour])) > 1
      ? substr(split(":", split("@", var.images[colour])[1])[length(split(":", split("@", var.images[colour])[1])) - 1], 0, 12)
      : (can(regex(":([^:/]+)$", var.images[colour])) ? regex(":([^:/]+)$", var.images[colour])[0] : "latest")
    )
  }

  # Settings of each colour's task beyond the shared environment: how it finds its own
  # target (to notice draining), how long it spreads its clients' reconnects, where
  # it reports its connection count.
  colour_environment = {
    for colour in local.colours : colour => {
      COLOR             = colour
      PORT              = tostring(var.container_port)
      APP_VERSION       = local.versions[colour]
      TARGET_GROUP_ARN  = var.target_group_arns[colour]
      DRAIN_SECONDS     = tostring(var.drain_seconds)
      METRICS_NAMESPACE = var.metrics_namespace
    }
  }

  # Built from the parameter's name (which also orders the task definitions after it)
  # so the task definitions are known at plan time.
  session_secret_arn = "arn:${data.aws_partition.current.partition}:ssm:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:parameter${aws_ssm_parameter.session_secret.name}"
  secrets            = merge(var.secrets, { SESSION_SECRET = local.session_secret_arn })

  containers = {
    for colour in local.colours : colour => concat(
      [{
        name       = "app"
        image      = var.images[colour]
        essential  = true
        cpu        = 0
        user       = var.container_user
        privileged = false
        # ECS Exec's SSM agent writes under /var/lib/amazon and /var/log/amazon
        # (aws/containers-roadmap#1359): a read-only root filesystem breaks it.
        readonlyRootFilesystem = !var.enable_execute_command
        stopTimeout            = local.stop_timeout
        portMappings = [{
          name          = "http"
          containerPort = var.container_port
          hostPort      = var.container_port
          protocol      = "tcp"
        }]
        environment = [
          for name, value in merge(var.environment, local.xray_environment, local.colour_environment[colour]) :
          { name = name, value = value }
        ]
        secrets     = [for name, arn in local.secrets : { name = name, valueFrom = arn }]
        mountPoints = [{ sourceVolume = "tmp", containerPath = "/tmp", readOnly = false }]
        volumesFrom = []
        linuxParameters = {
          initProcessEnabled = true
        }
        logConfiguration = {
          logDriver = "awslogs"
          options   = merge(local.log_options, { "awslogs-stream-prefix" = colour })
        }
      }],
      var.enable_xray ? [{
        name                   = "xray-daemon"
        image                  = var.xray_daemon_image
        essential              = false
        cpu                    = 32
        memoryReservation      = 64
        user                   = "1337"
        privileged             = false
        readonlyRootFilesystem = true
        portMappings = [{
          containerPort = 2000
          hostPort      = 2000
          protocol      = "udp"
        }]
        environment = []
        mountPoints = []
        volumesFrom = []
        logConfiguration = {
          logDriver = "awslogs"
          options   = merge(local.log_options, { "awslogs-stream-prefix" = "${colour}-xray" })
        }
      }] : [],
    )
  }
}

# The key that signs the chat's resume tokens, shared by every task of both colours so a
# client keeps its identity whichever task it reconnects to. Generated once, kept in SSM
# (SecureString, free tier), injected as a secret; new generator values are ignored.
data "aws_secretsmanager_random_password" "session_secret" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_ssm_parameter" "session_secret" {
  name        = "/${var.name_prefix}/chat/session-secret"
  description = "Key signing the resume tokens of the ${var.name_prefix} chat service"
  type        = "SecureString"
  key_id      = var.secret_kms_key_id
  value       = data.aws_secretsmanager_random_password.session_secret.random_password

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_ecs_cluster" "this" {
  name = "${var.name_prefix}-cluster"

  # Per-task CPU, memory and network metrics: a few dollars a month, and what
  # `chatops status` and the dashboard need to explain a bad rollout.
  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = { Name = "${var.name_prefix}-cluster" }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/ecs/${var.name_prefix}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn

  tags = { Name = "/ecs/${var.name_prefix}" }
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.colours

  family                   = "${var.name_prefix}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(var.cpu)
  memory                   = tostring(var.memory)
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode(local.containers[each.key])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  # The root filesystem is read-only (unless ECS Exec is on); /tmp is the one writable
  # scratch space. Fargate fills the bind mount from the image's /tmp, mode included.
  volume {
    name = "tmp"
  }

  tags = { Name = "${var.name_prefix}-${each.key}", Colour = each.key }
}

resource "aws_ecs_service" "this" {
  for_each = local.colours

  name                              = "${var.name_prefix}-service-${each.key}"
  cluster                           = aws_ecs_cluster.this.arn
  task_definition                   = aws_ecs_task_definition.this[each.key].arn
  desired_count                     = var.desired_counts[each.key]
  enable_execute_command            = var.enable_execute_command
  enable_ecs_managed_tags           = true
  propagate_tags                    = "SERVICE"
  health_check_grace_period_seconds = var.health_check_grace_period
  availability_zone_rebalancing     = "ENABLED"
  wait_for_steady_state             = false

  # Replace tasks before stopping old ones, so a colour never drops below its count.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  # A capacity provider change is an in-place update only with a forced deployment
  # (otherwise the provider replaces both services: an outage). The price: every
  # apply that changes a service also replaces its tasks, at 100/200 percent.
  force_new_deployment = true

  capacity_provider_strategy {
    capacity_provider = var.capacity_provider
    weight            = 1
  }

  # Without a NAT gateway the tasks sit in the public subnets with public IPs; the
  # security groups still admit nothing but the ALB.
  network_configuration {
    subnets          = var.assign_public_ip ? var.public_subnet_ids : var.private_subnet_ids
    security_groups  = var.security_group_ids
    assign_public_ip = var.assign_public_ip
  }

  load_balancer {
    target_group_arn = var.target_group_arns[each.key]
    container_name   = "app"
    container_port   = var.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  tags = { Name = "${var.name_prefix}-service-${each.key}", Colour = each.key }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}
