output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The two availability zones, in subnet order."
  value       = var.availability_zones
}

output "public_subnet_ids" {
  description = "Public subnet IDs, one per availability zone, in zone order."
  value       = [for zone in var.availability_zones : aws_subnet.public[zone].id]
}

output "private_subnet_ids" {
  description = "Private subnet IDs, one per availability zone, in zone order."
  value       = [for zone in var.availability_zones : aws_subnet.private[zone].id]
}

output "nat_gateway_id" {
  description = "ID of the single NAT gateway, or null without one."
  value       = one(aws_nat_gateway.this[*].id)
}

output "nat_public_ip" {
  description = "Public IP the tasks' outbound traffic leaves from, or null without a NAT gateway (each task then has its own)."
  value       = one(aws_eip.nat[*].public_ip)
}

output "private_route_table_id" {
  description = "Route table of the private subnets."
  value       = aws_route_table.private.id
}

output "flow_log_group_name" {
  description = "CloudWatch log group of the VPC flow logs, or null when they are off."
  value       = one(aws_cloudwatch_log_group.flow_logs[*].name)
}
