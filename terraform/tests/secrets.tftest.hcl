# The Redis AUTH token reaches the tasks only as an ECS secret (an SSM reference):
# never in a container's environment, never in an output.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"

  mock_resource "aws_ssm_parameter" {
    defaults = { arn = "arn:aws:ssm:ap-northeast-2:123456789012:parameter/chatapp-dev/redis/auth-token" }
  }

  mock_resource "aws_elasticache_replication_group" {
    defaults = {
      primary_endpoint_address = "master.chatapp-dev-redis.example.cache.amazonaws.com"
      reader_endpoint_address  = "replica.chatapp-dev-redis.example.cache.amazonaws.com"
      port                     = 6379
    }
  }

  mock_resource "aws_ecr_repository" {
    defaults = { repository_url = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev" }
  }

  mock_resource "aws_lb" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/chatapp-dev-alb/1"
      arn_suffix = "app/chatapp-dev-alb/1"
      dns_name   = "chatapp-dev-alb-1.ap-northeast-2.elb.amazonaws.com"
    }
  }

  mock_resource "aws_lb_target_group" {
    defaults = {
      arn        = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chatapp-dev/1"
      arn_suffix = "targetgroup/chatapp-dev/1"
    }
  }

  mock_resource "aws_lb_listener" {
    defaults = { arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener/app/chatapp-dev-alb/1/1" }
  }

  mock_resource "aws_cloudfront_distribution" {
    defaults = {
      id          = "E1MOCKDISTRIBUTION"
      arn         = "arn:aws:cloudfront::123456789012:distribution/E1MOCKDISTRIBUTION"
      domain_name = "d1mock.cloudfront.net"
    }
  }

  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:ap-northeast-2:123456789012:chatapp-dev-alarms" }
  }

  mock_resource "aws_vpc" {
    defaults = { id = "vpc-0123456789abcdef0" }
  }
}

# CloudFront's WAF and its logs are created through this provider (us-east-1).
mock_provider "aws" {
  alias = "us_east_1"
}

run "the_auth_token_is_a_secret_reference_only" {
  command = plan

  assert {
    condition = alltrue([
      for definitions in values(module.ecs.container_definitions) :
      !strcontains(definitions, "MockRedisAuthTokenThatIsLongEnough")
    ])
    error_message = "The Redis AUTH token appears in a container definition."
  }

  assert {
    condition = alltrue([
      for definitions in values(module.ecs.container_definitions) :
      contains(
        [for secret in jsondecode(definitions)[0].secrets : "${secret.name}=${secret.valueFrom}"],
        "REDIS_AUTH_TOKEN=arn:aws:ssm:ap-northeast-2:123456789012:parameter/chatapp-dev/redis/auth-token",
      )
    ])
    error_message = "Each app container must get REDIS_AUTH_TOKEN as a secret from the SSM parameter."
  }

  assert {
    condition = alltrue([
      for definitions in values(module.ecs.container_definitions) :
      !contains([for variable in jsondecode(definitions)[0].environment : variable.name], "REDIS_AUTH_TOKEN")
    ])
    error_message = "REDIS_AUTH_TOKEN must not be plain environment."
  }

  # The resume-token signing key (same generator, so the same mocked value) likewise.
  assert {
    condition = alltrue([
      for definitions in values(module.ecs.container_definitions) :
      contains([for secret in jsondecode(definitions)[0].secrets : secret.name], "SESSION_SECRET")
      && !contains([for variable in jsondecode(definitions)[0].environment : variable.name], "SESSION_SECRET")
    ])
    error_message = "Each app container must get SESSION_SECRET as a secret, never as plain environment."
  }

  # Every root output. tests/test_security.py checks that this list stays complete.
  assert {
    condition = !strcontains(jsonencode([
      output.aws_region, output.project_name, output.environment, output.name_prefix,
      output.alb_dns_name, output.alb_arn, output.alb_url, output.cloudfront_domain_name,
      output.cloudfront_distribution_id, output.ecr_repository_url, output.s3_bucket_name,
      output.alb_logs_bucket_name, output.listener_arn, output.blue_target_group_arn,
      output.green_target_group_arn, output.blue_weight, output.green_weight,
      output.ecs_cluster_name, output.blue_service_name, output.green_service_name,
      output.blue_image, output.green_image, output.log_group_name, output.messages_table_name,
      output.connections_table_name, output.user_counter_table_name, output.redis_endpoint,
      output.redis_reader_endpoint, output.redis_auth_token_parameter, output.alarm_names,
      output.alarm_colours, output.alarm_topic_arn, output.dashboard_name, output.vpc_id,
      output.session_secret_parameter, output.metrics_namespace, output.blue_desired_count,
      output.green_desired_count, output.enable_stickiness, output.cpu_architecture,
      output.alb_direct_access, output.traffic_rule_arn, output.origin_secret_parameter,
    ]), "MockRedisAuthTokenThatIsLongEnough")
    error_message = "The Redis AUTH token appears in an output."
  }
}
