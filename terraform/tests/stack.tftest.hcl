# The root module with default variables: what the blue/green stack consists of.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"
}

# CloudFront's WAF and its logs are created through this provider (us-east-1).
mock_provider "aws" {
  alias = "us_east_1"
}

run "creates_blue_and_green_target_groups_and_services" {
  command = plan

  assert {
    condition     = module.alb.target_group_names == { blue = "chatapp-dev-blue", green = "chatapp-dev-green" }
    error_message = "Expected target groups chatapp-dev-blue and chatapp-dev-green."
  }

  assert {
    condition     = output.blue_service_name == "chatapp-dev-service-blue" && output.green_service_name == "chatapp-dev-service-green"
    error_message = "Expected services chatapp-dev-service-blue and chatapp-dev-service-green."
  }

  assert {
    condition     = output.ecs_cluster_name == "chatapp-dev-cluster"
    error_message = "Expected the cluster chatapp-dev-cluster."
  }
}

run "uses_two_zones_of_the_region" {
  command = plan

  assert {
    condition     = module.vpc.availability_zones == tolist(["ap-northeast-2a", "ap-northeast-2b"])
    error_message = "The stack must take the region's first two availability zones."
  }
}

run "rejects_a_vpc_cidr_whose_subnets_are_too_small_for_an_alb" {
  command = plan

  variables {
    vpc_cidr = "10.0.0.0/24"
  }

  expect_failures = [var.vpc_cidr]
}

run "only_the_alb_admits_traffic_from_the_internet" {
  command = plan

  assert {
    condition = alltrue([
      for rule in values(module.security_groups.ingress_rules) : rule.group == "alb" if rule.cidr == "0.0.0.0/0"
    ])
    error_message = "Only the ALB security group may admit 0.0.0.0/0."
  }

  assert {
    condition     = length([for rule in values(module.security_groups.ingress_rules) : rule if rule.cidr == "0.0.0.0/0"]) == 2
    error_message = "The ALB must admit HTTP and HTTPS from the internet."
  }
}
