variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC, /16 to /23. Each of the four subnets takes 1/16 of it, so a /23 gives /27 subnets: the smallest an ALB accepts."

  validation {
    condition     = can(cidrnetmask(var.cidr_block)) && tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 23
    error_message = "cidr_block must be an IPv4 CIDR from /16 to /23, such as 10.0.0.0/16: each subnet takes 1/16 of it, and an ALB needs subnets of at least /27 with 8 free addresses (a /24 gives /28 subnets)."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Exactly two availability zones; the NAT gateway lives in the first."

  validation {
    condition     = length(var.availability_zones) == 2
    error_message = "availability_zones must hold exactly two zones (one public and one private subnet in each)."
  }
}

variable "enable_nat_gateway" {
  type        = bool
  description = "One NAT gateway (in the first zone) for the private subnets' outbound traffic. Costs $0.059/h (~$43/month) plus $0.059/GB processed and its Elastic IP ($0.005/h, ~$3.65/month) in Seoul. false: no NAT and no outbound route from the private subnets; put the tasks in the public subnets with public IPs instead."
  default     = true
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Create interface endpoints (ECR, CloudWatch Logs, SSM) so task traffic to them skips the NAT gateway. Costs about $0.013/h per endpoint per AZ: ~$76/month for the four default endpoints in two AZs, plus $0.01/GB."
  default     = false
}

variable "interface_endpoint_services" {
  type        = list(string)
  description = "Service names (without the com.amazonaws.<region>. prefix) that get an interface endpoint when enable_interface_endpoints is true."
  default     = ["ecr.api", "ecr.dkr", "logs", "ssm"]
}

variable "enable_flow_logs" {
  type        = bool
  description = "Send VPC flow logs (all traffic) to CloudWatch Logs. Costs $0.76/GB ingested in Seoul; a quiet demo stack writes well under 1 GB a month."
  default     = false
}

variable "flow_logs_retention_days" {
  type        = number
  description = "Retention of the flow log group, in days."
  default     = 14
}

variable "flow_logs_kms_key_arn" {
  type        = string
  description = "KMS key ARN that encrypts the flow log group; null uses CloudWatch Logs' own encryption."
  default     = null
}
