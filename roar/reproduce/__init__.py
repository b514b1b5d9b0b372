"""Reproduction: from an artifact hash back to the same bytes.

`plan.py` reads the lineage (fetching it first if it is not local) into a
plan: where the code is, which steps to run in which order, which packages,
and where each root input comes from. `environment.py` prepares the
interpreter, `checkout.py` the code, `run.py` re-runs the steps under
`roar run` and verifies every artifact they make.
"""
