# The AUTH token is generated once, kept in SSM (SecureString, free tier) and
# handed to the tasks as a secret. The generator is re-read on every plan; the
# parameter ignores new values, so the token changes only when the parameter is replaced.
data "aws_secretsmanager_random_password" "auth_token" {
  password_length     = 64
  exclude_punctuation = true
}

locals {
  # A replica to fail over to exists only with two nodes.
  failover = var.node_count > 1

  # The default parameter group's family: Redis OSS 6 is "redis6.x", not "redis6".
  major = split(".", var.engine_version)[0]
  parameter_group_family = (
    var.engine == "valkey" ? "valkey${local.major}" :
    local.major == "6" ? "redis6.x" : "redis${local.major}"
  )
}

resource "aws_ssm_parameter" "auth_token" {
  name        = "/${var.name_prefix}/redis/auth-token"
  description = "AUTH token of the ${var.name_prefix} Redis replication group"
  type        = "SecureString"
  key_id      = var.auth_token_kms_key_id
  value       = data.aws_secretsmanager_random_password.auth_token.random_password

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_elasticache_subnet_group" "this" {
  name        = "${var.name_prefix}-redis"
  description = "Private subnets of the ${var.name_prefix} Redis replication group"
  subnet_ids  = var.subnet_ids
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id = "${var.name_prefix}-redis"
  description          = "Pub/sub and presence for the ${var.name_prefix} chat service"

  engine               = var.engine
  engine_version       = var.engine_version
  node_type            = var.node_type
  port                 = var.port
  parameter_group_name = "default.${local.parameter_group_family}"

  # Primary + one replica in another zone; failover promotes the replica. With one node
  # there is no replica and no failover: Redis is down until ElastiCache replaces it.
  num_cache_clusters          = var.node_count
  preferred_cache_cluster_azs = slice(var.availability_zones, 0, var.node_count)
  automatic_failover_enabled  = local.failover
  multi_az_enabled            = local.failover

  subnet_group_name  = aws_elasticache_subnet_group.this.name
  security_group_ids = var.security_group_ids

  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  auth_token                 = aws_ssm_parameter.auth_token.value

  snapshot_retention_limit   = var.snapshot_retention_days
  apply_immediately          = var.apply_immediately
  auto_minor_version_upgrade = true

  tags = { Name = "${var.name_prefix}-redis" }
}
