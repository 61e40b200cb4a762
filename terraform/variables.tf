# --- Identity and placement ---------------------------------------------------

variable "aws_region" {
  type        = string
  description = "AWS region to deploy to."
  default     = "ap-northeast-2"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$", var.aws_region))
    error_message = "aws_region must be a region code such as ap-northeast-2 or us-east-1."
  }
}

variable "project_name" {
  type        = string
  description = "Project name: the first half of every resource name (<project_name>-<environment>-...)."
  default     = "chatapp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.project_name)) && length(var.project_name) >= 2 && length(var.project_name) <= 16
    error_message = "project_name must be 2-16 characters of lowercase letters, digits and single hyphens, starting with a letter (it goes into S3, ALB and ElastiCache names)."
  }
}

variable "environment" {
  type        = string
  description = "Environment name: the second half of every resource name, e.g. dev, staging, prod."
  default     = "dev"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.environment))
    error_message = "environment must be 2-8 lowercase letters and digits, starting with a letter (target group names allow 32 characters in all)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags for every resource (Project, Environment and ManagedBy are always set)."
  default     = {}
}

# --- Network ------------------------------------------------------------------

variable "vpc_cidr" {
  type        = string
  description = "IPv4 CIDR of the VPC, /16 to /23; each of the four subnets takes 1/16 of it (a /23 gives /27 subnets, the smallest an ALB accepts)."
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 23
    error_message = "vpc_cidr must be an IPv4 CIDR with a prefix from /16 to /23, such as 10.0.0.0/16: each subnet takes 1/16 of it, and the ALB needs subnets of at least /27 (a /24 gives /28 subnets, which AWS refuses with InvalidSubnet)."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "The two availability zones to use; empty picks the region's first two."
  default     = []

  validation {
    condition     = length(var.availability_zones) == 0 || length(var.availability_zones) == 2
    error_message = "availability_zones must be empty (automatic) or name exactly two zones."
  }
}

variable "enable_nat_gateway" {
  type        = bool
  description = "One NAT gateway for the tasks' outbound traffic (image pulls, AWS APIs): $0.059/h (~$43/month) + $0.059/GB processed + its Elastic IP ($0.005/h, ~$3.65/month) in Seoul. false: no NAT gateway; the tasks run in the public subnets with a public IP each ($0.005/h, ~$3.65/month per task), still reachable only from the ALB's security group."
  default     = true
}

variable "enable_interface_endpoints" {
  type        = bool
  description = "Interface VPC endpoints for ECR, CloudWatch Logs and SSM (traffic skips the NAT). Costs ~$76/month for the four endpoints in two AZs."
  default     = false
}

variable "enable_flow_logs" {
  type        = bool
  description = "VPC flow logs to CloudWatch Logs. Costs $0.76/GB ingested; a quiet demo stack writes well under 1 GB a month."
  default     = false
}

# --- Load balancer and traffic ------------------------------------------------

variable "blue_weight" {
  type        = number
  description = "Percentage of new connections sent to blue. Whole number 0-100; blue_weight + green_weight = 100."
  default     = 100

  validation {
    condition     = var.blue_weight >= 0 && var.blue_weight <= 100 && floor(var.blue_weight) == var.blue_weight
    error_message = "blue_weight must be a whole number from 0 to 100."
  }

  validation {
    condition     = var.blue_weight + var.green_weight == 100
    error_message = "blue_weight and green_weight must sum to 100 (e.g. 90 and 10); set both, or use `chatops shift BLUE GREEN`."
  }
}

variable "green_weight" {
  type        = number
  description = "Percentage of new connections sent to green. Whole number 0-100; blue_weight + green_weight = 100."
  default     = 0

  validation {
    condition     = var.green_weight >= 0 && var.green_weight <= 100 && floor(var.green_weight) == var.green_weight
    error_message = "green_weight must be a whole number from 0 to 100."
  }
}

variable "enable_stickiness" {
  type        = bool
  description = "Target group stickiness on the listener: a client's reconnects stay on the colour it first reached. `chatops rollback` and `chatops retire` turn it off (and record that) so pinned clients can move."
  default     = true
}

variable "stickiness_duration" {
  type        = number
  description = "Seconds a client's reconnects stay on the colour it first reached."
  default     = 3600
}

variable "alb_idle_timeout" {
  type        = number
  description = "Seconds a connection (WebSockets included) may be silent before the ALB closes it; keep it above the app's ping interval."
  default     = 300
}

variable "deregistration_delay" {
  type        = number
  description = "Seconds a stopping task keeps its open WebSockets before the ALB cuts them."
  default     = 120
}

