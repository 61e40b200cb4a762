variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\" (at most 26 characters: \"<prefix>-alb\" must fit the 32-character load balancer name limit; target group names cut it to fit)."

  validation {
    condition     = length(var.name_prefix) <= 28
    error_message = "name_prefix must be at most 28 characters so that \"<prefix>-alb\" fits the 32-character load balancer name limit."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the target groups."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets (two zones) the ALB lives in."
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the ALB."
}

variable "container_port" {
  type        = number
  description = "Port the targets (ECS tasks) listen on."
}

variable "health_check_path" {
  type        = string
  description = "HTTP path the target groups probe on each task."
  default     = "/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with \"/\", e.g. /health."
  }
}

variable "weights" {
  type        = map(number)
  description = "Share of new connections per colour, e.g. { blue = 90, green = 10 }. Whole numbers that sum to 100."

  validation {
    condition     = toset(keys(var.weights)) == toset(["blue", "green"])
    error_message = "weights must have exactly the keys blue and green."
  }

  validation {
    condition     = alltrue([for weight in values(var.weights) : weight >= 0 && weight <= 100 && floor(weight) == weight]) && sum(values(var.weights)) == 100
    error_message = "weights must be whole numbers from 0 to 100 that sum to 100."
  }
}

variable "enable_stickiness" {
  type        = bool
  description = "Target group stickiness on the forward action (clients keep reaching the colour they first reached)."
  default     = true
}

variable "stickiness_duration" {
  type        = number
  description = "Seconds a client stays on the colour it first reached (target group stickiness on the forward action)."
  default     = 3600

  validation {
    condition     = var.stickiness_duration >= 1 && var.stickiness_duration <= 604800
    error_message = "stickiness_duration must be from 1 to 604800 seconds (7 days)."
  }
}

variable "idle_timeout" {
  type        = number
  description = "Seconds a connection may carry no data before the ALB closes it. Must exceed the application's WebSocket ping interval."
  default     = 300

  validation {
    condition     = var.idle_timeout >= 60 && var.idle_timeout <= 4000
    error_message = "idle_timeout must be from 60 to 4000 seconds."
  }
}

variable "deregistration_delay" {
  type        = number
  description = "Seconds a deregistering task keeps its open connections before the ALB cuts them."
  default     = 120

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "deregistration_delay must be from 0 to 3600 seconds."
  }
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate for an HTTPS listener (HTTP then redirects to HTTPS). Empty: a plain HTTP listener."
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || can(regex("^arn:aws[a-zA-Z-]*:acm:", var.certificate_arn))
    error_message = "certificate_arn must be empty or an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)."
  }
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener (TLS 1.2 and 1.3 only by default)."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "enable_deletion_protection" {
  type        = bool
  description = "Refuse to delete the ALB until this is turned off. Free; `chatops destroy` turns it off itself before destroying."
  default     = true
}

variable "enable_waf" {
  type        = bool
  description = "Put an AWS WAF web ACL in front of the ALB: AWS managed rules (common, known bad inputs incl. Log4j, anonymous IPs, which match only with direct access), logged to CloudWatch Logs; no per-IP rate limit, which belongs on the CloudFront web ACL. About $8/month ($5 per ACL, $1 per rule) plus $0.60 per million requests."
  default     = false
}

variable "waf_log_retention_days" {
  type        = number
  description = "Retention of the WAF log group, in days."
  default     = 14
}

variable "logs_bucket_name" {
  type        = string
  description = "Name of the S3 bucket for ALB access logs; empty derives \"<prefix>-alb-logs-<account id>\"."
  default     = ""
}

variable "logs_retention_days" {
  type        = number
  description = "Days ALB access logs are kept before the lifecycle rule deletes them. Storage is $0.025/GB-month in Seoul."
  default     = 30

  validation {
    condition     = var.logs_retention_days >= 1
    error_message = "logs_retention_days must be at least 1."
  }
}

variable "logs_force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete the log bucket with its objects. chatops destroy empties buckets itself."
  default     = false
}

variable "waf_log_kms_key_arn" {
  type        = string
  description = "KMS key that encrypts the WAF log group; null uses CloudWatch Logs' own encryption. A customer managed key costs $1/month."
  default     = null
}

variable "edge_only" {
  type        = bool
  description = "Accept only requests that carry the origin secret CloudFront sends (X-Origin-Verify): the listener's default action answers 403 and a listener rule forwards. Free (an SSM standard parameter; rule evaluations are part of the LCU price)."
  default     = true
}

variable "origin_secret_generation" {
  type        = number
  description = "Generation of the origin secret; raise it by one to rotate. The previous generation stays accepted until the next rotation, so no request or connection is refused during the change."
  default     = 1

  validation {
    condition     = var.origin_secret_generation >= 1 && floor(var.origin_secret_generation) == var.origin_secret_generation
    error_message = "origin_secret_generation must be a whole number of at least 1."
  }
}

variable "origin_secret_kms_key_id" {
  type        = string
  description = "KMS key of the origin secret parameters. The AWS managed aws/ssm key is free; a customer managed key costs $1/month."
  default     = "alias/aws/ssm"
}
