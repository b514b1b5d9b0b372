"""Entry point of the `roar` command.

`roar --version` answers before anything else is imported: roar runs in
front of every command, so its start-up is part of every command's time.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from roar import __version__

        sys.stdout.write(f"roar {__version__}\n")
        return
    from roar.cli.main import run

    run()


if __name__ == "__main__":
    main()
