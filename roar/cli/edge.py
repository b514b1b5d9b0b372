"""The CLI's edge: every RoarError becomes one line on stderr and its exit code.

Kept free of click so the fast `roar run` path shares it without paying
click's import.
"""

from __future__ import annotations

from collections.abc import Callable

from roar.errors import LegacyWorkspace, RoarError


def guarded(action: Callable[[], int]) -> int:
    """Run `action`, turning user-facing failures into (message, exit code).

    In a roar-cli workspace not imported yet, a terminal is asked whether to
    import it, and the action runs again once it is.
    """
    try:
        try:
            return action()
        except LegacyWorkspace as e:
            import sys

            if not sys.stdin.isatty():
                raise
            from roar.cli.import_history import offer

            if not offer(e.root, yes=False):  # type: ignore[arg-type]
                raise
            return action()
    except RoarError as e:
        from roar.cli.output import error

        error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `roar log | head`
        return 0
