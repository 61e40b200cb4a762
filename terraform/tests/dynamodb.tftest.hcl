# The three chat tables, their keys, indexes and TTL.

mock_provider "aws" {
  override_during = plan
}

variables {
  name_prefix = "chatapp-dev"
}

run "creates_the_three_tables_with_their_keys_and_indexes" {
  command = plan

  module {
    source = "./modules/dynamodb"
  }

  assert {
    condition     = toset([for t in aws_dynamodb_table.this : t.name]) == toset(["chatapp-dev-messages", "chatapp-dev-connections", "chatapp-dev-user-counter"])
    error_message = "Expected the messages, connections and user-counter tables."
  }

  assert {
    condition = (
      aws_dynamodb_table.this["messages"].hash_key == "roomId" &&
      aws_dynamodb_table.this["messages"].range_key == "timestamp" &&
      contains([for a in aws_dynamodb_table.this["messages"].attribute : "${a.name}:${a.type}"], "timestamp:N") &&
      [for i in aws_dynamodb_table.this["messages"].global_secondary_index : i.name] == ["userId-timestamp-index"]
    )
    error_message = "messages: PK roomId (S), SK timestamp (N), GSI userId-timestamp-index."
  }

  assert {
    condition = (
      aws_dynamodb_table.this["connections"].hash_key == "connectionId" &&
      [for i in aws_dynamodb_table.this["connections"].global_secondary_index : i.name] == ["userId-index"] &&
      aws_dynamodb_table.this["connections"].ttl[0].enabled
    )
    error_message = "connections: PK connectionId, GSI userId-index, TTL on."
  }

  assert {
    condition     = aws_dynamodb_table.this["user-counter"].hash_key == "counterId" && aws_dynamodb_table.this["user-counter"].range_key == null
    error_message = "user-counter: PK counterId only."
  }

  assert {
    condition     = alltrue([for t in aws_dynamodb_table.this : t.billing_mode == "PAY_PER_REQUEST" && t.server_side_encryption[0].enabled])
    error_message = "Every table must be on-demand and encrypted."
  }
}
