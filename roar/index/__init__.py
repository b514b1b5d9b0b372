"""Derived indexes: caches over objects and refs, rebuildable at any time."""
