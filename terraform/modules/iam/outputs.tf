output "execution_role_arn" {
  description = "ARN of the ECS task execution role."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "ARN of the ECS task role the application runs as."
  value       = aws_iam_role.task.arn
}

output "execution_policy" {
  description = "JSON of the execution role's inline policy."
  value       = aws_iam_role_policy.execution.policy
}

output "task_policy" {
  description = "JSON of the task role's inline policy."
  value       = aws_iam_role_policy.task.policy
}
