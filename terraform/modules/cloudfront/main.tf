data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.name_prefix}-static-${data.aws_caller_identity.current.account_id}"

  s3_origin_id  = "static-site"
  alb_origin_id = "alb"

  # AWS managed policies: their IDs are the same in every account.
  cache_policy_caching_optimized               = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  cache_policy_caching_disabled                = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
  origin_request_policy_all_viewer_except_host = "b689b0a8-53d0-40ab-baf2-68738e2966ac"

  alb_paths = var.enable_alb_origin ? ["/ws*", "/api*"] : []
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_144:Cross-region replication of a static site that is rebuilt from source is out of scope.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy

  tags = { Name = local.bucket_name }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_kms_key" "this" {
  count = var.kms_encryption ? 1 : 0

  description             = "Static site of ${var.name_prefix}, readable by its CloudFront distribution"
  enable_key_rotation     = true
  deletion_window_in_days = 7

  tags = { Name = "${var.name_prefix}-static" }
}

resource "aws_kms_alias" "this" {
  count = var.kms_encryption ? 1 : 0

  name          = "alias/${var.name_prefix}-static"
  target_key_id = aws_kms_key.this[0].key_id
}

# The account administers the key through IAM; the distribution may only decrypt.
resource "aws_kms_key_policy" "this" {
  count = var.kms_encryption ? 1 : 0

  key_id = aws_kms_key.this[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudFrontReadsTheSite"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = ["kms:Decrypt"]
        Resource  = "*"
        Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.this.arn } }
      },
    ]
  })
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.kms_encryption ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_encryption ? aws_kms_key.this[0].arn : null
    }
    bucket_key_enabled = var.kms_encryption
  }
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_logs_bucket == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_logs_bucket
  target_prefix = "s3-access/"
}

