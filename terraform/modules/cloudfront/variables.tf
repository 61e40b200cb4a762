variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "bucket_name" {
  type        = string
  description = "Name of the S3 bucket holding the static site; empty derives \"<prefix>-static-<account id>\"."
  default     = ""

  validation {
    condition     = var.bucket_name == "" || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be empty or a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the bucket with its objects. chatops destroy empties buckets itself."
  default     = false
}

variable "price_class" {
  type        = string
  description = "Edge locations served: PriceClass_100 (North America, Europe), PriceClass_200 (adds Asia incl. Korea, at a higher per-GB price), PriceClass_All."
  default     = "PriceClass_200"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.price_class)
    error_message = "price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "default_root_object" {
  type        = string
  description = "Object returned for the root URL."
  default     = "index.html"
}

variable "enable_alb_origin" {
  type        = bool
  description = "Route /ws* and /api* to the ALB through the distribution, so the page and its WebSocket share one HTTPS origin (wss:// without a certificate of your own)."
  default     = true
}

variable "alb_domain_name" {
  type        = string
  description = "DNS name of the ALB origin; used when enable_alb_origin is true."
  default     = ""
}

variable "alb_origin_protocol" {
  type        = string
  description = "How CloudFront reaches the ALB: http-only (the ALB has no certificate) or https-only."
  default     = "http-only"

  validation {
    condition     = contains(["http-only", "https-only"], var.alb_origin_protocol)
    error_message = "alb_origin_protocol must be http-only or https-only."
  }
}

variable "kms_encryption" {
  type        = bool
  description = "Encrypt the bucket with a customer managed KMS key that only this distribution (and the account) may use. $1/month for the key; S3 bucket keys keep request costs to cents. false: SSE-S3."
  default     = true
}

variable "access_logs_bucket" {
  type        = string
  description = "Bucket receiving the static bucket's S3 server access logs (under s3-access/); it must allow logging.s3.amazonaws.com to write there. null: no access logs."
  default     = null
}

variable "aliases" {
  type        = list(string)
  description = "Custom domain names of the distribution; needs certificate_arn."
  default     = []
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 for the aliases. Viewers then get TLS 1.2 or newer only. null: the *.cloudfront.net certificate."
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:aws[a-zA-Z-]*:acm:us-east-1:", var.certificate_arn))
    error_message = "certificate_arn must be an ACM certificate ARN in us-east-1 (CloudFront only uses certificates from there)."
  }
}

variable "enable_waf" {
  type        = bool
  description = "Put an AWS WAF web ACL in front of the distribution (managed rules, per-IP rate limit, logs in us-east-1). About $9/month plus $0.60 per million requests."
  default     = false
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests one IP may make in 5 minutes before the WAF blocks it."
  default     = 2000
}

variable "waf_log_retention" {
  type        = number
  description = "Retention of the WAF log group, in days."
  default     = 14
}

variable "wait_for_deployment" {
  type        = bool
  description = "Make apply wait (often 5-15 minutes) until the distribution is deployed to every edge location."
  default     = false
}

variable "waf_log_kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the WAF log group; null uses CloudWatch Logs' own encryption. A customer managed key costs $1/month."
  default     = null
}

variable "content_security_policy" {
  type        = string
  description = "Content-Security-Policy header sent with every response of the distribution."
  default     = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

variable "origin_secret" {
  type        = string
  description = "Value sent to the ALB origin as X-Origin-Verify (the ALB forwards only requests carrying it); null sends none."
  default     = null
  sensitive   = true
}

variable "not_found_page" {
  type        = string
  description = "Page of the site served, with status 404, for a path the bucket does not hold (S3 answers 403 there); empty shows S3's error."
  default     = "/404.html"

  validation {
    condition     = var.not_found_page == "" || startswith(var.not_found_page, "/")
    error_message = "not_found_page must be empty or a path starting with \"/\", e.g. /404.html."
  }
}
