variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "dynamodb_table_arns" {
  type        = map(string)
  description = "ARNs of the tables the application reads and writes, keyed by table role (messages, connections, user-counter). The task role gets exactly the item actions the chat server calls on each."

  validation {
    condition     = toset(keys(var.dynamodb_table_arns)) == toset(["messages", "connections", "user-counter"])
    error_message = "dynamodb_table_arns must have exactly the keys messages, connections and user-counter (the chat server's three tables)."
  }
}

variable "ecr_repository_arn" {
  type        = string
  description = "ECR repository the task execution role may pull images from."
}

variable "log_group_arn" {
  type        = string
  description = "CloudWatch log group the containers write to."
}

variable "metrics_namespace" {
  type        = string
  description = "The only CloudWatch namespace the application may put metrics in."
}

variable "secret_parameter_arns" {
  type        = list(string)
  description = "SSM parameters (SecureString) the execution role reads to inject secrets into containers."
  default     = []
}

variable "enable_xray" {
  type        = bool
  description = "Allow the task role to send traces to AWS X-Ray."
  default     = false
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow the task role to open ECS Exec (SSM) sessions into running containers."
  default     = false
}
