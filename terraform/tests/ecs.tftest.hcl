# ECS networking: tasks in the private subnets by default, in the
# public ones with a public IP each when the VPC has no NAT gateway.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"
}

variables {
  name_prefix        = "chatapp-dev"
  private_subnet_ids = ["subnet-private-a", "subnet-private-b"]
  public_subnet_ids  = ["subnet-public-a", "subnet-public-b"]
  security_group_ids = ["sg-tasks"]
  target_group_arns = {
    blue  = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/b/1"
    green = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/g/2"
  }
  images             = { blue = "repo:blue", green = "repo:green" }
  desired_counts     = { blue = 1, green = 1 }
  container_port     = 8080
  execution_role_arn = "arn:aws:iam::123456789012:role/execution"
  task_role_arn      = "arn:aws:iam::123456789012:role/task"
  metrics_namespace  = "chatapp-dev/chat"
}

run "tasks_run_in_the_private_subnets_without_public_ips_by_default" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  assert {
    condition = alltrue([
      for service in aws_ecs_service.this :
      !service.network_configuration[0].assign_public_ip && toset(service.network_configuration[0].subnets) == toset(["subnet-private-a", "subnet-private-b"])
    ])
    error_message = "By default both services must run in the private subnets without public IPs."
  }
}

run "without_a_nat_gateway_tasks_get_public_ips_in_the_public_subnets" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  variables {
    assign_public_ip = true
  }

  assert {
    condition = alltrue([
      for service in aws_ecs_service.this :
      service.network_configuration[0].assign_public_ip && toset(service.network_configuration[0].subnets) == toset(["subnet-public-a", "subnet-public-b"])
    ])
    error_message = "With assign_public_ip both services must run in the public subnets with public IPs."
  }

  assert {
    condition = alltrue([
      for service in aws_ecs_service.this : toset(service.network_configuration[0].security_groups) == toset(["sg-tasks"])
    ])
    error_message = "Public tasks must keep the tasks security group (which admits the ALB only)."
  }
}

run "rejects_public_ips_without_public_subnets" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  variables {
    assign_public_ip  = true
    public_subnet_ids = []
  }

  expect_failures = [var.assign_public_ip]
}
