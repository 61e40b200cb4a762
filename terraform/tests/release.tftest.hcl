# What a colour runs before and after `chatops release` records its image, and the
# build architecture the stack tells the release.

mock_provider "aws" {
  override_during = plan
  source          = "./tests/mocks/aws"
}

mock_provider "aws" {
  alias = "us_east_1"
}

override_resource {
  target          = module.ecr.aws_ecr_repository.this
  override_during = plan
  values          = { repository_url = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev" }
}

run "runs_no_task_on_a_colour_nothing_was_released_to" {
  command = plan

  assert {
    condition     = local.desired_counts == { blue = 0, green = 0 }
    error_message = "Without a released image a colour must run no task (its image was never pushed)."
  }

  assert {
    condition     = output.blue_image == "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev:unreleased" && output.green_image == output.blue_image
    error_message = "An unreleased colour's task definition must name the never-pushed :unreleased tag."
  }

  assert {
    condition     = module.ecs.environments["green"]["APP_VERSION"] == "unreleased"
    error_message = "An unreleased colour must report the version unreleased."
  }
}

run "a_released_colour_runs_its_desired_count_of_that_image" {
  command = plan

  variables {
    green_image         = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev:0a1b2c3d4e5f"
    green_desired_count = 2
  }

  assert {
    condition     = local.desired_counts == { blue = 0, green = 2 }
    error_message = "Green, released, must run green_desired_count tasks; blue still none."
  }

  assert {
    condition     = module.ecs.images["green"] == var.green_image && module.ecs.environments["green"]["APP_VERSION"] == "0a1b2c3d4e5f"
    error_message = "Green's task definition must run the released image and report its tag as the version."
  }
}

run "accepts_a_local_snapshot_and_a_digest" {
  command = plan

  variables {
    blue_image  = "localhost/chatapp:9f8e7d6c5b4a"
    green_image = "registry.example.com:5000/chat/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
  }

  assert {
    condition     = local.desired_counts == { blue = 1, green = 1 }
    error_message = "Both colours released: each runs its desired count."
  }
}

run "rejects_the_moving_latest_tag" {
  command = plan

  variables {
    green_image = "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/chatapp-dev:latest"
  }

  expect_failures = [var.green_image]
}

run "rejects_an_image_without_a_tag" {
  command = plan

  variables {
    blue_image = "registry.example.com:5000/chatapp"
  }

  expect_failures = [var.blue_image]
}

run "tells_the_release_the_cpu_architecture" {
  command = plan

  variables {
    cpu_architecture = "ARM64"
  }

  assert {
    condition     = output.cpu_architecture == "ARM64"
    error_message = "The cpu_architecture output must say which platform to build images for."
  }
}
