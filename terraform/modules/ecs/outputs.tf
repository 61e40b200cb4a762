output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_names" {
  description = "Service names keyed by colour."
  value       = { for colour, service in aws_ecs_service.this : colour => service.name }
}

output "task_definition_arns" {
  description = "Task definition ARNs (with revision) keyed by colour."
  value       = { for colour, definition in aws_ecs_task_definition.this : colour => definition.arn }
}

output "container_definitions" {
  description = "Container definitions (JSON) keyed by colour."
  value       = { for colour, definition in aws_ecs_task_definition.this : colour => definition.container_definitions }
}

output "images" {
  description = "Application image keyed by colour."
  value       = var.images
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the container log group."
  value       = aws_cloudwatch_log_group.this.arn
}

output "session_secret_parameter_arn" {
  description = "ARN of the SSM parameter holding the key that signs resume tokens."
  value       = aws_ssm_parameter.session_secret.arn
}

output "session_secret_parameter_name" {
  description = "Name of the SSM parameter holding the key that signs resume tokens."
  value       = aws_ssm_parameter.session_secret.name
}

output "environments" {
  description = "Plain environment of each colour's application container, keyed by colour."
  value       = { for colour in local.colours : colour => merge(var.environment, local.xray_environment, local.colour_environment[colour]) }
}
