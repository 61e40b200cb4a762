# Blue/green weights: whole numbers 0-100 that sum to 100, wired to the listener.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"
}

# CloudFront's WAF and its logs are created through this provider (us-east-1).
mock_provider "aws" {
  alias = "us_east_1"
}

run "rejects_weights_not_summing_to_100" {
  command = plan

  variables {
    blue_weight  = 60
    green_weight = 50
  }

  expect_failures = [var.blue_weight]
}

# Terraform skips a validation that reads an invalid variable: with green_weight out of
# range, blue_weight's checks (which read green_weight for the sum) do not run, and the
# user sees green_weight's error.
run "rejects_weights_outside_0_to_100" {
  command = plan

  variables {
    blue_weight  = -10
    green_weight = 110
  }

  expect_failures = [var.green_weight]
}

run "rejects_weights_summing_to_99" {
  command = plan

  variables {
    blue_weight  = 50
    green_weight = 49
  }

  expect_failures = [var.blue_weight]
}

run "rejects_fractional_weights" {
  command = plan

  variables {
    blue_weight  = 50.5
    green_weight = 49.5
  }

  expect_failures = [var.green_weight]
}

run "accepts_all_traffic_on_green" {
  command = plan

  variables {
    blue_weight  = 0
    green_weight = 100
  }

  assert {
    condition     = module.alb.weights["blue"] == 0 && module.alb.weights["green"] == 100
    error_message = "The ALB module must receive blue 0 / green 100."
  }
}

run "accepts_all_traffic_on_blue" {
  command = plan

  variables {
    blue_weight  = 100
    green_weight = 0
  }

  assert {
    condition     = module.alb.weights["blue"] == 100 && module.alb.weights["green"] == 0
    error_message = "The ALB module must receive blue 100 / green 0."
  }
}

run "accepts_a_canary_split" {
  command = plan

  variables {
    blue_weight  = 90
    green_weight = 10
  }

  assert {
    condition     = module.alb.weights["blue"] == 90 && module.alb.weights["green"] == 10 && output.blue_weight == 90 && output.green_weight == 10
    error_message = "A 90/10 split must reach the ALB module and the outputs unchanged."
  }
}
