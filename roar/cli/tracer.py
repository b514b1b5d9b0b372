"""`roar tracer`: is the tracer installed and able to work here?"""

from __future__ import annotations

import sys

import click

MECHANISMS = {
    "notify": "seccomp user notification (the command may itself use ptrace)",
    "ptrace": "ptrace, the fallback for kernels before 5.5 (no ptrace inside a job)",
}


ONE_TRACER = "roar has one tracer (seccomp user notification, ptrace as the fallback)"
PATH_MAX = 4096  # bytes: the longest path exec accepts on Linux (limits.h)


def _configured() -> str:
    from roar.errors import NotAWorkspace
    from roar.workspace import Workspace

    try:
        return str(Workspace.find().config.get("tracer.path"))
    except NotAWorkspace:
        return ""


def _status(as_json: bool) -> None:
    from roar.capture import tracer as glue
    from roar.cli.output import print_json
    from roar.errors import TracerUnavailable

    try:
        path = glue.find_tracer(_configured())
    except TracerUnavailable as e:
        if as_json:
            print_json({"ready": False, "path": None, "problems": [str(e)]})
        else:
            click.echo(f"tracer: not installed\n  {e}")
        sys.exit(1)
    check = glue.preflight(path)
    if as_json:
        print_json({"path": str(path), **check.details, "ready": check.ready})
    else:
        click.echo(f"tracer: {path}")
        mechanism = check.details.get("mechanism")
        click.echo(f"  mechanism: {MECHANISMS.get(mechanism, 'none')}")
        for key in ("kernel", "arch", "debuggers", "setuid"):
            if key in check.details:
                click.echo(f"  {key}: {check.details[key]}")
        click.echo("  ready" if check.ready else "  NOT READY")
        for p in check.problems:
            click.echo(f"  - {p}")
    if not check.ready:
        sys.exit(1)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def tracer(ctx: click.Context, as_json: bool) -> None:
    """Show where the tracer is, whether and how it can trace on this machine."""
    if ctx.invoked_subcommand is None:
        _status(as_json)


@tracer.command()
@click.argument("backend", required=False, type=click.Choice(["auto", "ebpf", "preload", "ptrace"]))
@click.option(
    "--command",
    "command",
    metavar="TEXT",
    help="A command (its program's name or path, arguments allowed): what tracing "
    "would mean for it (foreign ABI, setuid, ptrace); examined, never run.",
)
@click.option("--json", "as_json", is_flag=True)
def check(backend: str | None, command: str | None, as_json: bool) -> None:
    """Can roar observe commands here, by which mechanism, and what that
    means for debuggers and setuid programs inside a job? Exit 1 if it cannot,
    or if --command's program would not run or be recorded as it should.

    roar-cli's report (`checks`, `command_checked`, `ok`, `summary`, `tracer`,
    `warnings`), our preflight's details beside it in --json. BACKEND (a
    roar-cli name) is accepted: roar has one tracer.
    """
    import os
    import shlex

    from roar.capture import tracer as glue
    from roar.cli.output import print_json
    from roar.errors import TracerUnavailable, UsageError

    program = None
    if command is not None:
        try:
            program = shlex.split(command)[0]
        except (ValueError, IndexError):
            raise UsageError(f"--command {command!r} is not a command line") from None
        if len(os.fsencode(program)) > PATH_MAX:  # exec refuses it too (ENAMETOOLONG)
            raise UsageError(f"--command: the program name is over {PATH_MAX} bytes")
    try:
        binary = glue.find_tracer(_configured())
        path, found = str(binary), glue.preflight(binary, program)
        details, ready, problems = found.details, found.ready, list(found.problems)
    except TracerUnavailable as e:
        path, details, ready, problems = "", {}, False, [str(e)]
    mechanism = details.get("mechanism")
    checks = [
        {"name": "platform", "ok": sys.platform.startswith("linux"), "detail": sys.platform},
        {"name": "architecture", "ok": "arch" in details, "detail": details.get("arch", "?")},
        {"name": "binary", "ok": bool(path), "detail": path or "not installed"},
        {"name": "kernel", "ok": "kernel" in details, "detail": details.get("kernel", "?")},
        {
            "name": "mechanism",
            "ok": mechanism in MECHANISMS,
            "detail": MECHANISMS.get(mechanism or "", "none: " + "; ".join(problems)),
        },
    ]
    summary = f"{mechanism} preflight succeeded" if ready else "; ".join(problems)
    examined = details.get("command")
    checked, ok = None, ready
    if examined is not None:
        checks += _command_checks(examined)
        failed = [c["detail"] for c in examined["checks"] if not c["ok"]]
        checked = examined["path"] or command
        if ready and failed:  # the tracer is ready; this command would not run as it should
            ok, summary = False, failed[0]
    report = {
        "checks": checks,
        "command_checked": checked,
        "ok": ok,
        "summary": summary,
        "tracer": mechanism or "none",
        "warnings": [],
        "path": path or None,
        **{k: v for k, v in details.items() if k not in ("path",)},
        "ready": ready,
        "problems": problems,
    }
    if as_json:
        print_json(report)
    else:
        from roar.display import printable

        # roar-cli's lines; a failed report goes to stderr, as roar-cli's does
        verdict = "passed" if ok else "failed"
        lines = [f"Tracer check {verdict} for '{report['tracer']}': {summary}"]
        if checked is not None:
            lines.append(f"  command: {checked}")
        lines += [f"  - {c['name']}: {'ok' if c['ok'] else 'fail'} ({c['detail']})" for c in checks]
        # ours: what tracing means inside a job
        lines += [f"  {key}: {details[key]}" for key in ("debuggers", "setuid") if key in details]
        click.echo("\n".join(printable(line) for line in lines), err=not ok)
    if not ok:
        sys.exit(1)


