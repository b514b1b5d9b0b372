"""Session commands: `status`, `log`, `dag`, `pop`, `reset`."""

from __future__ import annotations

import os
import time

import click


def _ws():  # type: ignore[no-untyped-def]
    from roar.workspace import Workspace

    return Workspace.find()


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Show a summary of the active session."""
    from roar import sessions
    from roar.cli.output import print_json

    ws = _ws()
    ref = sessions.active_ref(ws)
    steps = sessions.history(ws, ref)
    live = sessions.current_steps(steps)
    data = {
        "session": ref.removeprefix("refs/sessions/"),
        "head": ws.refs.read(ref),
        "steps": len(live),
        "jobs": len(steps),
        "builds": sum(1 for s in live if s.step_kind == "build"),
    }
    if as_json:
        print_json(data)
        return
    click.echo(f"session {data['session']}: {data['steps']} steps ({data['jobs']} jobs recorded)")
    if live:
        click.echo(f"last: {live[-1].label} at {_when(live[-1].time_ns)}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("-n", "--limit", type=int, default=0, help="Show only the N most recent jobs.")
def log(as_json: bool, limit: int) -> None:
    """Show recent job history of the active session, newest first."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.objects.job import Job

    ws = _ws()
    steps = list(reversed(sessions.history(ws)))
    if limit:
        steps = steps[:limit]
    rows = []
    for s in steps:
        job = ws.objects.read(s.job)
        assert isinstance(job, Job)
        rows.append(
            {
                "step": s.label,
                "job": s.job,
                "command": " ".join(os.fsdecode(a) for a in job.argv),
                "exit_code": job.exit_code,
                "duration_s": round(job.duration_ns / 1e9, 3),
                "time": _when(s.time_ns),
                "superseded": s.superseded,
            }
        )
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no jobs in this session yet: prefix a command with `roar run`")
    for r in rows:
        mark = " (superseded)" if r["superseded"] else ""
        code = "" if r["exit_code"] == 0 else f"  exit {r['exit_code']}"
        click.echo(f"{r['step']:>5}  {r['job'][:12]}  {r['time']}  {r['command']}{code}{mark}")


@click.command()
@click.option("--expanded", is_flag=True, help="Show all executions, including superseded re-runs.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-artifacts", is_flag=True, help="List the artifacts between steps.")
@click.option("--no-color", is_flag=True)
def dag(expanded: bool, as_json: bool, show_artifacts: bool, no_color: bool) -> None:
    """Display the pipeline DAG of the active session."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.lineage import build_dag, job_summary

    ws = _ws()
    nodes = build_dag(ws, sessions.history(ws), expanded=expanded)
    if as_json:
        print_json(
            {
                "session": sessions.active_ref(ws).removeprefix("refs/sessions/"),
                "nodes": [
                    {
                        **job_summary(n.step, n.job),
                        "depends_on": n.parents,
                        "stale": n.stale,
                        "superseded": n.step.superseded,
                    }
                    for n in nodes
                ],
            }
        )
        return
    if not nodes:
        click.echo("the session is empty")
        return
    color = (
        not no_color and "NO_COLOR" not in os.environ and click.get_text_stream("stdout").isatty()
    )
    for n in nodes:
        cmd = " ".join(os.fsdecode(a) for a in n.job.argv)
        deps = f"  <- {', '.join(n.parents)}" if n.parents else ""
        flags = "".join(
            [
                " [stale]" if n.stale else "",
                " [superseded]" if n.step.superseded else "",
                f" [exit {n.job.exit_code}]" if n.job.exit_code else "",
            ]
        )
        label = click.style(n.step.label, bold=True) if color else n.step.label
        if color and flags:
            flags = click.style(flags, fg="yellow")
        click.echo(f"{label:>5} {cmd}{deps}{flags}")
        if show_artifacts:
            for a in n.job.outputs:
                click.echo(f"        -> {a.hash[:12]} {os.fsdecode(a.path)}")


@click.command()
@click.option("-y", "--yes", is_flag=True, help="Also delete the outputs it wrote, without asking.")
def pop(yes: bool) -> None:
    """Remove the most recent job from the session (and, if confirmed, its outputs)."""
    from roar import sessions
    from roar.objects.job import Job

    ws = _ws()
    removed = sessions.pop(ws)
    job = ws.objects.read(removed.job)
    assert isinstance(job, Job)
    click.echo(
        f"popped {removed.label} ({removed.job[:12]}): {' '.join(os.fsdecode(a) for a in job.argv)}"
    )
    outputs = [os.fsdecode(a.path) for a in job.outputs if os.path.lexists(a.path)]
    if not outputs:
        return
    if yes or (
        click.get_text_stream("stdin").isatty()
        and click.confirm(f"Delete the {len(outputs)} output(s) it wrote?", default=False)
    ):
        import shutil

        for p in outputs:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p)
            else:
                os.unlink(p)
            click.echo(f"  deleted {p}")


@click.command()
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Start a fresh session; the previous one is kept."""
    from roar import sessions

    ws = _ws()
    if not yes and click.get_text_stream("stdin").isatty():
        click.confirm("Start a new session?", default=True, abort=True)
    old = sessions.active_ref(ws)
    new = sessions.reset(ws)
    name, previous = new.removeprefix("refs/sessions/"), old.removeprefix("refs/sessions/")
    click.echo(f"new session {name} (previous: {previous})")


def _when(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))
