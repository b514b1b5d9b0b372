"""Refs: names that point at objects (sessions, labels, remotes), updated atomically."""
