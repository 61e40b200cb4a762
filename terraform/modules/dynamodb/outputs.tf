output "table_names" {
  description = "Table names keyed by role: messages, connections, user-counter."
  value       = { for key, table in aws_dynamodb_table.this : key => table.name }
}

output "table_arns" {
  description = "Table ARNs keyed by role: messages, connections, user-counter."
  value       = { for key, table in aws_dynamodb_table.this : key => table.arn }
}

output "tables" {
  description = "Key schema of every table: hash and range key, index names and TTL attribute."
  value = {
    for key, table in local.tables : key => {
      hash_key      = table.hash_key
      range_key     = table.range_key
      indexes       = keys(table.indexes)
      ttl_attribute = table.ttl_attribute
    }
  }
}
