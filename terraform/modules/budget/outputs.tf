output "name" {
  description = "Name of the budget."
  value       = aws_budgets_budget.this.name
}

output "limit_usd" {
  description = "Monthly budget in US dollars."
  value       = var.limit_usd
}
