# Security groups: only the ALB is reachable from the internet; every rule is described.

mock_provider "aws" {
  override_during = plan
}

variables {
  name_prefix    = "chatapp-dev"
  vpc_id         = "vpc-0123456789abcdef0"
  container_port = 8080
}

run "only_the_alb_accepts_traffic_from_anywhere" {
  command = plan

  module {
    source = "./modules/security-groups"
  }

  override_resource {
    target          = aws_security_group.this["alb"]
    override_during = plan
    values          = { id = "sg-alb" }
  }

  override_resource {
    target          = aws_security_group.this["tasks"]
    override_during = plan
    values          = { id = "sg-tasks" }
  }

  override_resource {
    target          = aws_security_group.this["redis"]
    override_during = plan
    values          = { id = "sg-redis" }
  }

  assert {
    condition     = alltrue([for rule in aws_vpc_security_group_ingress_rule.this : rule.security_group_id == "sg-alb" if rule.cidr_ipv4 == "0.0.0.0/0"])
    error_message = "Only the ALB security group may admit 0.0.0.0/0."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["tasks-from-alb"].referenced_security_group_id == "sg-alb" && aws_vpc_security_group_ingress_rule.this["tasks-from-alb"].from_port == 8080
    error_message = "The tasks must accept only the container port, only from the ALB."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["redis-from-tasks"].referenced_security_group_id == "sg-tasks" && aws_vpc_security_group_ingress_rule.this["redis-from-tasks"].from_port == 6379
    error_message = "Redis must accept only 6379, only from the tasks."
  }

  assert {
    condition     = alltrue([for rule in concat(values(aws_vpc_security_group_ingress_rule.this), values(aws_vpc_security_group_egress_rule.this)) : length(rule.description) > 0])
    error_message = "Every rule needs a description."
  }
}
