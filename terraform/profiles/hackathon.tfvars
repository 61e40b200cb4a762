# The hackathon profile: the live blue/green demo for under $70 a month in Seoul.
#
#   chatops cost --var-file terraform/profiles/hackathon.tfvars     # the bill first
#   chatops deploy --var-file terraform/profiles/hackathon.tfvars
#
# It keeps both colours behind the weighted listener, WebSockets through the ALB and
# CloudFront, Redis fan-out, DynamoDB, the alarms and the dashboard. What it gives up,
# each line below says. Add your own settings (alarm_email!) in a second var file or
# with --var; later files and --var win.

# No NAT gateway (~$47/month with its address): the tasks run in the public subnets
# with a public IP each (~$3.65/month per task), still reachable only from the ALB's
# security group. Outbound calls (ECR, SSM, CloudWatch) leave through the internet
# gateway; DynamoDB and S3 stay on the free gateway endpoints.
enable_nat_gateway = false

# One Valkey node instead of a Redis OSS primary + replica (~$35 -> ~$14 a month).
# NO REPLICA, NO FAILOVER: if the node or its zone fails, Redis is down until
# ElastiCache replaces it. Messages are still stored and acknowledged meanwhile, but
# fan-out between tasks, presence and typing stop, and recent history is read from
# DynamoDB instead.
redis_node_count     = 1
redis_engine         = "valkey"
redis_engine_version = "8.0"

# Graviton: ~20% cheaper Fargate hours. The images must be built for linux/arm64.
cpu_architecture = "ARM64"

# The idle colour at 0 tasks outside a release. For the demo or a release, start it
# with --var green_desired_count=1 (~$11.94/month while it runs, billed by the second)
# and set it back to 0 afterwards. FARGATE stays on demand: a Spot task can be
# reclaimed with two minutes' notice, in the middle of a live demo.
# These counts apply to a first deploy only: once `chatops release`, `scale` or
# `retire` has set a colour's count, chatops' record wins over this file (the colour
# holding the traffic keeps its tasks); a --var on the deploy changes it.
blue_desired_count  = 1
green_desired_count = 0

# With alarm_email set: AWS Budgets mails at 80% of this spent and at 100% forecast.
budget_monthly_usd = 70
