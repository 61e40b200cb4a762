variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "vpc_id" {
  type        = string
  description = "VPC the security groups belong to."
}

variable "container_port" {
  type        = number
  description = "Port the application container listens on; the only port the ALB may reach on the tasks."
}

variable "redis_port" {
  type        = number
  description = "Port Redis listens on."
  default     = 6379
}

variable "alb_ingress_cidr_blocks" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to reach the ALB on ports 80 and 443."
  default     = ["0.0.0.0/0"]

  validation {
    condition     = alltrue([for cidr in var.alb_ingress_cidr_blocks : can(cidrnetmask(cidr))])
    error_message = "Every entry of alb_ingress_cidr_blocks must be an IPv4 CIDR such as 203.0.113.0/24."
  }
}

variable "alb_cloudfront_only" {
  type        = bool
  description = "Admit only CloudFront's origin-facing managed prefix list to the ALB, on alb_origin_port (alb_ingress_cidr_blocks are then ignored). Free."
  default     = false
}

variable "alb_origin_port" {
  type        = number
  description = "Listener port CloudFront reaches the ALB on (80, or 443 with a certificate); used with alb_cloudfront_only."
  default     = 80

  validation {
    condition     = contains([80, 443], var.alb_origin_port)
    error_message = "alb_origin_port must be 80 or 443."
  }
}
