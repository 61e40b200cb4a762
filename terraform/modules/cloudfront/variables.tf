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

variable "wait_for_deployment" {
  type        = bool
  description = "Make apply wait (often 5-15 minutes) until the distribution is deployed to every edge location."
  default     = false
}
