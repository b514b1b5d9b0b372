"""Tracing overhead: roar against the untraced command, strace, roar-cli and reprozip.

`python -m benchmarks.tracing.compare` (or `make bench-tracing`) builds the
workloads of TARGETS.md in a scratch directory, runs every tool on each of
them in interleaved rounds, and prints wall-time ratios of medians.
"""
