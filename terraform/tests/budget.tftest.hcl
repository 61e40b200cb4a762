# The monthly budget: e-mails at 80% of the limit spent and at 100% forecast.

mock_provider "aws" {
  override_during = plan
}

variables {
  name_prefix = "chatapp-dev"
  limit_usd   = 70
  emails      = ["ops@example.com"]
}

run "notifies_at_80_percent_actual_and_100_percent_forecast" {
  command = plan

  module {
    source = "./modules/budget"
  }

  assert {
    condition     = aws_budgets_budget.this.budget_type == "COST" && aws_budgets_budget.this.time_unit == "MONTHLY"
    error_message = "The budget must be a monthly cost budget."
  }

  assert {
    condition     = aws_budgets_budget.this.limit_amount == "70.00" && aws_budgets_budget.this.limit_unit == "USD"
    error_message = "The limit must be 70.00 USD."
  }

  assert {
    condition = toset([
      for n in aws_budgets_budget.this.notification : "${n.notification_type}:${n.threshold}:${n.threshold_type}:${n.comparison_operator}"
      ]) == toset([
      "ACTUAL:80:PERCENTAGE:GREATER_THAN",
      "FORECASTED:100:PERCENTAGE:GREATER_THAN",
    ])
    error_message = "The budget must notify at 80% actual and 100% forecast."
  }

  assert {
    condition     = alltrue([for n in aws_budgets_budget.this.notification : toset(n.subscriber_email_addresses) == toset(["ops@example.com"])])
    error_message = "Every notification must go to the alarm e-mail."
  }
}

run "rejects_a_zero_limit" {
  command = plan

  module {
    source = "./modules/budget"
  }

  variables {
    limit_usd = 0
  }

  expect_failures = [var.limit_usd]
}
