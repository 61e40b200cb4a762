data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  colours      = toset(["blue", "green"])
  https        = var.certificate_arn != ""
  listen_port  = local.https ? 443 : 80
  account_id   = data.aws_caller_identity.current.account_id
  region       = data.aws_region.current.name
  logs_bucket  = var.logs_bucket_name != "" ? var.logs_bucket_name : "${var.name_prefix}-alb-logs-${local.account_id}"
  logs_prefix  = "alb"
  logs_objects = "arn:${data.aws_partition.current.partition}:s3:::${local.logs_bucket}/${local.logs_prefix}/AWSLogs/${local.account_id}/*"

  # Regions opened before August 2022 deliver ALB logs from a regional ELB account;
  # newer ones from the logdelivery service principal. Both are granted where both apply.
  legacy_elb_account_regions = toset([
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
    "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
    "ap-southeast-2", "ca-central-1", "eu-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
    "eu-south-1", "eu-north-1", "me-south-1", "sa-east-1", "us-gov-west-1", "us-gov-east-1",
    "cn-north-1", "cn-northwest-1",
  ])
}

data "aws_elb_service_account" "this" {
  count = contains(local.legacy_elb_account_regions, local.region) ? 1 : 0
}

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_145:ALB log delivery writes only to SSE-S3 buckets; KMS would stop the access logs.
  #checkov:skip=CKV_AWS_144:Cross-region replication of access logs is out of scope for a single-region demo stack.
  #checkov:skip=CKV_AWS_18:This is the stack's access-log bucket; logging it into itself would log its own log writes.
  bucket        = local.logs_bucket
  force_destroy = var.logs_force_destroy

  tags = { Name = local.logs_bucket }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket = aws_s3_bucket.logs.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

# ALB log delivery supports only SSE-S3 on the target bucket.
resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.logs_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.logs]
}

# EventBridge notifications cost nothing until a rule subscribes to them.
resource "aws_s3_bucket_notification" "logs" {
  bucket      = aws_s3_bucket.logs.id
  eventbridge = true
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid       = "AllowAlbLogDelivery"
          Effect    = "Allow"
          Principal = { Service = "logdelivery.elasticloadbalancing.amazonaws.com" }
          Action    = "s3:PutObject"
          Resource  = local.logs_objects
        },
      ],
      [
        for account in data.aws_elb_service_account.this : {
          Sid       = "AllowAlbLogDeliveryFromRegionalElbAccount"
          Effect    = "Allow"
          Principal = { AWS = account.arn }
          Action    = "s3:PutObject"
          Resource  = local.logs_objects
        }
      ],
      [
        {
          Sid       = "AllowS3ServerAccessLogs"
          Effect    = "Allow"
          Principal = { Service = "logging.s3.amazonaws.com" }
          Action    = "s3:PutObject"
          Resource  = "${aws_s3_bucket.logs.arn}/s3-access/*"
          Condition = { StringEquals = { "aws:SourceAccount" = local.account_id } }
        },
        {
          Sid       = "DenyInsecureTransport"
          Effect    = "Deny"
          Principal = "*"
          Action    = "s3:*"
          Resource  = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
          Condition = { Bool = { "aws:SecureTransport" = "false" } }
        },
      ],
    )
  })

  depends_on = [aws_s3_bucket_public_access_block.logs]
}

resource "aws_lb" "this" {
  name               = "${var.name_prefix}-alb"
  load_balancer_type = "application"
  internal           = false
  subnets            = var.public_subnet_ids
  security_groups    = var.security_group_ids

  idle_timeout               = var.idle_timeout
  enable_http2               = true
  drop_invalid_header_fields = true
  desync_mitigation_mode     = "defensive"
  enable_deletion_protection = var.enable_deletion_protection

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = local.logs_prefix
    enabled = true
  }

  tags = { Name = "${var.name_prefix}-alb" }

  # The ALB checks at creation that it may write to the bucket.
  depends_on = [aws_s3_bucket_policy.logs]
}

# A target group cannot be renamed: changing its VPC, port, protocol or target type
# replaces it, and create_before_destroy creates the new one while the old one still
# holds its name (DuplicateTargetGroupName). The name therefore carries a hash of those
# settings, so a replacement always gets a new name. name_prefix would allow only 6
# characters; the project prefix is cut to leave room for "-green-xxxx" in 32.
locals {
  target_group_identity = join(",", [var.vpc_id, var.container_port, "HTTP", "ip"])
  target_group_names = {
    for colour in local.colours : colour => format(
      "%s-%s-%s",
      trimsuffix(substr(var.name_prefix, 0, 32 - length("-${colour}-xxxx")), "-"),
      colour,
      substr(sha1(local.target_group_identity), 0, 4),
    )
  }
}

resource "aws_lb_target_group" "this" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB (or CloudFront); ALB-to-task traffic stays in private subnets, and HTTPS listeners are used when certificate_arn is set.
  for_each = local.colours

  name                 = local.target_group_names[each.key]
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = var.container_port
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    path                = var.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = { Name = local.target_group_names[each.key], Colour = each.key }

  # The new group exists (under its new name) before the listener lets go of the old.
  lifecycle {
    create_before_destroy = true
  }
}

# The forward action that carries traffic: it splits new connections between the
# colours by weight; group stickiness keeps a client's reconnects on the colour it
# first reached. An upgraded WebSocket stays on its target whatever the weights become.
# Direct access: the listener's default action. Edge-only: the traffic rule below,
# which forwards only requests carrying the origin secret; the default action is 403.
locals {
  forward = {
    target_groups = { for colour, group in aws_lb_target_group.this : colour => group.arn }
    weights       = var.weights
  }
}

