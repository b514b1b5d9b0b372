"""roar: Run Observation & Artifact Registration.

Kept empty of imports on purpose: `roar` runs in front of every command,
so nothing is loaded until a subcommand needs it.
"""

__version__ = "0.1.0"
