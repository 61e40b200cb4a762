# The network: two zones, one NAT gateway for both (or none), free gateway endpoints.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_region" {
    defaults = { name = "ap-northeast-2" }
  }
}

variables {
  name_prefix        = "chatapp-dev"
  cidr_block         = "10.0.0.0/16"
  availability_zones = ["ap-northeast-2a", "ap-northeast-2b"]
}

run "spans_two_zones_with_a_public_and_a_private_subnet_each" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  assert {
    condition     = toset([for s in aws_subnet.public : s.availability_zone]) == toset(var.availability_zones)
    error_message = "There must be one public subnet in each of the two zones."
  }

  assert {
    condition     = toset([for s in aws_subnet.private : s.availability_zone]) == toset(var.availability_zones)
    error_message = "There must be one private subnet in each of the two zones."
  }
}

run "one_nat_gateway_serves_both_private_subnets" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  override_resource {
    target          = aws_nat_gateway.this[0]
    override_during = plan
    values          = { id = "nat-0123456789abcdef0" }
  }

  override_resource {
    target          = aws_route_table.private
    override_during = plan
    values          = { id = "rtb-private" }
  }

  override_resource {
    target          = aws_subnet.public["ap-northeast-2a"]
    override_during = plan
    values          = { id = "subnet-public-a" }
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && aws_nat_gateway.this[0].subnet_id == "subnet-public-a"
    error_message = "The NAT gateway must sit in the first zone's public subnet."
  }

  assert {
    condition     = aws_route.private_nat[0].nat_gateway_id == aws_nat_gateway.this[0].id
    error_message = "The private default route must go through the NAT gateway."
  }

  assert {
    condition     = length(aws_route_table_association.private) == 2 && alltrue([for a in aws_route_table_association.private : a.route_table_id == "rtb-private"])
    error_message = "Both private subnets must use the one private route table (and so the one NAT)."
  }
}

run "gateway_endpoints_on_and_interface_endpoints_off_by_default" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  assert {
    condition     = toset(keys(aws_vpc_endpoint.gateway)) == toset(["dynamodb", "s3"])
    error_message = "DynamoDB and S3 must have (free) gateway endpoints."
  }

  assert {
    condition     = length(aws_vpc_endpoint.interface) == 0 && length(aws_flow_log.this) == 0
    error_message = "Interface endpoints and flow logs cost money and must be off by default."
  }
}

run "without_a_nat_gateway_nothing_routes_out_of_the_private_subnets" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  variables {
    enable_nat_gateway = false
  }

  override_resource {
    target          = aws_route_table.public
    override_during = plan
    values          = { id = "rtb-public" }
  }

  override_resource {
    target          = aws_route_table.private
    override_during = plan
    values          = { id = "rtb-private" }
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_eip.nat) == 0 && length(aws_route.private_nat) == 0
    error_message = "Without a NAT gateway there must be no NAT, no Elastic IP and no private default route."
  }

  assert {
    condition     = output.nat_gateway_id == null && output.nat_public_ip == null
    error_message = "The NAT outputs must be null without a NAT gateway."
  }

  assert {
    condition     = alltrue([for endpoint in aws_vpc_endpoint.gateway : toset(endpoint.route_table_ids) == toset(["rtb-private", "rtb-public"])])
    error_message = "Without a NAT gateway the free gateway endpoints must serve the public route table (where the tasks run) too."
  }
}

run "rejects_three_zones" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  variables {
    availability_zones = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
  }

  expect_failures = [var.availability_zones]
}

run "accepts_a_23_whose_subnets_are_27s" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  variables {
    cidr_block = "10.0.0.0/23"
  }

  assert {
    condition     = alltrue([for s in concat(values(aws_subnet.public), values(aws_subnet.private)) : endswith(s.cidr_block, "/27")])
    error_message = "A /23 VPC must give /27 subnets, the smallest an ALB accepts."
  }
}

run "rejects_a_24_whose_subnets_are_too_small_for_an_alb" {
  command = plan

  module {
    source = "./modules/vpc"
  }

  variables {
    cidr_block = "10.0.0.0/24"
  }

  expect_failures = [var.cidr_block]
}
