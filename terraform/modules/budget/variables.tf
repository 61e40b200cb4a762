variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "limit_usd" {
  type        = number
  description = "Monthly budget in US dollars. It counts the whole account's spend: budgets filtered by tag see nothing until the tag is activated for cost allocation in the billing console."

  validation {
    condition     = var.limit_usd > 0
    error_message = "limit_usd must be a positive number of US dollars, e.g. 70."
  }
}

variable "emails" {
  type        = list(string)
  description = "E-mail addresses AWS Budgets notifies (no confirmation needed)."

  validation {
    condition     = length(var.emails) >= 1 && length(var.emails) <= 10
    error_message = "emails must hold 1 to 10 addresses (the AWS Budgets limit per notification)."
  }
}

variable "actual_threshold_percent" {
  type        = number
  description = "Notify when the month's actual spend passes this percentage of the budget."
  default     = 80
}

variable "forecast_threshold_percent" {
  type        = number
  description = "Notify when the month's forecast spend passes this percentage of the budget."
  default     = 100
}