# EventBridge notifications cost nothing until a rule subscribes to them.
resource "aws_s3_bucket_notification" "this" {
  bucket      = aws_s3_bucket.this.id
  eventbridge = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 30
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = "${var.name_prefix}-static"
  description                       = "CloudFront reads the ${var.name_prefix} static site bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# Security headers on every response, pages and API alike.
resource "aws_cloudfront_response_headers_policy" "this" {
  name    = "${var.name_prefix}-security-headers"
  comment = "CSP, HSTS, no sniffing, no framing, strict referrer for ${var.name_prefix}"

  security_headers_config {
    # The web client loads only its own files and talks only to its own origin
    # (the page, /api and the /ws WebSocket): no inline code, nothing third-party.
    content_security_policy {
      override                = true
      content_security_policy = var.content_security_policy
    }

    # "preload" only takes effect once a domain is submitted to hstspreload.org.
    strict_transport_security {
      override                   = true
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
    }

    content_type_options {
      override = true
    }

    frame_options {
      override     = true
      frame_option = "DENY"
    }

    referrer_policy {
      override        = true
      referrer_policy = "strict-origin-when-cross-origin"
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_374:A public chat service serves every country; there is no geography to restrict.
  #checkov:skip=CKV_AWS_310:One static origin in one region; an origin group would need a second copy of the site in another region.
  #checkov:skip=CKV_AWS_86:CloudFront standard logging needs ACLs on the target bucket; the stack keeps S3 ACLs disabled (CKV2_AWS_65).
  enabled             = true
  comment             = "${var.name_prefix} chat: static site${var.enable_alb_origin ? " + /ws and /api" : ""}"
  default_root_object = var.default_root_object
  price_class         = var.price_class
  http_version        = "http2and3"
  is_ipv6_enabled     = true
  wait_for_deployment = var.wait_for_deployment
  aliases             = var.aliases
  web_acl_id          = one(aws_wafv2_web_acl.this[*].arn)

  origin {
    origin_id                = local.s3_origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  dynamic "origin" {
    for_each = var.enable_alb_origin ? [var.alb_domain_name] : []
    content {
      origin_id   = local.alb_origin_id
      domain_name = origin.value

      # The ALB forwards only requests that carry the origin secret (edge-only mode).
      dynamic "custom_header" {
        for_each = var.origin_secret == null ? [] : ["X-Origin-Verify"]
        content {
          name  = custom_header.value
          value = var.origin_secret
        }
      }

      custom_origin_config {
        http_port                = 80
        https_port               = 443
        origin_protocol_policy   = var.alb_origin_protocol
        origin_ssl_protocols     = ["TLSv1.2"]
        origin_keepalive_timeout = 60
        origin_read_timeout      = 60
      }
    }
  }

  # S3 answers a missing key with 403 (origin access control grants no ListBucket):
  # viewers get the site's own 404 page instead of S3's XML. Only 403 is mapped, so the
  # API's own JSON 404s pass through; nothing behind /ws and /api answers 403 to a
  # request that came through this distribution.
  dynamic "custom_error_response" {
    for_each = var.not_found_page == "" ? [] : [403]
    content {
      error_code            = custom_error_response.value
      response_code         = 404
      response_page_path    = var.not_found_page
      error_caching_min_ttl = 10
    }
  }

  default_cache_behavior {
    target_origin_id           = local.s3_origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.cache_policy_caching_optimized
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  # WebSocket upgrades and API calls go to the ALB uncached, with every viewer header.
  dynamic "ordered_cache_behavior" {
    for_each = local.alb_paths
    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.alb_origin_id
      viewer_protocol_policy     = "https-only"
      allowed_methods            = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = false
      cache_policy_id            = local.cache_policy_caching_disabled
      origin_request_policy_id   = local.origin_request_policy_all_viewer_except_host
      response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = var.certificate_arn == null
    acm_certificate_arn            = var.certificate_arn
    ssl_support_method             = var.certificate_arn == null ? null : "sni-only"
    minimum_protocol_version       = var.certificate_arn == null ? "TLSv1" : "TLSv1.2_2021"
  }

  tags = { Name = "${var.name_prefix}-static" }
}

# Only this distribution may read the bucket, and only over TLS.
resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowCloudFrontRead"
        Effect    = "Allow"
        Principal = { Service = "cloudfront.amazonaws.com" }
        Action    = "s3:GetObject"
        Resource  = "${aws_s3_bucket.this.arn}/*"
        Condition = { StringEquals = { "AWS:SourceArn" = aws_cloudfront_distribution.this.arn } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "s3:*"
        Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --- WAF (opt-in: it costs money) ---------------------------------------------------
# A per-IP rate limit, then AWS managed rules (KnownBadInputs covers Log4j,
# CVE-2021-44228). The rules on the viewer's address (rate limit, anonymous IPs) live
# here only: the edge sees the viewer, the ALB behind it sees CloudFront. Declared next
# to what they protect, because checkov verifies them through that direct reference.

resource "aws_wafv2_web_acl" "this" {
  count    = var.enable_waf ? 1 : 0
  provider = aws.us_east_1

  name        = "${var.name_prefix}-cloudfront"
  description = "Per-IP rate limit, anonymous IPs and managed rules in front of the ${var.name_prefix} distribution"
  scope       = "CLOUDFRONT"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-limit-per-ip"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name_prefix}-cloudfront-rate-limit"
      sampled_requests_enabled   = true
    }
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
      metric_name                = "${var.name_prefix}-cloudfront-AWSManagedRulesCommonRuleSet"
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
      metric_name                = "${var.name_prefix}-cloudfront-AWSManagedRulesKnownBadInputsRuleSet"
      sampled_requests_enabled   = true
    }
  }

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
      metric_name                = "${var.name_prefix}-cloudfront-AWSManagedRulesAnonymousIpList"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name_prefix}-cloudfront"
    sampled_requests_enabled   = true
  }
}

resource "aws_cloudwatch_log_group" "waf" {
  count    = var.enable_waf ? 1 : 0
  provider = aws.us_east_1

  name              = "aws-waf-logs-${var.name_prefix}-cloudfront"
  kms_key_id        = var.waf_log_kms_key_arn
  retention_in_days = var.waf_log_retention
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count    = var.enable_waf ? 1 : 0
  provider = aws.us_east_1

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]
}
