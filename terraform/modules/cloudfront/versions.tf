terraform {
  required_version = ">= 1.9.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.100"
      # CloudFront's WAF web ACL and its log group must be created in us-east-1.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
