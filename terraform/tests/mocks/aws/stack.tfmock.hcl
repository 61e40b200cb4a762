# Data the root module reads from AWS, as the plan-only test suites see it.

mock_data "aws_availability_zones" {
  defaults = { names = ["ap-northeast-2a", "ap-northeast-2b"] }
}

mock_data "aws_region" {
  defaults = { name = "ap-northeast-2" }
}

mock_data "aws_caller_identity" {
  defaults = { account_id = "123456789012" }
}

mock_data "aws_secretsmanager_random_password" {
  defaults = { random_password = "MockRedisAuthTokenThatIsLongEnough0123456789abcdefABCDEF01234567" }
}

mock_resource "aws_vpc" {
  defaults = { id = "vpc-0123456789abcdef0" }
}

mock_data "aws_ec2_managed_prefix_list" {
  defaults = { id = "pl-82a045eb", max_entries = 55 }
}

mock_resource "aws_lb_listener_rule" {
  defaults = { arn = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:listener-rule/app/chatapp-dev-alb/1/2/3" }
}
