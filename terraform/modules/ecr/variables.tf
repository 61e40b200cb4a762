variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name; the repository is named after it."
}

variable "keep_images" {
  type        = number
  description = "How many most recent images the lifecycle policy keeps. Storage costs $0.10/GB-month."
  default     = 10

  validation {
    condition     = var.keep_images >= 2 && var.keep_images <= 1000 && floor(var.keep_images) == var.keep_images
    error_message = "keep_images must be a whole number from 2 to 1000 (blue and green each need their image kept)."
  }
}

variable "image_tag_mutability" {
  type        = string
  description = "IMMUTABLE (a tag always names the same image: what blue and green run cannot change under them) or MUTABLE."
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["IMMUTABLE", "MUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be IMMUTABLE or MUTABLE."
  }
}

variable "force_delete" {
  type        = bool
  description = "Let `destroy` delete the repository even when it still holds images."
  default     = true
}

variable "kms_key_arn" {
  type        = string
  description = "Customer managed KMS key for image encryption; null uses the AWS managed key (no key fee)."
  default     = null
}
