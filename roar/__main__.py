"""Entry point of the `roar` command.

`roar --version` answers before anything else is imported: roar runs in
front of every command, so its start-up is part of every command's time.
"""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from roar import __version__

        sys.stdout.write(f"roar {__version__}\n")
        return
    if args and args[0] in ("run", "build") and not {"-h", "--help"} & set(_options(args[1:])):
        # `roar run` is in front of every traced command: skip click's import
        # and hand it to the Rust front end (see roar.cli.run).
        from roar.cli.run import main_fast

        main_fast(args[0], args[1:])
        return
    from roar.cli.main import run

    run()


def _options(args: list[str]) -> list[str]:
    """The leading option words of `roar run [OPTIONS] COMMAND...`."""
    out = []
    for a in args:
        if not a.startswith("-"):
            break
        out.append(a)
    return out


if __name__ == "__main__":
    main()
