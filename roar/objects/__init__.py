"""The object model and the object store: roar's plumbing.

Nothing here imports the CLI, the server or rich. See docs/object-format.md.
"""
