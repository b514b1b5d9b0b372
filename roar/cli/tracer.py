"""`roar tracer`: is the tracer installed and able to work here?"""

from __future__ import annotations

import sys

import click

MECHANISMS = {
    "notify": "seccomp user notification (the command may itself use ptrace)",
    "ptrace": "ptrace, the fallback for kernels before 5.5 (no ptrace inside a job)",
}


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
@click.option("--json", "as_json", is_flag=True)
def check(backend: str | None, as_json: bool) -> None:
    """Can roar observe commands here, by which mechanism, and what that
    means for debuggers and setuid programs inside a job? Exit 1 if it cannot.

    roar-cli's report (`checks`, `ok`, `summary`, `tracer`, `warnings`), our
    preflight's details beside it in --json. BACKEND (a roar-cli name) is
    accepted: roar has one tracer.
    """
    from roar.capture import tracer as glue
    from roar.cli.output import print_json
    from roar.errors import TracerUnavailable

    try:
        binary = glue.find_tracer(_configured())
        path, found = str(binary), glue.preflight(binary)
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
    report = {
        "checks": checks,
        "command_checked": None,
        "ok": ready,
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
        verdict = "passed" if ready else "failed"
        click.echo(f"Tracer check {verdict} for '{report['tracer']}': {summary}")
        for c in checks:
            click.echo(f"  - {c['name']}: {'ok' if c['ok'] else 'FAILED'} ({c['detail']})")
        for key in ("debuggers", "setuid"):  # ours: what tracing means inside a job
            if key in details:
                click.echo(f"  {key}: {details[key]}")
    if not ready:
        sys.exit(1)


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
        click.echo(
            "roar has one tracer (seccomp user notification, ptrace as the fallback); "
            f"'{path}' selects it, nothing to set"
        )
        return
    full = os.path.realpath(path)
    if not os.path.isfile(full):
        raise UsageError(f"{path}: not a tracer name ({', '.join(TRACER_NAMES)}) and no such file")
    Workspace.find().config.set("tracer.path", full)
    click.echo(f"tracer.path = {full}")
    _status(False)