variable "health_check_path" {
  type        = string
  description = "HTTP path the ALB probes on every task."
  default     = "/health"
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate (same region) for an HTTPS listener with HTTP redirect; empty serves plain HTTP. Needs cloudfront_alb_origin_domain: CloudFront then reaches the ALB over HTTPS by that name, which the certificate must cover (no certificate covers the ALB's *.elb.amazonaws.com name)."
  default     = ""

  validation {
    condition     = var.certificate_arn == "" || !var.cloudfront_alb_origin || var.cloudfront_alb_origin_domain != ""
    error_message = "certificate_arn needs cloudfront_alb_origin_domain: the DNS name (pointing at the ALB) that the certificate covers. CloudFront cannot reach the ALB over HTTPS by its *.elb.amazonaws.com name."
  }
}

variable "alb_direct_access" {
  type        = bool
  description = "Let anyone reach the ALB directly (alb_ingress_cidr_blocks on 80/443, no origin secret), as the seed stack did. false (edge-only): only CloudFront's origin-facing addresses reach it, and only requests carrying the origin secret are forwarded, so the edge's WAF and cache cannot be bypassed. Free either way."
  default     = false

  validation {
    condition     = var.alb_direct_access || var.cloudfront_alb_origin
    error_message = "Edge-only mode (alb_direct_access = false) needs cloudfront_alb_origin = true: otherwise nothing can reach the chat. Set alb_direct_access = true to serve it from the ALB alone."
  }
}

variable "origin_secret_generation" {
  type        = number
  description = "Generation of the origin secret CloudFront sends the ALB in edge-only mode (stored in SSM Parameter Store, like the Redis token). Raise it by one to rotate: the previous value stays accepted until the next rotation, so nothing is refused during the change."
  default     = 1

  validation {
    condition     = var.origin_secret_generation >= 1 && floor(var.origin_secret_generation) == var.origin_secret_generation
    error_message = "origin_secret_generation must be a whole number of at least 1; raise it by one to rotate the origin secret."
  }
}

variable "alb_ingress_cidr_blocks" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to reach the ALB when alb_direct_access is true (edge-only: CloudFront's origin-facing prefix list instead)."
  default     = ["0.0.0.0/0"]
}

variable "alb_deletion_protection" {
  type        = bool
  description = "Refuse to delete the ALB until turned off. Free; `chatops destroy` turns it off itself before destroying."
  default     = true
}

variable "enable_waf" {
  type        = bool
  description = "AWS WAF on CloudFront (per-IP rate limit, anonymous IPs, AWS managed common and known-bad-input rules incl. Log4j) and on the ALB (the managed rules without the rate limit: behind CloudFront the ALB sees the edge's addresses, not the viewers'), with logs. Costs about $17/month for the two web ACLs ($5 each plus $1 per rule) plus $0.60 per million requests and log ingestion."
  default     = false
}

variable "waf_rate_limit" {
  type        = number
  description = "Requests one IP may make in 5 minutes before WAF blocks it (when enable_waf)."
  default     = 2000

  validation {
    condition     = var.waf_rate_limit >= 100 && var.waf_rate_limit <= 2000000000
    error_message = "waf_rate_limit must be from 100 to 2000000000 requests per 5 minutes."
  }
}

variable "alb_logs_retention_days" {
  type        = number
  description = "Days ALB access logs are kept in S3 ($0.025/GB-month)."
  default     = 30
}

# --- Application (ECS) --------------------------------------------------------

variable "container_port" {
  type        = number
  description = "Port the chat application listens on."
  default     = 8080

  validation {
    condition     = var.container_port >= 1024 && var.container_port <= 65535
    error_message = "container_port must be from 1024 to 65535 (the container runs as a non-root user)."
  }
}

variable "blue_image" {
  type        = string
  description = "Image blue runs, one build: <ecr repository>:<version>, as `chatops release` records it. Empty: nothing released to blue yet, so it runs no task whatever blue_desired_count says (a first deploy pulls no image nobody pushed)."
  default     = ""

  validation {
    condition     = var.blue_image == "" || can(regex("@sha256:[0-9a-f]{64}$", var.blue_image)) || (can(regex(":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", element(split("/", var.blue_image), length(split("/", var.blue_image)) - 1))) && !endswith(var.blue_image, ":latest"))
    error_message = "blue_image must name one build: a tag other than latest (<repository>:0.2.0) or a digest (<repository>@sha256:...), so new tasks run what the old ones ran; `chatops release` derives the tag from the commit."
  }
}

variable "green_image" {
  type        = string
  description = "Image green runs, one build: <ecr repository>:<version>, as `chatops release` records it. Empty: nothing released to green yet, so it runs no task whatever green_desired_count says (a first deploy pulls no image nobody pushed)."
  default     = ""

  validation {
    condition     = var.green_image == "" || can(regex("@sha256:[0-9a-f]{64}$", var.green_image)) || (can(regex(":[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", element(split("/", var.green_image), length(split("/", var.green_image)) - 1))) && !endswith(var.green_image, ":latest"))
    error_message = "green_image must name one build: a tag other than latest (<repository>:0.2.0) or a digest (<repository>@sha256:...), so new tasks run what the old ones ran; `chatops release` derives the tag from the commit."
  }
}

variable "blue_desired_count" {
  type        = number
  description = "Tasks of blue once a version is released to it (blue_image; none before). Each 0.25 vCPU / 0.5 GB task costs ~$10/month on FARGATE in Seoul."
  default     = 1

  validation {
    condition     = var.blue_desired_count >= 0 && var.blue_desired_count <= 10 && floor(var.blue_desired_count) == var.blue_desired_count
    error_message = "blue_desired_count must be a whole number from 0 to 10."
  }
}

variable "green_desired_count" {
  type        = number
  description = "Tasks of green once a version is released to it (green_image; none before). Each 0.25 vCPU / 0.5 GB task costs ~$10/month on FARGATE in Seoul."
  default     = 1

  validation {
    condition     = var.green_desired_count >= 0 && var.green_desired_count <= 10 && floor(var.green_desired_count) == var.green_desired_count
    error_message = "green_desired_count must be a whole number from 0 to 10."
  }
}

variable "task_cpu" {
  type        = number
  description = "CPU units per task: 256 (0.25 vCPU, ~$8.5/month in Seoul), 512, 1024, 2048 or 4096. Cost scales linearly."
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be 256, 512, 1024, 2048 or 4096."
  }
}

