locals {
  tables = {
    # Chat history: one partition per room, ordered by time.
    messages = {
      hash_key   = "roomId"
      range_key  = "timestamp"
      attributes = { roomId = "S", timestamp = "N", userId = "S" }
      indexes = {
        "userId-timestamp-index" = { hash_key = "userId", range_key = "timestamp" }
      }
      ttl_attribute = null
    }
    # Live WebSocket connections; stale rows expire through TTL.
    connections = {
      hash_key   = "connectionId"
      range_key  = null
      attributes = { connectionId = "S", userId = "S" }
      indexes = {
        "userId-index" = { hash_key = "userId", range_key = null }
      }
      ttl_attribute = "ttl"
    }
    # A single item incremented atomically (UpdateItem ADD) to hand out user ids.
    user-counter = {
      hash_key      = "counterId"
      range_key     = null
      attributes    = { counterId = "S" }
      indexes       = {}
      ttl_attribute = null
    }
  }
}

resource "aws_dynamodb_table" "this" {
  for_each = local.tables

  name                        = "${var.name_prefix}-${each.key}"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = each.value.range_key
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = each.value.attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = each.value.indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  dynamic "ttl" {
    for_each = each.value.ttl_attribute == null ? [] : [each.value.ttl_attribute]
    content {
      attribute_name = ttl.value
      enabled        = true
    }
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = var.enable_point_in_time_recovery
  }

  tags = { Name = "${var.name_prefix}-${each.key}" }
}
