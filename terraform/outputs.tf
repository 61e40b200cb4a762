# --- Identity -----------------------------------------------------------------

output "aws_region" {
  description = "Region the stack is deployed in."
  value       = var.aws_region
}

output "project_name" {
  description = "Project name of the stack."
  value       = var.project_name
}

output "environment" {
  description = "Environment name of the stack (what `chatops destroy` asks you to type)."
  value       = var.environment
}

output "name_prefix" {
  description = "Prefix of every resource name (<project_name>-<environment>)."
  value       = local.name_prefix
}

# --- Entry points -------------------------------------------------------------

output "alb_dns_name" {
  description = "Public DNS name of the ALB."
  value       = module.alb.dns_name
}

output "alb_arn" {
  description = "ARN of the ALB."
  value       = module.alb.alb_arn
}

output "alb_url" {
  description = "Base URL of the ALB. Edge-only (the default) it answers 403: use the CloudFront URL."
  value       = module.alb.url
}

output "alb_direct_access" {
  description = "Whether the ALB serves requests that did not come through CloudFront."
  value       = var.alb_direct_access
}

output "origin_secret_parameter" {
  description = "SSM parameter holding the origin secret CloudFront sends the ALB (X-Origin-Verify); null with direct access."
  value       = module.alb.origin_secret_parameter
}

output "cloudfront_domain_name" {
  description = "Domain of the CloudFront distribution serving the static site (and /ws, /api when routed)."
  value       = module.cloudfront.domain_name
}

output "cloudfront_distribution_id" {
  description = "ID of the CloudFront distribution (for invalidations)."
  value       = module.cloudfront.distribution_id
}

output "ecr_repository_url" {
  description = "Repository to push the application images to."
  value       = module.ecr.repository_url
}

output "s3_bucket_name" {
  description = "Bucket to upload the static site to."
  value       = module.cloudfront.bucket_name
}

output "alb_logs_bucket_name" {
  description = "Bucket receiving the ALB access logs."
  value       = module.alb.logs_bucket_name
}

# --- Traffic ------------------------------------------------------------------

output "listener_arn" {
  description = "Listener of the ALB; with direct access its default action holds the blue/green weights."
  value       = module.alb.listener_arn
}

output "traffic_rule_arn" {
  description = "Listener rule whose forward action holds the blue/green weights in edge-only mode; null with direct access."
  value       = module.alb.traffic_rule_arn
}

output "blue_target_group_arn" {
  description = "Target group of the blue service."
  value       = module.alb.target_group_arns["blue"]
}

output "green_target_group_arn" {
  description = "Target group of the green service."
  value       = module.alb.target_group_arns["green"]
}

output "blue_weight" {
  description = "Share of new connections Terraform configures for blue."
  value       = var.blue_weight
}

output "green_weight" {
  description = "Share of new connections Terraform configures for green."
  value       = var.green_weight
}

# --- Compute ------------------------------------------------------------------

output "blue_desired_count" {
  description = "Tasks Terraform configures for blue (what `chatops scale` records)."
  value       = var.blue_desired_count
}

output "green_desired_count" {
  description = "Tasks Terraform configures for green (what `chatops scale` records)."
  value       = var.green_desired_count
}

output "enable_stickiness" {
  description = "Whether Terraform configures target group stickiness on the listener."
  value       = var.enable_stickiness
}

output "ecs_cluster_name" {
  description = "ECS cluster of both services."
  value       = module.ecs.cluster_name
}

output "blue_service_name" {
  description = "ECS service running blue."
  value       = module.ecs.service_names["blue"]
}

output "green_service_name" {
  description = "ECS service running green."
  value       = module.ecs.service_names["green"]
}

output "blue_image" {
  description = "Image blue runs."
  value       = local.images["blue"]
}

output "green_image" {
  description = "Image green runs."
  value       = local.images["green"]
}

output "cpu_architecture" {
  description = "CPU architecture of the tasks, X86_64 or ARM64: `chatops release` builds images for it."
  value       = var.cpu_architecture
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = module.ecs.log_group_name
}

# --- Data ---------------------------------------------------------------------

output "messages_table_name" {
  description = "DynamoDB table of chat messages."
  value       = module.dynamodb.table_names["messages"]
}

output "connections_table_name" {
  description = "DynamoDB table of live connections."
  value       = module.dynamodb.table_names["connections"]
}

output "user_counter_table_name" {
  description = "DynamoDB table holding the user id counter."
  value       = module.dynamodb.table_names["user-counter"]
}

output "redis_endpoint" {
  description = "Primary endpoint of Redis (TLS, AUTH required)."
  value       = module.elasticache.primary_endpoint
}

output "redis_reader_endpoint" {
  description = "Reader endpoint of Redis."
  value       = module.elasticache.reader_endpoint
}

output "redis_auth_token_parameter" {
  description = "SSM SecureString parameter holding the Redis AUTH token (read it with `aws ssm get-parameter --with-decryption`)."
  value       = module.elasticache.auth_token_parameter_name
}

# --- Monitoring ---------------------------------------------------------------

output "session_secret_parameter" {
  description = "SSM SecureString parameter holding the key that signs the chat's resume tokens."
  value       = module.ecs.session_secret_parameter_name
}

output "metrics_namespace" {
  description = "CloudWatch namespace of the application's own metrics (open WebSockets per task)."
  value       = local.metrics_namespace
}

output "alarm_names" {
  description = "CloudWatch alarm names keyed by meaning (unhealthy-hosts-blue, target-5xx-green, alb-5xx, ...)."
  value       = module.monitoring.alarm_names
}

output "alarm_colours" {
  description = "Colour each alarm watches (null: the whole ALB), keyed like alarm_names."
  value       = module.monitoring.alarm_colours
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = module.monitoring.sns_topic_arn
}

output "dashboard_name" {
  description = "CloudWatch dashboard of the stack."
  value       = module.monitoring.dashboard_name
}

output "vpc_id" {
  description = "VPC of the stack."
  value       = module.vpc.vpc_id
}
