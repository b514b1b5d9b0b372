"""The CLI's edge: every RoarError becomes one line on stderr and its exit code.

Kept free of click so the fast `roar run` path shares it without paying
click's import.
"""

from __future__ import annotations

from collections.abc import Callable

from roar.errors import RoarError


def guarded(action: Callable[[], int]) -> int:
    """Run `action`, turning user-facing failures into (message, exit code)."""
    try:
        return action()
    except RoarError as e:
        from roar.cli.output import error

        error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `roar log | head`
        return 0
