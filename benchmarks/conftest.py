"""Benchmarks are pytest-benchmark runs: `make bench`. Ratios of medians, never asserts on time."""
