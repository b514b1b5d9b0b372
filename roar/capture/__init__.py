"""Capture: what roar gathers around a run (tracer, git, environment, filters)."""
