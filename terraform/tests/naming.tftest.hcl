# Every name derives from project_name, environment and the region: nothing is
# hard-coded to chatapp, dev or ap-northeast-2.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"

  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b"] }
  }

  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "210987654321" }
  }
}

# CloudFront's WAF and its logs are created through this provider (us-east-1).
mock_provider "aws" {
  alias = "us_east_1"
}

variables {
  project_name = "acme"
  environment  = "prod"
  aws_region   = "eu-west-1"
}

run "non_default_names_leave_no_default_in_any_name" {
  command = plan

  assert {
    condition = alltrue([
      for name in concat(
        [
          output.name_prefix,
          output.ecs_cluster_name,
          output.blue_service_name,
          output.green_service_name,
          output.messages_table_name,
          output.connections_table_name,
          output.user_counter_table_name,
          output.log_group_name,
          output.s3_bucket_name,
          output.alb_logs_bucket_name,
          output.redis_auth_token_parameter,
          output.dashboard_name,
        ],
        values(module.alb.target_group_names),
        values(output.alarm_names),
        module.vpc.availability_zones,
      ) : length(regexall("chatapp|dev|ap-northeast-2", name)) == 0
    ])
    error_message = "A resource name still contains chatapp, dev or ap-northeast-2."
  }

  assert {
    condition     = output.ecs_cluster_name == "acme-prod-cluster" && output.messages_table_name == "acme-prod-messages"
    error_message = "Names must be built from <project_name>-<environment>."
  }
}

run "rejects_an_environment_too_long_for_target_group_names" {
  command = plan

  variables {
    environment = "production"
  }

  expect_failures = [var.environment]
}