variable "task_memory" {
  type        = number
  description = "Memory per task in MiB; must be a Fargate combination with task_cpu (256 CPU: 512-2048). ~$1.9/month per 0.5 GB in Seoul."
  default     = 512

  validation {
    condition = (
      var.task_cpu == 256 ? contains([512, 1024, 2048], var.task_memory) :
      var.task_cpu == 512 ? var.task_memory >= 1024 && var.task_memory <= 4096 && var.task_memory % 1024 == 0 :
      var.task_cpu == 1024 ? var.task_memory >= 2048 && var.task_memory <= 8192 && var.task_memory % 1024 == 0 :
      var.task_cpu == 2048 ? var.task_memory >= 4096 && var.task_memory <= 16384 && var.task_memory % 1024 == 0 :
      var.task_memory >= 8192 && var.task_memory <= 30720 && var.task_memory % 1024 == 0
    )
    error_message = "task_memory does not fit task_cpu on Fargate: 256 takes 512, 1024 or 2048; 512 takes 1024-4096; 1024 takes 2048-8192; 2048 takes 4096-16384; 4096 takes 8192-30720 (multiples of 1024 above 512)."
  }
}

variable "cpu_architecture" {
  type        = string
  description = "X86_64, or ARM64 (Graviton, ~20% cheaper; the images must be built for arm64)."
  default     = "X86_64"
}

variable "capacity_provider" {
  type        = string
  description = "FARGATE, or FARGATE_SPOT (~70% cheaper; AWS may reclaim tasks with two minutes' notice: not for a live demo)."
  default     = "FARGATE"
}

variable "enable_xray" {
  type        = bool
  description = "X-Ray daemon sidecar in every task and X-Ray write access ($5 per million traces recorded; the first 100k a month are free)."
  default     = false
}

variable "enable_execute_command" {
  type        = bool
  description = "Allow ECS Exec into running containers (free; off to keep shells out of production tasks)."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the stack's CloudWatch log groups ($0.0314/GB-month stored in Seoul)."
  default     = 14
}

# --- Data stores --------------------------------------------------------------

variable "redis_node_count" {
  type        = number
  description = "Redis nodes. 2: a primary and a replica in another zone with automatic failover. 1: a single node, NO replica and NO failover: if it or its zone fails, Redis is down until ElastiCache replaces it (messages are still stored and acknowledged; fan-out between tasks, presence and typing stop meanwhile). Each cache.t4g.micro node is ~$17.52/month in Seoul (Redis OSS)."
  default     = 2

  validation {
    condition     = contains([1, 2], var.redis_node_count)
    error_message = "redis_node_count must be 1 (single node, no failover) or 2 (primary and replica with failover)."
  }
}

