variable "name_prefix" {
  type        = string
  description = "Prefix for every table name, e.g. \"chatapp-dev\"."
}

variable "enable_point_in_time_recovery" {
  type        = bool
  description = "Continuous backups with 35 days of point-in-time restore. Costs ~$0.228/GB-month of table data in Seoul: cents for a chat demo."
  default     = true
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the tables (destroy fails until it is turned off). Free; off by default because demo stacks are torn down often."
  default     = false
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for the tables; null uses the AWS managed key aws/dynamodb (no key fee)."
  default     = null
}
