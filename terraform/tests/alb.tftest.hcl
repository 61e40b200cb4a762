# The ALB module on its own: listener weights, target groups, HTTPS switch.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "ap-northeast-2" }
  }

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
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
