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

output "bucket_arn" {
  description = "ARN of the static site bucket."
  value       = aws_s3_bucket.this.arn
}
