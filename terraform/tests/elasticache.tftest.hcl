# Redis: a primary and a replica in different zones, failover, encryption, AUTH; or
# a single node (Redis OSS or Valkey) without failover.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"
}

variables {
  name_prefix        = "chatapp-dev"
  subnet_ids         = ["subnet-a", "subnet-b"]
  availability_zones = ["ap-northeast-2a", "ap-northeast-2b"]
  security_group_ids = ["sg-redis"]
}

run "primary_and_replica_in_different_zones_with_failover" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.num_cache_clusters == 2
    error_message = "The replication group must have two cache clusters: a primary and a replica."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.automatic_failover_enabled && aws_elasticache_replication_group.this.multi_az_enabled
    error_message = "Automatic failover and Multi-AZ must be on."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.preferred_cache_cluster_azs == tolist(["ap-northeast-2a", "ap-northeast-2b"])
    error_message = "The primary and the replica must be placed in the two different zones."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.node_type == "cache.t4g.micro"
    error_message = "The default node type must be cache.t4g.micro."
  }
}

run "encrypts_and_requires_an_auth_token_from_ssm" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.at_rest_encryption_enabled == "true" && aws_elasticache_replication_group.this.transit_encryption_enabled
    error_message = "Encryption at rest and in transit must be on."
  }

  assert {
    condition     = aws_ssm_parameter.auth_token.type == "SecureString"
    error_message = "The AUTH token must be stored as an SSM SecureString."
  }
}

run "a_single_valkey_node_has_no_replica_and_no_failover" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    node_count     = 1
    engine         = "valkey"
    engine_version = "8.0"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.num_cache_clusters == 1
    error_message = "node_count = 1 must create a single cache cluster."
  }

  assert {
    condition     = !aws_elasticache_replication_group.this.automatic_failover_enabled && !aws_elasticache_replication_group.this.multi_az_enabled
    error_message = "A single node cannot fail over: automatic failover and Multi-AZ must be off."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.preferred_cache_cluster_azs == tolist(["ap-northeast-2a"])
    error_message = "The single node must be placed in the first zone."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.engine == "valkey" && aws_elasticache_replication_group.this.parameter_group_name == "default.valkey8"
    error_message = "Valkey 8.0 must use the default.valkey8 parameter group."
  }

  assert {
    condition     = aws_elasticache_replication_group.this.transit_encryption_enabled && aws_elasticache_replication_group.this.at_rest_encryption_enabled == "true"
    error_message = "Valkey must keep encryption in transit and at rest."
  }
}

run "rejects_valkey_with_a_redis_version" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    engine         = "valkey"
    engine_version = "7.1"
  }

  expect_failures = [var.engine_version]
}

run "rejects_three_nodes" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    node_count = 3
  }

  expect_failures = [var.node_count]
}

run "rejects_both_nodes_in_one_zone" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    availability_zones = ["ap-northeast-2a", "ap-northeast-2a"]
  }

  expect_failures = [var.availability_zones]
}

run "redis_6_uses_the_redis6_x_parameter_group" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    engine_version = "6.2"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.parameter_group_name == "default.redis6.x"
    error_message = "Redis OSS 6.2 must use default.redis6.x (there is no default.redis6)."
  }
}

run "redis_7_uses_the_redis7_parameter_group" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.parameter_group_name == "default.redis7"
    error_message = "Redis OSS 7.1 must use default.redis7."
  }
}

run "valkey_7_2_uses_the_valkey7_parameter_group" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    engine         = "valkey"
    engine_version = "7.2"
  }

  assert {
    condition     = aws_elasticache_replication_group.this.parameter_group_name == "default.valkey7"
    error_message = "Valkey 7.2 must use default.valkey7."
  }
}

run "rejects_redis_5_billed_as_extended_support" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    engine_version = "5.0.6"
  }

  expect_failures = [var.engine_version]
}

run "rejects_a_redis_version_elasticache_does_not_offer" {
  command = plan

  module {
    source = "./modules/elasticache"
  }

  variables {
    engine_version = "7.4"
  }

  expect_failures = [var.engine_version]
}
