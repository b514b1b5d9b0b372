"""Session commands: `status`, `log`, `dag`, `pop`, `reset`."""

from __future__ import annotations

import os

import click

from roar.workspace import Workspace


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Show a summary of the active session."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    ref = sessions.active_ref(ws)
    index = SessionIndex(ws)
    counts = index.counts(ref)
    data = {
        "session": ref.removeprefix("refs/sessions/"),
        "head": ws.refs.read(ref),
        "steps": counts.steps,
        "jobs": counts.jobs,
        "builds": counts.builds,
    }
    if as_json:
        print_json(data)
        return
    click.echo(f"session {data['session']}: {data['steps']} steps ({data['jobs']} jobs recorded)")
    if counts.last_label:
        click.echo(f"last: {counts.last_label} at {counts.last_time}")


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("-n", "--limit", type=int, default=0, help="Show only the N most recent jobs.")
def log(as_json: bool, limit: int) -> None:
    """Show recent job history of the active session, newest first."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    index, ref = SessionIndex(ws), sessions.active_ref(ws)
    if not as_json:
        text = index.log_text(ref, limit)
        _write_lines(
            [text] if text else ["no jobs in this session yet: prefix a command with `roar run`"]
        )
        return
    rows = list(reversed(index.log_rows(ref)))
    if limit:
        rows = rows[:limit]
    print_json(
        [
            {
                "step": r.label,
                "job": r.job,
                "command": r.command,
                "exit_code": r.exit_code,
                "duration_s": round(r.duration_ns / 1e9, 3),
                "time": r.when,
                "superseded": bool(r.superseded),
            }
            for r in rows
        ]
    )


@click.command()
@click.option("--expanded", is_flag=True, help="Show all executions, including superseded re-runs.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-artifacts", is_flag=True, help="List the artifacts between steps.")
@click.option("--no-color", is_flag=True)
def dag(expanded: bool, as_json: bool, show_artifacts: bool, no_color: bool) -> None:
    """Display the pipeline DAG of the active session."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.display import printable
    from roar.index.session_index import SessionIndex, load_session
    from roar.lineage import build_dag, job_summary, stale_steps

    ws = Workspace.find()
    if as_json:
        view = load_session(ws)
        print_json(
            {
                "session": view.ref.removeprefix("refs/sessions/"),
                "nodes": [
                    {
                        **job_summary(n.step, n.job),
                        "depends_on": n.parents,
                        "stale": n.stale,
                        "superseded": n.step.superseded,
                    }
                    for n in build_dag(view, expanded=expanded)
                ],
            }
        )
        return
    # The text view needs no artifacts unless asked: it reads only the index.
    index = SessionIndex(ws)
    ref = sessions.active_ref(ws)
    rows = index.log_rows(ref)
    # Only a re-run can make a step stale: without one, skip the walk.
    rerun = any(r.superseded for r in rows)
    stale = (
        stale_steps([(r.label, r.time_ns, bool(r.superseded), r.parent_labels) for r in rows])
        if rerun
        else set()
    )
    outputs = index.jobs(r.job for r in rows) if show_artifacts else {}
    if not rows:
        click.echo("the session is empty")
        return
    color = (
        not no_color and "NO_COLOR" not in os.environ and click.get_text_stream("stdout").isatty()
    )
    lines = []
    for r in rows:
        if r.superseded and not expanded:
            continue
        arrow = f"  <- {r.parents.replace(',', ', ')}" if r.parents else ""
        flags = ""
        if r.exit_code or r.superseded or r.seq in stale:
            flags = "".join(
                [
                    " [stale]" if r.seq in stale else "",
                    " [superseded]" if r.superseded else "",
                    f" [exit {r.exit_code}]" if r.exit_code else "",
                ]
            )
        label = f"{r.label:>5}"
        if color:
            label = click.style(label, bold=True)
            flags = click.style(flags, fg="yellow") if flags else ""
        lines.append(f"{label} {printable(r.command)}{arrow}{flags}")
        if show_artifacts:
            for a in outputs[r.job].outputs:
                lines.append(f"        -> {a.hash[:12]} {os.fsdecode(a.path)}")
    _write_lines(lines)


@click.command()
@click.option("-y", "--yes", is_flag=True, help="Also delete the outputs it wrote, without asking.")
def pop(yes: bool) -> None:
    """Remove the most recent job from the session (and, if confirmed, its outputs)."""
    from roar import sessions
    from roar.display import printable
    from roar.objects.job import Job

    ws = Workspace.find()
    removed = sessions.pop(ws)
    job = ws.objects.read(removed.job)
    assert isinstance(job, Job)
    click.echo(
        f"popped {removed.label} ({removed.job[:12]}): {' '.join(printable(a) for a in job.argv)}"
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

    ws = Workspace.find()
    if not yes and click.get_text_stream("stdin").isatty():
        click.confirm("Start a new session?", default=True, abort=True)
    old = sessions.active_ref(ws)
    new = sessions.reset(ws)
    name, previous = new.removeprefix("refs/sessions/"), old.removeprefix("refs/sessions/")
    click.echo(f"new session {name} (previous: {previous})")


def _write_lines(lines: list[str]) -> None:
    # One write: a 10,000-step session prints in milliseconds, not per-line echo time.
    import sys

    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `roar log | head`
        os._exit(0)
