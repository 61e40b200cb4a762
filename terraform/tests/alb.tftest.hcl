# The ALB module on its own: listener weights, target groups, HTTPS switch.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "ap-northeast-2" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_secretsmanager_random_password" {
    defaults = { random_password = "MockOriginSecret0123456789abcdefABCDEF0123456789" }
  }
}

variables {
  name_prefix        = "chatapp-dev"
  vpc_id             = "vpc-0123456789abcdef0"
  public_subnet_ids  = ["subnet-aaaa", "subnet-bbbb"]
  security_group_ids = ["sg-alb"]
  container_port     = 8080
  weights            = { blue = 90, green = 10 }
}

run "listener_weights_follow_the_variables" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    edge_only = false
  }

  override_resource {
    target          = aws_lb_target_group.this["blue"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chatapp-dev-blue/1" }
  }

  override_resource {
    target          = aws_lb_target_group.this["green"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chatapp-dev-green/2" }
  }

  assert {
    condition = {
      for group in aws_lb_listener.this.default_action[0].forward[0].target_group :
      group.arn => group.weight
      } == {
      (aws_lb_target_group.this["blue"].arn)  = 90
      (aws_lb_target_group.this["green"].arn) = 10
    }
    error_message = "The listener must send 90% to the blue target group and 10% to green."
  }

  assert {
    condition     = aws_lb_listener.this.default_action[0].forward[0].stickiness[0].enabled
    error_message = "Group stickiness must keep a client's reconnects on one colour."
  }
}

run "edge_only_forwards_only_requests_with_the_origin_secret" {
  command = plan

  module {
    source = "./modules/alb"
  }

  override_resource {
    target          = aws_lb_target_group.this["blue"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chatapp-dev-blue/1" }
  }

  override_resource {
    target          = aws_lb_target_group.this["green"]
    override_during = plan
    values          = { arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/chatapp-dev-green/2" }
  }

  assert {
    condition     = [for action in aws_lb_listener.this.default_action : [action.type, action.fixed_response[0].status_code]] == [["fixed-response", "403"]]
    error_message = "Edge-only, a request without the origin secret must get the listener's fixed 403."
  }

  assert {
    condition     = aws_lb_listener_rule.traffic[0].priority == 100 && [for condition in aws_lb_listener_rule.traffic[0].condition : condition.http_header[0].http_header_name] == ["X-Origin-Verify"]
    error_message = "The traffic rule (priority 100) must match the X-Origin-Verify header."
  }

  assert {
    condition     = one([for condition in aws_lb_listener_rule.traffic[0].condition : condition.http_header[0].values]) == toset(["MockOriginSecret0123456789abcdefABCDEF0123456789"])
    error_message = "Generation 1 accepts exactly the secret in its SSM parameter."
  }

  assert {
    condition     = toset([for group in aws_lb_listener_rule.traffic[0].action[0].forward[0].target_group : group.weight]) == toset([10, 90])
    error_message = "The traffic rule must carry the blue/green weights."
  }

  assert {
    condition     = output.origin_secret_parameter == "/chatapp-dev/edge/origin-secret-1" && aws_ssm_parameter.origin_secret["1"].type == "SecureString"
    error_message = "The origin secret must be a SecureString parameter, as the Redis token is."
  }
}

run "rotating_the_origin_secret_keeps_the_previous_one_accepted" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    origin_secret_generation = 3
  }

  assert {
    condition     = keys(aws_ssm_parameter.origin_secret) == ["2", "3"]
    error_message = "Generation 3 keeps generation 2 (still sent by edges that have not updated yet) and drops 1."
  }

  assert {
    condition     = length(one([for condition in aws_lb_listener_rule.traffic[0].condition : condition.http_header[0].values])) == 1 && output.origin_secret_parameter == "/chatapp-dev/edge/origin-secret-3"
    error_message = "The rule lists each parameter's value (one here: the mock gives both the same value); CloudFront sends the newest."
  }
}

run "direct_access_has_no_rule_and_no_secret" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    edge_only = false
  }

  assert {
    condition     = length(aws_lb_listener_rule.traffic) == 0 && length(aws_ssm_parameter.origin_secret) == 0 && output.traffic_rule_arn == null
    error_message = "With direct access the listener's default action forwards; no rule, no secret."
  }
}

run "target_group_names_carry_the_settings_that_replace_them" {
  command = plan

  module {
    source = "./modules/alb"
  }

  assert {
    condition     = alltrue([for colour, name in output.target_group_names : can(regex("^chatapp-dev-${colour}-[0-9a-f]{4}$", name))])
    error_message = "Target group names must be <prefix>-<colour>-<hash>."
  }

  assert {
    condition     = alltrue([for group in aws_lb_target_group.this : group.name == group.tags.Name])
    error_message = "The Name tag must follow the name."
  }
}

# A new container port replaces both groups (create_before_destroy): the new ones get
# other names, so they can exist beside the old ones.
run "a_replacement_gets_a_new_target_group_name" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    container_port = 9090
  }

  assert {
    condition     = alltrue([for colour, name in output.target_group_names : name != run.target_group_names_carry_the_settings_that_replace_them.target_group_names[colour]])
    error_message = "A target group replaced by a port change must not reuse the old name (DuplicateTargetGroupName)."
  }
}

run "long_prefixes_are_cut_to_fit_32_characters" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    name_prefix = "a-very-long-project-name-prd"
  }

  assert {
    condition     = alltrue([for name in values(output.target_group_names) : length(name) <= 32 && !strcontains(name, "--")])
    error_message = "Target group names must fit 32 characters without a double hyphen."
  }
}

run "https_needs_the_certificate_issued_and_redirects_after_the_main_listener" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    certificate_arn = "arn:aws:acm:ap-northeast-2:123456789012:certificate/abc"
  }

  assert {
    condition     = aws_lb_listener.this.port == 443 && aws_acm_certificate_validation.this[0].certificate_arn == "arn:aws:acm:ap-northeast-2:123456789012:certificate/abc"
    error_message = "The HTTPS listener must use the certificate once validated."
  }

  assert {
    condition     = aws_lb_listener.http_redirect[0].default_action[0].redirect[0].protocol == "HTTPS"
    error_message = "Port 80 must redirect to HTTPS."
  }
}

run "the_alb_web_acl_has_no_per_ip_rate_limit" {
  command = plan

  module {
    source = "./modules/alb"
  }

  variables {
    enable_waf = true
  }

  assert {
    condition     = alltrue([for rule in aws_wafv2_web_acl.this[0].rule : length(rule.statement[0].rate_based_statement) == 0])
    error_message = "Behind CloudFront the ALB sees the edge's addresses: the per-IP rate limit belongs on the CloudFront web ACL."
  }
}
