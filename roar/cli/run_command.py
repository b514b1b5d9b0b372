"""Click wrappers of `roar run` / `roar build` (help text, `roar --help` listing).

The options are parsed, and the work done, by the Rust front end
(tracer/src/front.rs); roar.cli.run hands the command line over to it as
typed. The choices listed here are the ones it accepts.
"""

from __future__ import annotations

import click

from roar.cli.run import HASH_ALGORITHMS, TRACER_NAMES, main_fast


def _command(step_kind: str):  # type: ignore[no-untyped-def]
    @click.command(
        name=step_kind,
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )
    @click.option("-q", "--quiet", is_flag=True, help="Print no report after the run.")
    @click.option("-v", "--verbose", is_flag=True, help="List every file read and written.")
    @click.option("-n", "--name", help="Name this step (stored as the job's `name` label).")
    @click.option(
        "--hash",
        "hashes",
        multiple=True,
        type=click.Choice(HASH_ALGORITHMS),
        help="Another digest to record (roar-cli's option; BLAKE3 for now).",
    )
    @click.option(
        "--tracer",
        type=click.Choice(TRACER_NAMES),
        help="roar-cli's tracer choice; roar has one tracer, any name runs it.",
    )
    @click.option(
        "--tracer-fallback/--no-tracer-fallback",
        default=True,
        help="roar-cli's; accepted, roar's tracer has no fallback.",
    )
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED, required=True)
    def command(
        quiet: bool,
        verbose: bool,
        name: str | None,
        hashes: tuple[str, ...],
        tracer: str | None,
        tracer_fallback: bool,
        argv: tuple[str, ...],
    ) -> None:
        flags = ["-q"] * quiet + ["-v"] * verbose + [f"--hash={h}" for h in hashes]
        flags += [f"--name={name}"] if name is not None else []
        main_fast(step_kind, [*flags, "--", *argv])

    command.help = (
        "Run a command with provenance tracking (`roar run @N --k=v` re-runs step N)."
        if step_kind == "run"
        else "Run a build step (compiling, installing); build steps run first on reproduce."
    )
    return command


run = _command("run")
build = _command("build")
