"""A small, typed wrapper around the terraform binary."""