def _command_checks(examined: dict) -> list[dict]:  # type: ignore[type-arg]
    """roar-cli's two rows for --command (`command`: found where; `command_compatibility`:
    `compatible`, or why not), then the tracer's own checks of the program beside them
    as `command_<name>` rows (tracer/src/program.rs decides each)."""
    rows = examined["checks"]
    found = rows[0]  # the tracer's first check is always the program's resolution
    out = [{"name": "command", "ok": found["ok"], "detail": found["detail"]}]
    if not found["ok"]:
        return out
    failed = [c["detail"] for c in rows[1:] if not c["ok"]]
    out.append(
        {
            "name": "command_compatibility",
            "ok": not failed,
            "detail": "; ".join(failed) if failed else "compatible",
        }
    )
    return out + [
        {"name": f"command_{c['name']}", "ok": c["ok"], "detail": c["detail"]} for c in rows[1:]
    ]


@tracer.command()
@click.argument("path")
def use(path: str) -> None:
    """Use the roar-tracer binary at PATH in this workspace (tracer.path).

    roar-cli's backend names (auto, ebpf, preload, ptrace) are accepted: roar
    has one tracer, so each of them selects it and nothing is stored.
    """
    import os

    from roar.cli.run import TRACER_NAMES
    from roar.errors import UsageError
    from roar.workspace import Workspace

    if path in TRACER_NAMES:
        click.echo(f"{ONE_TRACER}; '{path}' selects it, nothing to set")
        return
    full = os.path.realpath(path)
    if not os.path.isfile(full):
        raise UsageError(f"{path}: not a tracer name ({', '.join(TRACER_NAMES)}) and no such file")
    Workspace.find().config.set("tracer.path", full)
    click.echo(f"tracer.path = {full}")
    _status(False)


@tracer.command()
@click.argument("backend", type=click.Choice(["auto", "ebpf", "preload", "ptrace"]))
@click.option("--path", metavar="PATH", help="roar-cli's eBPF tracer binary: not used here.")
def enable(backend: str, path: str | None) -> None:
    """roar-cli's `tracer enable BACKEND`: roar has one tracer, ready without setup.

    `ebpf` (the one roar-cli sets up) selects it and succeeds; `preload` and `ptrace`
    answer as roar-cli does (nothing to set up, exit 2), and `auto` is refused as
    roar-cli refuses it.
    """
    from roar.errors import UsageError

    if backend == "auto":  # roar-cli's words
        raise UsageError(
            "`auto` is a selection policy, not a tracer — nothing to enable. "
            "Pick a specific tracer (`roar tracer enable ebpf`)."
        )
    if backend != "ebpf":  # roar-cli's lines and exit status, observed
        click.echo(
            f"{backend} works out of the box — no host setup needed.\n"
            f"Run `roar tracer check {backend}` to verify readiness.",
            err=True,
        )
        sys.exit(2)
    click.echo(f"{ONE_TRACER}; '{backend}' selects it, nothing to enable")
    if path is not None:
        from roar.display import printable

        click.echo(
            printable(
                f"--path {path} not used: it names roar-cli's eBPF tracer; "
                "`roar tracer use PATH` sets roar's"
            )
        )
