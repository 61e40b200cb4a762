locals {
  name_prefix = "${var.project_name}-${var.environment}"
  tags = merge(var.tags, {
    Project     = var.project_name
    Environment = var.environment
    ManagedBy   = "terraform"
  })

  # Zones are named, never "whatever the region lists first": the set cannot change
  # under the stack when AWS adds a zone.
  wanted_zones = length(var.availability_zones) > 0 ? var.availability_zones : ["${var.aws_region}a", "${var.aws_region}b"]

  # The application's own CloudWatch metrics (open WebSockets per task).
  metrics_namespace = "${local.name_prefix}/chat"

  # A colour runs tasks once a version is released to it (`chatops release` records
  # <colour>_image). Until then it runs none, so a first deploy never makes ECS pull an
  # image nobody pushed; its task definition names a tag that is never pushed.
  images = {
    blue  = var.blue_image != "" ? var.blue_image : "${module.ecr.repository_url}:unreleased"
    green = var.green_image != "" ? var.green_image : "${module.ecr.repository_url}:unreleased"
  }
  desired_counts = {
    blue  = var.blue_image != "" ? var.blue_desired_count : 0
    green = var.green_image != "" ? var.green_desired_count : 0
  }
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = local.tags
  }
}

# CloudFront's WAF and its logs live in us-east-1, whatever the stack's region.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}

data "aws_availability_zones" "selected" {
  state = "available"

  filter {
    name   = "zone-name"
    values = local.wanted_zones
  }
}

module "vpc" {
  source = "./modules/vpc"

  name_prefix                = local.name_prefix
  cidr_block                 = var.vpc_cidr
  availability_zones         = data.aws_availability_zones.selected.names
  enable_nat_gateway         = var.enable_nat_gateway
  enable_interface_endpoints = var.enable_interface_endpoints
  enable_flow_logs           = var.enable_flow_logs
  flow_logs_retention_days   = var.log_retention_days
}

module "security_groups" {
  source = "./modules/security-groups"

  name_prefix             = local.name_prefix
  vpc_id                  = module.vpc.vpc_id
  container_port          = var.container_port
  alb_ingress_cidr_blocks = var.alb_ingress_cidr_blocks
  alb_cloudfront_only     = !var.alb_direct_access
  alb_origin_port         = var.certificate_arn != "" ? 443 : 80
}

module "ecr" {
  source = "./modules/ecr"

  name_prefix          = local.name_prefix
  keep_images          = var.ecr_keep_images
  image_tag_mutability = var.ecr_image_tag_mutability
}

module "dynamodb" {
  source = "./modules/dynamodb"

  name_prefix                   = local.name_prefix
  enable_point_in_time_recovery = var.enable_point_in_time_recovery
  deletion_protection           = var.dynamodb_deletion_protection
}

module "elasticache" {
  source = "./modules/elasticache"

  name_prefix             = local.name_prefix
  subnet_ids              = module.vpc.private_subnet_ids
  availability_zones      = module.vpc.availability_zones
  security_group_ids      = [module.security_groups.redis_security_group_id]
  node_count              = var.redis_node_count
  engine                  = var.redis_engine
  node_type               = var.redis_node_type
  engine_version          = var.redis_engine_version
  snapshot_retention_days = var.redis_snapshot_retention_days
}

module "iam" {
  source = "./modules/iam"

  name_prefix            = local.name_prefix
  dynamodb_table_arns    = module.dynamodb.table_arns
  ecr_repository_arn     = module.ecr.repository_arn
  log_group_arn          = module.ecs.log_group_arn
  metrics_namespace      = local.metrics_namespace
  secret_parameter_arns  = [module.elasticache.auth_token_parameter_arn, module.ecs.session_secret_parameter_arn]
  enable_xray            = var.enable_xray
  enable_execute_command = var.enable_execute_command
}

module "alb" {
  source = "./modules/alb"

