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
    condition     = alltrue([for colour, name in module.alb.target_group_names : can(regex("^chatapp-dev-${colour}-[0-9a-f]{4}$", name))])
    error_message = "Expected target groups chatapp-dev-<colour>-<hash of the settings that replace them>."
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

run "by_default_only_cloudfront_reaches_the_alb" {
  command = plan

  assert {
    condition     = [for rule in values(module.security_groups.ingress_rules) : rule if rule.cidr != null] == []
    error_message = "Edge-only (the default), no security group rule may admit an address range."
  }

  assert {
    condition     = [for rule in values(module.security_groups.ingress_rules) : [rule.port, rule.prefix_list] if rule.group == "alb"] == [[80, "pl-82a045eb"]]
    error_message = "The ALB must admit CloudFront's origin-facing prefix list on port 80 alone (the list weighs 55 of the 60 rules a group may hold)."
  }

  assert {
    condition     = output.origin_secret_parameter == "/chatapp-dev/edge/origin-secret-1" && !output.alb_direct_access
    error_message = "Edge-only, the origin secret lives in SSM like the Redis token."
  }
}

run "direct_access_lets_the_internet_reach_the_alb_alone" {
  command = plan

  variables {
    alb_direct_access = true
  }

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

run "rejects_a_certificate_without_the_origin_domain_it_covers" {
  command = plan

  variables {
    certificate_arn = "arn:aws:acm:ap-northeast-2:123456789012:certificate/abc"
  }

  expect_failures = [var.certificate_arn]
}

# The plan succeeds: the validation accepts a certificate with the name it covers.
run "a_certificate_with_its_origin_domain_is_accepted" {
  command = plan

  variables {
    certificate_arn              = "arn:aws:acm:ap-northeast-2:123456789012:certificate/abc"
    cloudfront_alb_origin_domain = "origin.chat.example.com"
  }

  assert {
    condition     = [for rule in values(module.security_groups.ingress_rules) : rule.port if rule.group == "alb"] == [443]
    error_message = "With a certificate CloudFront reaches the ALB on 443 alone."
  }
}

run "rejects_edge_only_without_the_edge_route" {
  command = plan

  variables {
    cloudfront_alb_origin = false
  }

  expect_failures = [var.alb_direct_access]
}
