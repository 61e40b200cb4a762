output "distribution_id" {
  description = "ID of the CloudFront distribution (for cache invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the CloudFront distribution."
  value       = aws_cloudfront_distribution.this.arn
}

output "domain_name" {
  description = "Domain name of the distribution (<id>.cloudfront.net)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "bucket_name" {
  description = "S3 bucket to upload the static site to."
  value       = aws_s3_bucket.this.bucket
}

output "kms_key_arn" {
  description = "KMS key encrypting the static site bucket, or null for SSE-S3. Uploaders need kms:GenerateDataKey on it."
  value       = one(aws_kms_key.this[*].arn)
}

output "waf_web_acl_arn" {
  description = "ARN of the WAF web ACL in front of the distribution, or null when WAF is off."
  value       = one(aws_wafv2_web_acl.this[*].arn)
}

output "bucket_arn" {
  description = "ARN of the static site bucket."
  value       = aws_s3_bucket.this.arn
}
