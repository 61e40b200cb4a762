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
  description = "Zones of the primary and the replica, in that order (a single node takes the first)."

  validation {
    condition     = length(var.availability_zones) == 2 && length(distinct(var.availability_zones)) == 2
    error_message = "availability_zones must be two different zones: the first for the primary, the second for the replica."
  }
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the cache nodes."
}

variable "node_count" {
  type        = number
  description = "Cache nodes: 2 is a primary and a replica in another zone with automatic failover and Multi-AZ; 1 is a single node with no replica and no failover (if it or its zone fails, Redis is down until ElastiCache replaces the node, and its data is lost). Each node is billed by the hour: cache.t4g.micro is ~$17.52/month in Seoul with Redis OSS."
  default     = 2

  validation {
    condition     = contains([1, 2], var.node_count)
    error_message = "node_count must be 1 (a single node, no failover) or 2 (primary and replica with failover)."
  }
}

variable "engine" {
  type        = string
  description = "redis (Redis OSS) or valkey (Redis-compatible, node hours ~20% cheaper than Redis OSS on ElastiCache)."
  default     = "redis"

  validation {
    condition     = contains(["redis", "valkey"], var.engine)
    error_message = "engine must be redis or valkey."
  }
}

variable "node_type" {
  type        = string
  description = "Cache node type of every node. cache.t4g.micro costs ~$17.52/month per node in Seoul with Redis OSS (~$14.02 with Valkey); each size up roughly doubles it."
  default     = "cache.t4g.micro"

  validation {
    condition     = can(regex("^cache\\.[a-z0-9]+\\.[a-z0-9]+$", var.node_type))
    error_message = "node_type must be an ElastiCache node type such as cache.t4g.micro."
  }
}

variable "engine_version" {
  type        = string
  description = "Engine version: Redis OSS 6.0, 6.2, 6.x, 7.0 or 7.1; Valkey 7.2 or 8.x (e.g. 8.0). Its default parameter group follows: redis6.x, redis7, valkey7 or valkey8."
  default     = "7.1"

  validation {
    condition = (
      var.engine == "valkey"
      ? can(regex("^(7\\.2|8\\.[0-9]+)$", var.engine_version))
      : can(regex("^(6\\.[02x]|7\\.[01])$", var.engine_version))
    )
    error_message = "engine_version must be one ElastiCache offers for the engine: Redis OSS 6.0, 6.2, 6.x, 7.0 or 7.1 (e.g. 7.1), Valkey 7.2 or 8.x (e.g. 8.0). Redis OSS 4 and 5 are refused: they are past standard support and ElastiCache bills their nodes an extended-support premium on top of the node hours."
  }
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
