output "sns_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.this.arn
}

output "alarm_names" {
  description = "Alarm names keyed by meaning (unhealthy-hosts-blue, target-5xx-green, alb-5xx, ...)."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
}

output "alarm_colours" {
  description = "Colour each alarm watches, keyed like alarm_names; null for load-balancer-wide alarms."
  value       = { for key, alarm in local.alarms : key => alarm.colour }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}
