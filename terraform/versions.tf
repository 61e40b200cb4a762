terraform {
  # 1.9 for validations that compare two variables (blue_weight + green_weight).
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}
