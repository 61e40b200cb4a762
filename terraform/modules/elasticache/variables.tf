variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (one per availability zone) the cache nodes live in."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids needs at least two subnets in different zones: the replica must not share the primary's zone."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Zones of the primary and the replica, in that order."

  validation {
    condition     = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2
    error_message = "availability_zones must be two different zones: the first for the primary, the second for the replica."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the cache nodes."
}

variable "node_type" {
  type        = string
  description = "Cache node type for both nodes. cache.t4g.micro costs about $15/month for the pair in Seoul; each size up roughly doubles it."
  default     = "cache.t4g.micro"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must be an ElastiCache node type such as cache.t4g.micro."
  }
}

variable "engine_version" {
  type        = string
  description = "Redis engine version."
  default     = "7.1"
}

variable "port" {
  type        = number
  description = "Port Redis listens on."
  default     = 6379
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of automatic daily snapshots to keep; 0 turns them off. One snapshot per cluster is free, more are billed at $0.085/GB-month."
  default     = 1
}

variable "apply_immediately" {
  type        = bool
  description = "Apply changes now instead of in the next maintenance window."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for encryption at rest; null uses the ElastiCache default key."
  default     = null
}

variable "auth_token_kms_key_id" {
  type        = string
  description = "KMS key of the AUTH token parameter. The AWS managed aws/ssm key is free; a customer managed key costs $1/month and must let the task execution role decrypt."
  default     = "alias/aws/ssm"
}