resource "aws_lb_listener" "this" {
  load_balancer_arn = aws_lb.this.arn
  port              = local.listen_port
  protocol          = local.https ? "HTTPS" : "HTTP"
  ssl_policy        = local.https ? var.ssl_policy : null
  certificate_arn   = local.https ? aws_acm_certificate_validation.this[0].certificate_arn : null

  dynamic "default_action" {
    for_each = var.edge_only ? [] : [local.forward]
    content {
      type = "forward"

      forward {
        dynamic "target_group" {
          for_each = default_action.value.target_groups
          content {
            arn    = target_group.value
            weight = default_action.value.weights[target_group.key]
          }
        }

        stickiness {
          enabled  = var.enable_stickiness
          duration = var.stickiness_duration
        }
      }
    }
  }

  dynamic "default_action" {
    for_each = var.edge_only ? ["edge-only"] : []
    content {
      type = "fixed-response"

      fixed_response {
        content_type = "text/plain"
        message_body = "Forbidden"
        status_code  = "403"
      }
    }
  }

  tags = { Name = "${var.name_prefix}-${local.https ? "https" : "http"}" }
}

# The origin secret CloudFront sends as X-Origin-Verify. Each generation is its own
# parameter: raising origin_secret_generation creates the next one and keeps the
# previous, and the traffic rule accepts both, so requests CloudFront still sends with
# the old value (a distribution update takes minutes to reach every edge) keep being
# forwarded. The generation before that is deleted and refused from then on.
locals {
  origin_secret_generations = toset([
    for generation in [var.origin_secret_generation - 1, var.origin_secret_generation] :
    tostring(generation) if generation >= 1 && var.edge_only
  ])
}

# Re-read on every plan; each parameter keeps the value it was created with.
data "aws_secretsmanager_random_password" "origin_secret" {
  count = var.edge_only ? 1 : 0

  password_length     = 48
  exclude_punctuation = true
}

resource "aws_ssm_parameter" "origin_secret" {
  for_each = local.origin_secret_generations

  name        = "/${var.name_prefix}/edge/origin-secret-${each.key}"
  description = "X-Origin-Verify value CloudFront sends to the ${var.name_prefix} ALB (generation ${each.key})"
  type        = "SecureString"
  key_id      = var.origin_secret_kms_key_id
  value       = data.aws_secretsmanager_random_password.origin_secret[0].random_password

  lifecycle {
    ignore_changes = [value]
  }
}

resource "aws_lb_listener_rule" "traffic" {
  count = var.edge_only ? 1 : 0

  listener_arn = aws_lb_listener.this.arn
  priority     = 100

  condition {
    http_header {
      http_header_name = "X-Origin-Verify"
      values           = [for generation in sort(local.origin_secret_generations) : aws_ssm_parameter.origin_secret[generation].value]
    }
  }

  action {
    type = "forward"

    forward {
      dynamic "target_group" {
        for_each = local.forward.target_groups
        content {
          arn    = target_group.value
          weight = local.forward.weights[target_group.key]
        }
      }

      stickiness {
        enabled  = var.enable_stickiness
        duration = var.stickiness_duration
      }
    }
  }

  tags = { Name = "${var.name_prefix}-traffic" }
}

# Waits until the certificate is issued, so the HTTPS listener never starts on one
# that is still pending validation.
resource "aws_acm_certificate_validation" "this" {
  count = local.https ? 1 : 0

  certificate_arn = var.certificate_arn
}

resource "aws_lb_listener" "http_redirect" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      protocol    = "HTTPS"
      port        = "443"
      status_code = "HTTP_301"
    }
  }

  tags = { Name = "${var.name_prefix}-http-redirect" }

  # Port 80 redirects only once 443 answers.
  depends_on = [aws_lb_listener.this]
}

# --- WAF (opt-in: it costs money) ---------------------------------------------------
# AWS managed rules on what a request carries (KnownBadInputs covers Log4j,
# CVE-2021-44228). No per-IP rate limit: through CloudFront, the ALB sees the edge's
# addresses, so it would count every viewer behind one edge as one client. The rate
# limit is on the CloudFront web ACL, which sees the viewer's address.

resource "aws_wafv2_web_acl" "this" {
  count = var.enable_waf ? 1 : 0

  name        = "${var.name_prefix}-alb"
  description = "Managed rules in front of the ${var.name_prefix} ALB"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "AWSManagedRulesCommonRuleSet"
    priority = 10

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesCommonRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-alb-AWSManagedRulesCommonRuleSet"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "AWSManagedRulesKnownBadInputsRuleSet"
    priority = 20

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-alb-AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

  # Matches only with direct access, where the ALB sees the viewers; behind CloudFront
  # it sees the edge's addresses, which are never on the list.
  rule {
    name     = "AWSManagedRulesAnonymousIpList"
    priority = 30

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesAnonymousIpList"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-alb-AWSManagedRulesAnonymousIpList"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-alb"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.enable_waf ? 1 : 0

  resource_arn = aws_lb.this.arn
  web_acl_arn  = aws_wafv2_web_acl.this[0].arn
}

# WAF requires log group names starting with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  count = var.enable_waf ? 1 : 0

  name              = "aws-waf-logs-${var.name_prefix}-alb"
  kms_key_id        = var.waf_log_kms_key_arn
  retention_in_days = var.waf_log_retention_days
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count = var.enable_waf ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]
}
