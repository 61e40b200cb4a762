"""The benchmark's load generator (run as `python -m benchmarks.loadgen`)."""
