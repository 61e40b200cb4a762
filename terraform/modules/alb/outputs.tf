output "alb_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "waf_web_acl_arn" {
  description = "ARN of the WAF web ACL in front of the ALB, or null when WAF is off."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (the LoadBalancer dimension of its CloudWatch metrics)."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "Public DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 zone ID of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "url" {
  description = "Base URL of the load balancer (edge-only: it answers 403 to requests without the origin secret)."
  value       = "${local.https ? "https" : "http"}://${aws_lb.this.dns_name}"
}

output "listener_arn" {
  description = "ARN of the listener (its default action forwards by weight with direct access, answers 403 edge-only)."
  value       = aws_lb_listener.this.arn
}

output "traffic_rule_arn" {
  description = "ARN of the listener rule whose forward action carries the blue/green weights in edge-only mode; null with direct access (the listener's default action carries them)."
  value       = one(aws_lb_listener_rule.traffic[*].arn)
}

output "origin_secret" {
  description = "Value CloudFront must send as X-Origin-Verify (the current generation); null with direct access."
  value       = var.edge_only ? aws_ssm_parameter.origin_secret[tostring(var.origin_secret_generation)].value : null
  sensitive   = true

  # CloudFront sends a new secret only once the rule accepts it.
  depends_on = [aws_lb_listener_rule.traffic]
}

output "origin_secret_parameter" {
  description = "SSM parameter holding the current origin secret; null with direct access."
  value       = var.edge_only ? aws_ssm_parameter.origin_secret[tostring(var.origin_secret_generation)].name : null
}

output "listener_protocol" {
  description = "Protocol of the forwarding listener: HTTP, or HTTPS when a certificate is given."
  value       = aws_lb_listener.this.protocol
}

output "target_group_arns" {
  description = "Target group ARNs keyed by colour. Available only once the listener uses them, which ECS requires before a service can attach."
  value       = { for colour, group in aws_lb_target_group.this : colour => group.arn }

  depends_on = [aws_lb_listener.this, aws_lb_listener_rule.traffic]
}

output "target_group_arn_suffixes" {
  description = "Target group ARN suffixes keyed by colour (the TargetGroup dimension of CloudWatch metrics)."
  value       = { for colour, group in aws_lb_target_group.this : colour => group.arn_suffix }
}

output "target_group_names" {
  description = "Target group names keyed by colour."
  value       = { for colour, group in aws_lb_target_group.this : colour => group.name }
}

output "weights" {
  description = "Weights of the forward action, keyed by colour."
  value       = var.weights
}

output "logs_bucket_name" {
  description = "S3 bucket receiving the access logs. Available once its policy lets ALB and S3 log delivery write."
  value       = aws_s3_bucket.logs.bucket

  depends_on = [aws_s3_bucket_policy.logs]
}

output "logs_bucket_arn" {
  description = "ARN of the access log bucket."
  value       = aws_s3_bucket.logs.arn
}
