data "aws_region" "current" {}

locals {
  colours = toset(["blue", "green"])

  alb_dimensions = { LoadBalancer = var.alb_arn_suffix }

  colour_dimensions = {
    for colour in local.colours : colour => {
      LoadBalancer = var.alb_arn_suffix
      TargetGroup  = var.target_group_arn_suffixes[colour]
    }
  }

  # Every alarm of the stack, keyed by meaning. Colour alarms carry their colour so a
  # rollout can tell which version misbehaves.
  alarms = merge(
    {
      for colour in local.colours : "unhealthy-hosts-${colour}" => {
        description = "At least one ${colour} target failed its health checks for 2 minutes"
        metric      = "UnHealthyHostCount"
        statistic   = "Maximum"
        extended    = null
        period      = 60
        evaluations = 2
        threshold   = 0
        dimensions  = local.colour_dimensions[colour]
        colour      = colour
      }
    },
    {
      for colour in local.colours : "target-5xx-${colour}" => {
        description = "${colour} tasks answered more than ${var.target_5xx_threshold} HTTP 5xx in a minute"
        metric      = "HTTPCode_Target_5XX_Count"
        statistic   = "Sum"
        extended    = null
        period      = 60
        evaluations = 1
        threshold   = var.target_5xx_threshold
        dimensions  = local.colour_dimensions[colour]
        colour      = colour
      }
    },
    {
      for colour in local.colours : "response-time-p95-${colour}" => {
        description = "p95 response time of the ${colour} tasks above ${var.response_time_p95_threshold} s for 2 of 3 minutes"
        metric      = "TargetResponseTime"
        statistic   = null
        extended    = "p95"
        period      = 60
        evaluations = 3
        threshold   = var.response_time_p95_threshold
        dimensions  = local.colour_dimensions[colour]
        colour      = colour
      }
    },
    {
      "alb-5xx" = {
        description = "The ALB itself answered more than ${var.elb_5xx_threshold} HTTP 5xx in a minute (no healthy target, timeouts)"
        metric      = "HTTPCode_ELB_5XX_Count"
        statistic   = "Sum"
        extended    = null
        period      = 60
        evaluations = 1
        threshold   = var.elb_5xx_threshold
        dimensions  = local.alb_dimensions
        colour      = null
      }
      "alb-4xx" = {
        description = "The ALB answered more than ${var.elb_4xx_threshold} HTTP 4xx in 5 minutes"
        metric      = "HTTPCode_ELB_4XX_Count"
        statistic   = "Sum"
        extended    = null
        period      = 300
        evaluations = 1
        threshold   = var.elb_4xx_threshold
        dimensions  = local.alb_dimensions
        colour      = null
      }
    },
  )
}

resource "aws_sns_topic" "this" {
  name              = "${var.name_prefix}-alarms"
  kms_master_key_id = var.sns_kms_key_arn

  tags = { Name = "${var.name_prefix}-alarms" }
}

resource "aws_sns_topic_subscription" "email" {
  count = var.alarm_email != "" ? 1 : 0

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  extended_statistic  = each.value.extended
  period              = each.value.period
  evaluation_periods  = each.value.evaluations
  datapoints_to_alarm = each.value.metric == "TargetResponseTime" ? 2 : each.value.evaluations
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]

  tags = merge(
    { Name = "${var.name_prefix}-${each.key}" },
    each.value.colour == null ? {} : { Colour = each.value.colour },
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name_prefix
  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "metric"
        x      = 0
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "Requests per colour"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 60
          metrics = [
            for colour in local.colours :
            ["AWS/ApplicationELB", "RequestCount", "TargetGroup", var.target_group_arn_suffixes[colour], "LoadBalancer", var.alb_arn_suffix, { label = colour }]
          ]
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 0
        width  = 12
        height = 6
        properties = {
          title  = "Healthy targets per colour"
          region = data.aws_region.current.name
          stat   = "Minimum"
          period = 60
          metrics = [
            for colour in local.colours :
            ["AWS/ApplicationELB", "HealthyHostCount", "TargetGroup", var.target_group_arn_suffixes[colour], "LoadBalancer", var.alb_arn_suffix, { label = colour }]
          ]
        }
      },
      {
        type   = "metric"
        x      = 0
        y      = 6
        width  = 12
        height = 6
        properties = {
          title  = "HTTP 5xx"
          region = data.aws_region.current.name
          stat   = "Sum"
          period = 60
          metrics = concat(
            [["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", var.alb_arn_suffix, { label = "ALB" }]],
            [
              for colour in local.colours :
              ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "TargetGroup", var.target_group_arn_suffixes[colour], "LoadBalancer", var.alb_arn_suffix, { label = colour }]
            ],
          )
        }
      },
      {
        type   = "metric"
        x      = 12
        y      = 6
        width  = 12
        height = 6
        properties = {
          title  = "Task CPU per colour (%)"
          region = data.aws_region.current.name
          stat   = "Average"
          period = 60
          metrics = [
            for colour in local.colours :
            ["AWS/ECS", "CPUUtilization", "ClusterName", var.ecs_cluster_name, "ServiceName", var.ecs_service_names[colour], { label = colour }]
          ]
        }
      },
    ]
  })
}
