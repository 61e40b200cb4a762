# Redis: a primary and a replica in different zones, failover, encryption, AUTH.

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
