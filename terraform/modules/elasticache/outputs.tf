output "replication_group_id" {
  description = "ID of the replication group."
  value       = aws_elasticache_replication_group.this.id
}

output "primary_endpoint" {
  description = "Address of the primary node (reads and writes); follows failover."
  value       = aws_elasticache_replication_group.this.primary_endpoint_address
}

output "reader_endpoint" {
  description = "Address that spreads reads over the replicas."
  value       = aws_elasticache_replication_group.this.reader_endpoint_address
}

output "port" {
  description = "Port Redis listens on."
  value       = aws_elasticache_replication_group.this.port
}

output "member_clusters" {
  description = "IDs of the member cache clusters (primary and replica)."
  value       = aws_elasticache_replication_group.this.member_clusters
}

output "auth_token_parameter_arn" {
  description = "ARN of the SSM SecureString parameter holding the AUTH token (the token itself is never output)."
  value       = aws_ssm_parameter.auth_token.arn
}

output "auth_token_parameter_name" {
  description = "Name of the SSM SecureString parameter holding the AUTH token."
  value       = aws_ssm_parameter.auth_token.name
}
