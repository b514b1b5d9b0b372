"""`roar reproduce <hash>`: print the plan; with --run, make the artifact again and verify it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

SHOWN_PACKAGES = 10
STATUS_TEXT = {
    "available": "available",
    "obtainable": "obtainable",
    "repository": "in repository",
    "missing": "MISSING",
}


@click.command()
@click.argument("digest", required=False)
@click.option("--lineage", is_flag=True, help="DIGEST is a session: reproduce all its steps.")
@click.option("--plan", "plan_only", is_flag=True, help="Show the plan and run nothing (default).")
@click.option("--run", "run_it", is_flag=True, help="Run the plan after showing it.")
@click.option("-y", "--yes", is_flag=True, help="Run without asking.")
@click.option("--dir", "directory", type=click.Path(path_type=Path),
              help="Where to reproduce (default: ./reproduce-<hash>).")  # fmt: skip
@click.option("--clean", is_flag=True,
              help="With --run: remove what a failed reproduction left in the directory and "
              "start over (default: resume it).")  # fmt: skip
@click.option("--full-environment", is_flag=True,
              help="Install every package of the recorded environment, not only the "
              "packages the steps read.")  # fmt: skip
@click.option("--inputs", "search", multiple=True, type=click.Path(path_type=Path, exists=True),
              help="Another directory to look for root inputs in (repeatable).")  # fmt: skip
@click.option("--pip-any-version", is_flag=True, help="Install recorded packages at any version.")
@click.option("--package-sync", is_flag=True,
              help="Show the system packages the steps read, then install the missing ones "
              "with apt-get (Debian, Ubuntu; asks unless -y).")  # fmt: skip
@click.option("--list-requirements", is_flag=True, help="Print every recorded package and exit.")
@click.option("--script", "script", is_flag=False, flag_value="-", default=None,
              help="Print the plan as an editable shell script (--script FILE: write it "
              "there) instead of running it.")  # fmt: skip
@click.option("--export-requirements", "requirements", type=click.Path(path_type=Path),
              help="Write the recorded pip pins to a requirements file and exit.")  # fmt: skip
@click.option("--no-puts", is_flag=True,
              help="roar-cli's; plans never re-run put jobs, so always the case here.")  # fmt: skip
@click.option("--step-timeout", type=click.IntRange(min=1), envvar="ROAR_REPRODUCE_STEP_TIMEOUT",
              help="With --run: seconds a step may take before it is killed.")  # fmt: skip
@click.option("--remote", "remote_name",
              help="Remote (a name, or a registry URL) to fetch the lineage from.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def reproduce(
    digest: str | None,
    lineage: bool,
    plan_only: bool,
    run_it: bool,
    yes: bool,
    directory: Path | None,
    clean: bool,
    full_environment: bool,
    search: tuple[Path, ...],
    pip_any_version: bool,
    package_sync: bool,
    list_requirements: bool,
    script: str | None,
    requirements: Path | None,
    no_puts: bool,
    step_timeout: int | None,
    remote_name: str | None,
    as_json: bool,
) -> None:
    """Show how DIGEST (an artifact, job or session hash, or a path) was made; with
    --run, make it again. Works outside a workspace too, with a remote given by
    --remote or `roar config set --global glaas.url`."""
    from roar.cli.output import print_json, warn
    from roar.display import printable
    from roar.errors import ReproduceError, UsageError
    from roar.reproduce.plan import make_plan
    from roar.reproduce.script import shell_script

    if digest is None and script not in (None, "-"):
        # roar-cli's --script is a flag: `reproduce --script HASH` means stdout.
        digest, script = script, "-"
    if digest is None:
        raise UsageError("name the artifact: roar reproduce <hash>")
    if plan_only and run_it:
        raise UsageError("--plan shows the plan without running it; leave out --run")
    ws = _workspace()
    plan = make_plan(
        ws, digest, lineage=lineage, search=list(search), fetch=_fetcher(ws, remote_name),
        full_environment=full_environment,
    )  # fmt: skip
    if list_requirements:
        _print_requirements(plan, as_json)
        return
    if requirements is not None:
        _export_requirements(plan, requirements)
        return
    if script is not None:
        patch = (
            ws.objects.read(plan.source.patch).data if plan.source and plan.source.patch else None
        )
        # Bytes as recorded: a patch need not be UTF-8.
        data = shell_script(plan, patch).encode("utf-8", "surrogateescape")
        if script == "-":
            click.get_binary_stream("stdout").write(data)
            return
        from roar.atomic import write_atomic

        write_atomic(Path(script), data)
        Path(script).chmod(0o755)
        click.echo(f"wrote {script}")
        return
    apt = None
    if package_sync:
        from roar.reproduce.system import plan_sync

        apt = plan_sync(plan.system_packages)
    if as_json and not run_it and not package_sync:
        print_json(plan.to_json())
        return
    _print_plan(plan, out=sys.stderr if as_json else sys.stdout)
    for w in plan.warnings:
        warn(w)
    if apt is not None:
        _sync_system(apt, yes, out=sys.stderr if as_json else sys.stdout)
        if as_json and not run_it:
            print_json({**plan.to_json(), "system_sync": apt.to_json()})
            return
    if not run_it:
        if plan.missing or plan.outside:
            sys.exit(ReproduceError.exit_code)
        return
    if not yes and not (sys.stdin.isatty() and click.confirm("Run this plan?", default=False)):
        raise ReproduceError("not run (confirm on a terminal, or pass -y)")
    from roar.reproduce.run import reproduce as run_plan

    target = (directory or Path.cwd() / f"reproduce-{plan.target[:12]}").absolute()
    result = run_plan(
        ws, plan, target, any_version=pip_any_version, package_sync=package_sync,
        say=lambda line: click.echo(printable(line), err=True), step_timeout=step_timeout,
        clean=clean,
    )  # fmt: skip
    if as_json:
        print_json({"plan": plan.to_json(), "result": result.to_json()})
    else:
        _print_result(result)
    if not result.identical:
        sys.exit(1)


def _workspace():  # type: ignore[no-untyped-def]
    """This workspace; outside one, the user's lineage cache (a workspace of its own,
    under $XDG_CACHE_HOME/roar/lineage), so a hash someone sent can be reproduced
    anywhere."""
    from roar.errors import LegacyWorkspace, NotAWorkspace
    from roar.workspace import Workspace

    try:
        return Workspace.find()
    except LegacyWorkspace:
        raise  # a roar-cli workspace here: its history is imported, not bypassed
    except NotAWorkspace:
        from roar.config import user_cache_dir

        ws, _ = Workspace.create(user_cache_dir() / "lineage")
        return ws


def _fetcher(ws, remote_name: str | None):  # type: ignore[no-untyped-def]
    """Fetch a lineage from the remote, for a name the workspace does not know."""

    def fetch(text: str) -> int:
        from roar.cli.register import remote_hash
        from roar.errors import NotFound, RemoteError
        from roar.remote.client import connect
        from roar.remote.fetch import fetch as fetch_closure

        remote, client = connect(ws, remote_name)
        try:
            digest = remote_hash(client, text)
            click.echo(f"fetching the lineage of {digest[:12]} from {remote.url}", err=True)
            return fetch_closure(ws, remote, client, digest).received
        except (NotFound, RemoteError) as e:
            raise NotFound(f"{text} is not known here, and {e}") from None

    return fetch


def _export_requirements(plan, path: Path) -> None:  # type: ignore[no-untyped-def]
    from roar.atomic import write_atomic

    lines = [f"# pip pins recorded for {plan.target[:12]} (roar reproduce --export-requirements)"]
    if plan.python:
        lines.append(f"# python {plan.python.version}")
    lines += [f"{name}=={version}" for name, version in plan.packages]
    write_atomic(path, ("\n".join(lines) + "\n").encode())
    click.echo(f"Wrote {len(plan.packages)} pip requirement(s) to {path}")


def _print_requirements(plan, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    from roar.cli.output import print_json

    if as_json:
        print_json({"python": plan.to_json()["python"], "packages": plan.to_json()["packages"]})
        return
    from roar.display import printable

    if plan.python:
        click.echo(f"# python {printable(plan.python.version)}")
    for name, version in plan.packages:
        click.echo(printable(f"{name}=={version}"))


def _print_plan(plan, out) -> None:  # type: ignore[no-untyped-def]
    from roar.capture.secrets import mask
    from roar.display import printable

    def say(text: str = "") -> None:
        click.echo(printable(text), file=out)

    say(f"reproduce {plan.target_kind} {plan.target}")
    if plan.fetched:
        say(f"  (fetched {plan.fetched} objects of its lineage)")
    if plan.source:
        s = plan.source
        if s.url == s.repo:
            say(f"repository: unknown (no git remote recorded; the work tree here: {s.url})")
        else:
            say(f"repository: {mask(s.url)}")
        say(f"  commit {s.commit}" + (f" ({s.branch})" if s.branch else ""))
        if s.patch:
            say(f"  uncommitted changes recorded: patch {s.patch[:12]} is applied")
    say("steps:")
    for step in plan.steps:
        kind = "build" if step.type == "build" else "run  "
        say(f"  {step.label:>5} {kind} {step.command}")
    if plan.python:
        say(f"python: {plan.python.version} ({plan.python.executable})")
    shown = plan.packages[:SHOWN_PACKAGES]
    more = len(plan.packages) - len(shown)
    read = "recorded environment" if plan.full_environment else "read by the steps"
    say(
        f"packages ({read}): {len(plan.packages)}"
        + (": " + ", ".join(f"{n}=={v}" for n, v in shown) if shown else "")
        + (f", ... {more} more (--list-requirements)" if more > 0 else "")
    )
    say("inputs:")
    for ri in plan.inputs:
        where = ""
        if ri.status == "available" and ri.found:
            where = f"  at {os.path.relpath(ri.found)}"
        elif ri.status == "obtainable" and ri.getter:
            where = f"  from {ri.getter.url}"
        say(f"  {STATUS_TEXT[ri.status]:<13} {ri.hash[:12]}  {os.fsdecode(ri.path)}{where}")
    if not plan.inputs:
        say("  (none)")
    if plan.outside:
        say("refused, would not stay inside the reproduction directory:")
        for line in plan.outside:
            say(f"  {line}")


def _print_result(result) -> None:  # type: ignore[no-untyped-def]
    from roar.display import printable

    click.echo(f"reproduced in {printable(str(result.directory))} ({result.seconds:.1f}s)")
    for c in result.checks:
        mark = "identical" if c.identical else "DIFFERS  " if c.actual else "NOT MADE "
        got = "" if c.identical else f"  got {c.actual[:12] if c.actual else '-'}"
        click.echo(f"  {mark} {c.expected[:12]}  {c.step:>5} {printable(c.path)}{got}")
    d = result.first_divergence
    if d is None:
        click.echo(f"all {len(result.checks)} artifacts are byte-identical")
    else:
        click.echo(f"first divergence: step {d.label} ({printable(d.command)})")


def _sync_system(apt, yes: bool, out) -> None:  # type: ignore[no-untyped-def]
    """--package-sync: show the system packages, then install the missing ones."""
    import shlex

    from roar.display import printable
    from roar.reproduce.system import sync

    def say(text: str) -> None:
        click.echo(printable(text), file=out)

    total = len(apt.installed) + len(apt.missing)
    say(f"system packages read by the steps: {total}, {len(apt.installed)} installed here")
    for name, recorded, here in apt.installed:
        if recorded and recorded != here:
            say(f"  {name}: recorded {recorded}, {here} here")
    if apt.command is None:
        say("  nothing to install")
        return
    say("  missing: " + ", ".join(f"{n}={v}" if v else n for n, v in apt.missing))
    for name in apt.other_version:
        say(f"  {name}: apt does not offer the recorded version; its own is installed")
    say(f"  command: {shlex.join(apt.command)}")
    sync(apt, yes=yes, confirm=lambda: sys.stdin.isatty() and click.confirm(
        "Install them with apt-get?", default=False))  # fmt: skip
    say(f"  installed {len(apt.missing)} system package(s)")
