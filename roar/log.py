"""`logging.level` (config) applied to Python's logging, for roar and the
libraries it calls (requests/urllib3 then show each request to a remote).

warning is Python's own default, so nothing is configured (or imported) then:
`roar run` pays nothing for it.
"""

from __future__ import annotations

LEVELS = ("debug", "info", "warning", "error")


def configure(level: object) -> None:
    """Apply a `logging.level` value; unknown values are refused by `roar config set`."""
    name = str(level).lower()
    if name not in LEVELS or name == "warning":
        return
    import logging

    logging.basicConfig(
        level=name.upper(), format="roar: %(levelname)s %(name)s: %(message)s", force=True
    )


def debug(message: str, *args: object) -> None:
    """Log at debug level if logging is configured for it, without importing logging otherwise."""
    import sys

    logging = sys.modules.get("logging")
    if logging is not None and logging.getLogger("roar").isEnabledFor(logging.DEBUG):
        logging.getLogger("roar").debug(message, *args)
