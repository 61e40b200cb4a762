# A user's messages (the chat's GET /api/me/messages): the messages table's
# userId-timestamp-index exists, and the task role may query that index and no other.

mock_provider "aws" {
  override_during = plan

  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }

  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }

  mock_data "aws_region" {
    defaults = { name = "ap-northeast-2" }
  }
}

variables {
  name_prefix = "chatapp-dev"
  dynamodb_table_arns = {
    messages       = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-messages"
    connections    = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-connections"
    "user-counter" = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-user-counter"
  }
  ecr_repository_arn    = "arn:aws:ecr:ap-northeast-2:123456789012:repository/chatapp-dev"
  log_group_arn         = "arn:aws:logs:ap-northeast-2:123456789012:log-group:/ecs/chatapp-dev"
  metrics_namespace     = "chatapp-dev/chat"
  secret_parameter_arns = []
}

run "the_messages_table_keeps_the_user_index" {
  command = plan

  module {
    source = "./modules/dynamodb"
  }

  assert {
    condition = anytrue([
      for index in aws_dynamodb_table.this["messages"].global_secondary_index :
      index.name == "userId-timestamp-index" && index.hash_key == "userId" && index.range_key == "timestamp"
    ])
    error_message = "The messages table must keep the seed's userId-timestamp-index (userId, timestamp)."
  }
}

run "the_task_role_queries_the_user_index_only" {
  command = plan

  module {
    source = "./modules/iam"
  }

  assert {
    condition = [
      for statement in jsondecode(aws_iam_role_policy.task.policy).Statement : statement
      if statement.Sid == "MessagesOfAUser"
      ] == [{
        Sid      = "MessagesOfAUser"
        Effect   = "Allow"
        Action   = ["dynamodb:Query"]
        Resource = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/chatapp-dev-messages/index/userId-timestamp-index"
    }]
    error_message = "The task role needs dynamodb:Query on the messages table's userId-timestamp-index, and nothing more in that statement."
  }
}
