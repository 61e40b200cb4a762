output "alb_security_group_id" {
  description = "Security group of the ALB."
  value       = aws_security_group.this["alb"].id
}

output "tasks_security_group_id" {
  description = "Security group of the ECS tasks."
  value       = aws_security_group.this["tasks"].id
}

output "redis_security_group_id" {
  description = "Security group of the Redis replication group."
  value       = aws_security_group.this["redis"].id
}

output "ingress_rules" {
  description = "Every ingress rule, keyed by name: the group it opens, the port and the CIDR or source group it admits."
  value = {
    for name, rule in local.ingress_rules : name => {
      group       = rule.group
      port        = rule.port
      cidr        = rule.cidr
      source      = rule.source
      prefix_list = rule.prefix_list
    }
  }
}
