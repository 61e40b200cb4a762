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

run "a_capacity_provider_change_updates_the_services_in_place" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  variables {
    capacity_provider = "FARGATE_SPOT"
  }

  # Provider 5.x replaces a service whose capacity_provider_strategy changes unless
  # force_new_deployment is set; ECS refuses the in-place change without it too.
  assert {
    condition     = alltrue([for service in aws_ecs_service.this : service.force_new_deployment])
    error_message = "Both services must force a new deployment, so a capacity provider change is in place."
  }
}

run "the_root_filesystem_is_read_only_without_ecs_exec" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  assert {
    condition     = alltrue([for definition in aws_ecs_task_definition.this : jsondecode(definition.container_definitions)[0].readonlyRootFilesystem])
    error_message = "Without ECS Exec the app container's root filesystem must be read-only."
  }

  assert {
    condition     = alltrue([for definition in aws_ecs_task_definition.this : contains([for m in jsondecode(definition.container_definitions)[0].mountPoints : m.containerPath], "/tmp")])
    error_message = "/tmp must stay a writable volume of the app container."
  }
}

run "ecs_exec_gets_a_writable_root_filesystem" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  variables {
    enable_execute_command = true
  }

  assert {
    condition     = alltrue([for definition in aws_ecs_task_definition.this : !jsondecode(definition.container_definitions)[0].readonlyRootFilesystem])
    error_message = "ECS Exec's SSM agent needs a writable root filesystem (aws/containers-roadmap#1359)."
  }

  assert {
    condition     = alltrue([for service in aws_ecs_service.this : service.enable_execute_command])
    error_message = "enable_execute_command must reach both services."
  }
}

run "rejects_a_cpu_and_memory_pair_fargate_does_not_offer" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  variables {
    cpu    = 1024
    memory = 1024
  }

  expect_failures = [var.memory]
}

run "accepts_the_largest_fargate_size" {
  command = plan

  module {
    source = "./modules/ecs"
  }

  variables {
    cpu    = 16384
    memory = 122880
  }

  assert {
    condition     = aws_ecs_task_definition.this["blue"].cpu == "16384" && aws_ecs_task_definition.this["blue"].memory == "122880"
    error_message = "16 vCPU with 120 GiB is a Fargate size."
  }
}