variable "redis_engine" {
  type        = string
  description = "redis (Redis OSS) or valkey (Redis-compatible; ElastiCache node hours ~20% cheaper, e.g. cache.t4g.micro ~$14.02/month in Seoul instead of ~$17.52). valkey needs redis_engine_version 7.2 or newer, e.g. 8.0."
  default     = "redis"

  validation {
    condition     = contains(["redis", "valkey"], var.redis_engine)
    error_message = "redis_engine must be redis or valkey."
  }
}

variable "redis_node_type" {
  type        = string
  description = "ElastiCache node type of every Redis node. cache.t4g.micro is ~$17.52/month per node in Seoul with Redis OSS (~$35 for the default pair); each size up roughly doubles it."
  default     = "cache.t4g.micro"

  validation {
    condition     = can(regex("^cache\\.(t4g|t3|m[5-7]g?|r[5-7]g?)\\.[a-z0-9]+$", var.redis_node_type))
    error_message = "redis_node_type must be an ElastiCache node type such as cache.t4g.micro (t4g, t3, m5-m7g or r5-r7g families)."
  }
}

variable "redis_engine_version" {
  type        = string
  description = "Engine version: Redis OSS 6.0, 6.2, 6.x, 7.0 or 7.1; Valkey 7.2 or 8.x (e.g. 8.0). Redis OSS 4 and 5 are refused (ElastiCache bills them extended support)."
  default     = "7.1"
}

variable "redis_snapshot_retention_days" {
  type        = number
  description = "Days of daily Redis snapshots; one per cluster is free, more cost $0.085/GB-month."
  default     = 1
}

variable "enable_point_in_time_recovery" {
  type        = bool
  description = "DynamoDB point-in-time recovery (~$0.228/GB-month of table data: cents for a chat demo)."
  default     = true
}

variable "dynamodb_deletion_protection" {
  type        = bool
  description = "Refuse to delete the DynamoDB tables until turned off (free; off so demo stacks can be destroyed)."
  default     = false
}

variable "ecr_keep_images" {
  type        = number
  description = "Most recent images the ECR lifecycle policy keeps ($0.10/GB-month stored)."
  default     = 10
}

variable "ecr_image_tag_mutability" {
  type        = string
  description = "IMMUTABLE (push a new tag per release) or MUTABLE."
  default     = "IMMUTABLE"
}

# --- Monitoring ---------------------------------------------------------------

variable "alarm_email" {
  type        = string
  description = "E-mail address notified of alarms (confirm the subscription mail); empty for none."
  default     = ""
}

variable "budget_monthly_usd" {
  type        = number
  description = "Monthly AWS Budgets limit in US dollars for the whole account, created when alarm_email is set: e-mails at 80% of it actually spent and at 100% forecast. Free (an account's first two budgets cost nothing); 0 turns it off. `chatops cost` shows it beside the estimate."
  default     = 150

  validation {
    condition     = var.budget_monthly_usd >= 0
    error_message = "budget_monthly_usd must be 0 (no budget) or a positive number of US dollars, e.g. 70."
  }
}

# --- Static site (CloudFront) -------------------------------------------------

variable "s3_bucket_name" {
  type        = string
  description = "Bucket for the static site; empty derives <project>-<environment>-static-<account id>."
  default     = ""
}

variable "cloudfront_price_class" {
  type        = string
  description = "CloudFront edge locations: PriceClass_100 (NA/EU, cheapest), PriceClass_200 (adds Asia incl. Korea), PriceClass_All."
  default     = "PriceClass_200"
}

variable "cloudfront_alb_origin" {
  type        = bool
  description = "Route /ws* and /api* through CloudFront to the ALB, so the page and its WebSocket share one HTTPS origin."
  default     = true
}

variable "cloudfront_alb_origin_domain" {
  type        = string
  description = "Domain CloudFront uses to reach the ALB; empty uses the ALB's DNS name. Required with certificate_arn: a DNS name pointing at the ALB that the certificate covers."
  default     = ""
}

variable "cloudfront_kms_encryption" {
  type        = bool
  description = "Encrypt the static site bucket with a customer managed KMS key CloudFront may use ($1/month for the key; S3 bucket keys keep request costs to cents). false: SSE-S3."
  default     = true
}

variable "cloudfront_aliases" {
  type        = list(string)
  description = "Custom domain names for the distribution (needs cloudfront_certificate_arn). Empty: the *.cloudfront.net name."
  default     = []
}

variable "cloudfront_certificate_arn" {
  type        = string
  description = "ACM certificate in us-east-1 covering cloudfront_aliases; viewers then get TLS 1.2+ only. null: the default *.cloudfront.net certificate."
  default     = null
}

variable "cloudfront_wait_for_deployment" {
  type        = bool
  description = "Make apply wait (5-15 minutes) until CloudFront has deployed to every edge location."
  default     = false
}
