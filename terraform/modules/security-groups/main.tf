# CloudFront's origin-facing addresses, as AWS maintains them. The list counts as its
# maximum number of entries (55 today) against the 60 rules a security group may hold,
# so it is admitted on the one port CloudFront uses, never on both.
data "aws_ec2_managed_prefix_list" "cloudfront" {
  count = var.alb_cloudfront_only ? 1 : 0

  name = "com.amazonaws.global.cloudfront.origin-facing"
}

locals {
  groups = {
    alb   = var.alb_cloudfront_only ? "Public ALB: its origin port from CloudFront only, forwards to the tasks" : "Public ALB: HTTP/HTTPS from the internet, forwards to the tasks"
    tasks = "ECS tasks: the container port from the ALB only"
    redis = "ElastiCache Redis: Redis port from the ECS tasks only"
  }

  alb_listener_ports = { http = 80, https = 443 }

  # Every rule of the stack, keyed by meaning. Exactly one of cidr / source / prefix_list is set.
  ingress_rules = merge(
    {
      for pair in setproduct(keys(local.alb_listener_ports), var.alb_cloudfront_only ? [] : var.alb_ingress_cidr_blocks) :
      "alb-${pair[0]}-from-${pair[1]}" => {
        group       = "alb"
        port        = local.alb_listener_ports[pair[0]]
        cidr        = pair[1]
        source      = null
        prefix_list = null
        description = "${upper(pair[0])} from ${pair[1]}"
      }
    },
    {
      for list in data.aws_ec2_managed_prefix_list.cloudfront :
      "alb-origin-from-cloudfront" => {
        group       = "alb"
        port        = var.alb_origin_port
        cidr        = null
        source      = null
        prefix_list = list.id
        description = "Port ${var.alb_origin_port} from CloudFront's origin-facing addresses"
      }
    },
    {
      tasks-from-alb = {
        group       = "tasks"
        port        = var.container_port
        cidr        = null
        source      = "alb"
        prefix_list = null
        description = "Application traffic from the ALB"
      }
      redis-from-tasks = {
        group       = "redis"
        port        = var.redis_port
        cidr        = null
        source      = "tasks"
        prefix_list = null
        description = "Redis from the ECS tasks"
      }
    },
  )

  egress_rules = {
    alb-to-tasks = {
      group       = "alb"
      port        = var.container_port
      cidr        = null
      target      = "tasks"
      description = "Forward to the ECS tasks on the container port"
    }
    tasks-to-https = {
      group       = "tasks"
      port        = 443
      cidr        = "0.0.0.0/0"
      target      = null
      description = "HTTPS to AWS APIs (ECR, Logs, SSM, DynamoDB, X-Ray) via the NAT gateway and endpoints"
    }
    tasks-to-redis = {
      group       = "tasks"
      port        = var.redis_port
      cidr        = null
      target      = "redis"
      description = "Redis on the replication group"
    }
  }
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:Attached in the alb, ecs and elasticache modules; checkov does not follow module outputs.
  for_each = local.groups

  # A group is replaced when its description or VPC changes; with a fixed name the new
  # one (created first) would collide with the old (InvalidGroup.Duplicate).
  name_prefix = "${var.name_prefix}-${each.key}-"
  description = each.value
  vpc_id      = var.vpc_id

  tags = { Name = "${var.name_prefix}-${each.key}" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each = local.ingress_rules

  security_group_id            = aws_security_group.this[each.value.group].id
  description                  = each.value.description
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  cidr_ipv4                    = each.value.cidr
  prefix_list_id               = each.value.prefix_list
  referenced_security_group_id = each.value.source == null ? null : aws_security_group.this[each.value.source].id

  tags = { Name = "${var.name_prefix}-${each.key}" }
}

resource "aws_vpc_security_group_egress_rule" "this" {
  for_each = local.egress_rules

  security_group_id            = aws_security_group.this[each.value.group].id
  description                  = each.value.description
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  cidr_ipv4                    = each.value.cidr
  referenced_security_group_id = each.value.target == null ? null : aws_security_group.this[each.value.target].id

  tags = { Name = "${var.name_prefix}-${each.key}" }
}
