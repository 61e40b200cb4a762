variable "name_prefix" {
  type        = string
  description = "Prefix for every resource name, e.g. \"chatapp-dev\"."
}

variable "private_subnet_ids" {
  type        = list(string)
  description = "Private subnets the tasks run in (no public IPs), unless assign_public_ip."
}

variable "assign_public_ip" {
  type        = bool
  description = "Run the tasks in public_subnet_ids with a public IP each, for a VPC without a NAT gateway. Each address costs $0.005/h (~$3.65/month per task); the security groups still decide who may connect."
  default     = false

  validation {
    condition     = !var.assign_public_ip || length(var.public_subnet_ids) > 0
    error_message = "assign_public_ip needs public_subnet_ids: the subnets with a route to the internet gateway."
  }
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets the tasks run in when assign_public_ip is true."
  default     = []
}

variable "security_group_ids" {
  type        = list(string)
  description = "Security groups of the tasks."
}

variable "target_group_arns" {
  type        = map(string)
  description = "Target group of each colour's service, keyed blue and green."

  validation {
    condition     = toset(keys(var.target_group_arns)) == toset(["blue", "green"])
    error_message = "target_group_arns must have exactly the keys blue and green."
  }
}

variable "images" {
  type        = map(string)
  description = "Container image of each colour, keyed blue and green: the two versions being switched between."

  validation {
    condition     = toset(keys(var.images)) == toset(["blue", "green"]) && alltrue([for image in values(var.images) : image != ""])
    error_message = "images must give a non-empty image for both blue and green."
  }
}

variable "desired_counts" {
  type        = map(number)
  description = "Number of tasks of each colour, keyed blue and green. Each 0.25 vCPU / 0.5 GB task costs ~$10/month on FARGATE in Seoul."

  validation {
    condition     = toset(keys(var.desired_counts)) == toset(["blue", "green"]) && alltrue([for count in values(var.desired_counts) : count >= 0 && count <= 10 && floor(count) == count])
    error_message = "desired_counts must give blue and green a whole number of tasks from 0 to 10."
  }
}

variable "container_port" {
  type        = number
  description = "Port the application listens on."
}

variable "cpu" {
  type        = number
  description = "Task CPU units (256 = 0.25 vCPU): 256, 512, 1024, 2048, 4096, 8192 or 16384."
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "cpu must be a Fargate size: 256, 512, 1024, 2048, 4096, 8192 or 16384."
  }
}

variable "memory" {
  type        = number
  description = "Task memory in MiB; Fargate accepts only some pairs with cpu (see the validation)."
  default     = 512

  # Fargate's task sizes (Linux): anything else fails RegisterTaskDefinition with
  # "No Fargate configuration exists for given values".
  validation {
    condition = (
      var.cpu == 256 ? contains([512, 1024, 2048], var.memory) :
      var.cpu == 512 ? var.memory >= 1024 && var.memory <= 4096 && var.memory % 1024 == 0 :
      var.cpu == 1024 ? var.memory >= 2048 && var.memory <= 8192 && var.memory % 1024 == 0 :
      var.cpu == 2048 ? var.memory >= 4096 && var.memory <= 16384 && var.memory % 1024 == 0 :
      var.cpu == 4096 ? var.memory >= 8192 && var.memory <= 30720 && var.memory % 1024 == 0 :
      var.cpu == 8192 ? var.memory >= 16384 && var.memory <= 61440 && var.memory % 4096 == 0 :
      var.memory >= 32768 && var.memory <= 122880 && var.memory % 8192 == 0
    )
    error_message = "memory does not fit cpu on Fargate: 256 takes 512, 1024 or 2048; 512 takes 1024-4096 and 1024 takes 2048-8192 (steps of 1024); 2048 takes 4096-16384 and 4096 takes 8192-30720 (steps of 1024); 8192 takes 16384-61440 (steps of 4096); 16384 takes 32768-122880 (steps of 8192)."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "X86_64, or ARM64 (Graviton: ~20% cheaper, needs arm64 images)."
  default     = "X86_64"

  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "capacity_provider" {
  type        = string
  description = "FARGATE, or FARGATE_SPOT (~70% cheaper; tasks can be reclaimed with a two-minute warning)."
  default     = "FARGATE"

  validation {
    condition     = contains(["FARGATE", "FARGATE_SPOT"], var.capacity_provider)
    error_message = "capacity_provider must be FARGATE or FARGATE_SPOT."
  }
}

variable "execution_role_arn" {
  type        = string
  description = "Role ECS uses to pull images, write logs and read secrets."
}

variable "task_role_arn" {
  type        = string
  description = "Role the application runs as."
}

variable "environment" {
  type        = map(string)
  description = "Plain environment variables of the application container (never secrets)."
  default     = {}
}

variable "secrets" {
  type        = map(string)
  description = "Secrets of the application container: variable name to the ARN of an SSM parameter or Secrets Manager secret."
  default     = {}
}

variable "container_user" {
  type        = string
  description = "User (uid or uid:gid) the application runs as. Must not be root."
  default     = "1000:1000"

  validation {
    condition     = !contains(["", "root", "0"], split(":", var.container_user)[0])
    error_message = "container_user must name a non-root user, e.g. 1000:1000."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the container log group, in days. Storage is $0.0314/GB-month in Seoul."
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "log_kms_key_arn" {
  type        = string
  description = "KMS key ARN that encrypts the log group; null uses CloudWatch Logs' own encryption."
  default     = null
}

variable "enable_xray" {
  type        = bool
  description = "Run the AWS X-Ray daemon as a sidecar in every task (takes 32 CPU units and 64 MiB of the task; traces cost $5 per million recorded)."
  default     = false
}

variable "xray_daemon_image" {
  type        = string
  description = "Image of the X-Ray daemon sidecar."
  default     = "public.ecr.aws/xray/aws-xray-daemon:3.x"
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow ECS Exec (shell into running containers) on the services. Its SSM agent needs a writable root filesystem, so the app container's root filesystem is read-only only while this is false."
  default     = false
}

variable "health_check_grace_period" {
  type        = number
  description = "Seconds ECS ignores failing load balancer health checks of a new task."
  default     = 60
}

variable "drain_seconds" {
  type        = number
  description = "Seconds over which a draining task closes its WebSockets (close 1012, reconnect elsewhere). Must end before the ALB's deregistration delay cuts them."
  default     = 60

  validation {
    condition     = var.drain_seconds >= 1 && var.drain_seconds <= 110 && floor(var.drain_seconds) == var.drain_seconds
    error_message = "drain_seconds must be a whole number of seconds from 1 to 110 (Fargate stops a container at most 120 s after SIGTERM)."
  }
}

variable "metrics_namespace" {
  type        = string
  description = "CloudWatch namespace the application reports its open WebSocket count in (one custom metric per task, $0.30/metric-month prorated by the hour)."
}

variable "secret_kms_key_id" {
  type        = string
  description = "KMS key of the session secret parameter. The AWS managed aws/ssm key is free; a customer managed key costs $1/month and must let the task execution role decrypt."
  default     = "alias/aws/ssm"
}