  name_prefix                = local.name_prefix
  vpc_id                     = module.vpc.vpc_id
  public_subnet_ids          = module.vpc.public_subnet_ids
  security_group_ids         = [module.security_groups.alb_security_group_id]
  container_port             = var.container_port
  health_check_path          = var.health_check_path
  weights                    = { blue = var.blue_weight, green = var.green_weight }
  enable_stickiness          = var.enable_stickiness
  stickiness_duration        = var.stickiness_duration
  idle_timeout               = var.alb_idle_timeout
  deregistration_delay       = var.deregistration_delay
  certificate_arn            = var.certificate_arn
  enable_deletion_protection = var.alb_deletion_protection
  logs_retention_days        = var.alb_logs_retention_days
  enable_waf                 = var.enable_waf
  waf_log_retention_days     = var.log_retention_days
  edge_only                  = !var.alb_direct_access
  origin_secret_generation   = var.origin_secret_generation
}

module "ecs" {
  source = "./modules/ecs"

  name_prefix            = local.name_prefix
  private_subnet_ids     = module.vpc.private_subnet_ids
  public_subnet_ids      = module.vpc.public_subnet_ids
  assign_public_ip       = !var.enable_nat_gateway
  security_group_ids     = [module.security_groups.tasks_security_group_id]
  target_group_arns      = module.alb.target_group_arns
  images                 = local.images
  desired_counts         = local.desired_counts
  container_port         = var.container_port
  cpu                    = var.task_cpu
  memory                 = var.task_memory
  cpu_architecture       = var.cpu_architecture
  capacity_provider      = var.capacity_provider
  execution_role_arn     = module.iam.execution_role_arn
  task_role_arn          = module.iam.task_role_arn
  log_retention_days     = var.log_retention_days
  enable_xray            = var.enable_xray
  enable_execute_command = var.enable_execute_command
  metrics_namespace      = local.metrics_namespace

  # Half the deregistration delay: every client has moved well before the ALB cuts.
  drain_seconds = max(1, min(110, floor(var.deregistration_delay / 2)))

  environment = {
    AWS_REGION         = var.aws_region
    MESSAGES_TABLE     = module.dynamodb.table_names["messages"]
    CONNECTIONS_TABLE  = module.dynamodb.table_names["connections"]
    USER_COUNTER_TABLE = module.dynamodb.table_names["user-counter"]
    REDIS_HOST         = module.elasticache.primary_endpoint
    REDIS_READER_HOST  = module.elasticache.reader_endpoint
    REDIS_PORT         = tostring(module.elasticache.port)
    REDIS_TLS          = "true"
  }

  secrets = {
    REDIS_AUTH_TOKEN = module.elasticache.auth_token_parameter_arn
  }
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix               = local.name_prefix
  alb_arn_suffix            = module.alb.alb_arn_suffix
  target_group_arn_suffixes = module.alb.target_group_arn_suffixes
  ecs_cluster_name          = module.ecs.cluster_name
  ecs_service_names         = module.ecs.service_names
  alarm_email               = var.alarm_email
}

module "budget" {
  source = "./modules/budget"

  count = var.alarm_email != "" && var.budget_monthly_usd > 0 ? 1 : 0

  name_prefix = local.name_prefix
  limit_usd   = var.budget_monthly_usd
  emails      = [var.alarm_email]
}

module "cloudfront" {
  source = "./modules/cloudfront"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name_prefix         = local.name_prefix
  bucket_name         = var.s3_bucket_name
  price_class         = var.cloudfront_price_class
  enable_alb_origin   = var.cloudfront_alb_origin
  alb_domain_name     = var.cloudfront_alb_origin_domain != "" ? var.cloudfront_alb_origin_domain : module.alb.dns_name
  alb_origin_protocol = var.certificate_arn != "" ? "https-only" : "http-only"
  origin_secret       = module.alb.origin_secret
  wait_for_deployment = var.cloudfront_wait_for_deployment
  kms_encryption      = var.cloudfront_kms_encryption
  access_logs_bucket  = module.alb.logs_bucket_name
  aliases             = var.cloudfront_aliases
  certificate_arn     = var.cloudfront_certificate_arn
  enable_waf          = var.enable_waf
  waf_rate_limit      = var.waf_rate_limit
  waf_log_retention   = var.log_retention_days
}
