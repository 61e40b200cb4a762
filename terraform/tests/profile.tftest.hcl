# The hackathon profile (profiles/hackathon.tfvars, restated below: a Python test keeps
# the two in step) and the budget switch of the root module.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"
}

mock_provider "aws" {
  alias = "us_east_1"
}

variables {
  enable_nat_gateway   = false
  redis_node_count     = 1
  redis_engine         = "valkey"
  redis_engine_version = "8.0"
  cpu_architecture     = "ARM64"
  blue_desired_count   = 1
  green_desired_count  = 0
  budget_monthly_usd   = 70
}

run "hackathon_keeps_both_colours_behind_the_listener_without_a_nat_gateway" {
  command = plan

  assert {
    condition     = module.vpc.nat_gateway_id == null && module.vpc.nat_public_ip == null
    error_message = "The hackathon profile must have no NAT gateway."
  }

  assert {
    condition     = alltrue([for colour, name in module.alb.target_group_names : can(regex("^chatapp-dev-${colour}-[0-9a-f]{4}$", name))])
    error_message = "Both colours must keep their target groups behind the weighted listener."
  }

  assert {
    condition     = output.blue_service_name == "chatapp-dev-service-blue" && output.green_service_name == "chatapp-dev-service-green"
    error_message = "Both colours must keep their services (green at 0 tasks)."
  }

  assert {
    condition     = [for rule in values(module.security_groups.ingress_rules) : rule.source if rule.group == "tasks"] == ["alb"]
    error_message = "The tasks, now in public subnets, must admit traffic from the ALB's security group only."
  }

  assert {
    condition     = length(module.monitoring.alarm_names) == 8
    error_message = "The profile must keep all eight alarms."
  }
}

run "no_budget_without_an_alarm_email" {
  command = plan

  assert {
    condition     = length(module.budget) == 0
    error_message = "Without alarm_email there is nobody to notify: no budget."
  }
}

run "an_alarm_email_adds_the_monthly_budget" {
  command = plan

  variables {
    alarm_email = "ops@example.com"
  }

  assert {
    condition     = length(module.budget) == 1 && module.budget[0].limit_usd == 70 && module.budget[0].name == "chatapp-dev-monthly"
    error_message = "With alarm_email the stack must create the chatapp-dev-monthly budget of 70 USD."
  }
}

run "a_zero_budget_turns_it_off" {
  command = plan

  variables {
    alarm_email        = "ops@example.com"
    budget_monthly_usd = 0
  }

  assert {
    condition     = length(module.budget) == 0
    error_message = "budget_monthly_usd = 0 must turn the budget off."
  }
}
