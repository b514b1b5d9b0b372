"""Click wrappers of `roar run` / `roar build` (help text, `roar --help` listing).

The work, and the fast path that skips click, are in roar.cli.run.
"""

from __future__ import annotations

import sys

import click

from roar.cli.run import record


def _command(step_kind: str):  # type: ignore[no-untyped-def]
    @click.command(
        name=step_kind,
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )
    @click.option("-q", "--quiet", is_flag=True, help="Print no report after the run.")
    @click.option("-v", "--verbose", is_flag=True, help="List every file read and written.")
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED, required=True)
    def command(quiet: bool, verbose: bool, argv: tuple[str, ...]) -> None:
        sys.exit(record(step_kind, list(argv), quiet=quiet, verbose=verbose))

    command.help = (
        "Run a command with provenance tracking (`roar run @N --k=v` re-runs step N)."
        if step_kind == "run"
        else "Run a build step (compiling, installing); build steps run first on reproduce."
    )
    return command


run = _command("run")
build = _command("build")
