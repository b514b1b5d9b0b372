"""Session commands: `status`, `log`, `dag`, `pop`, `reset`."""

from __future__ import annotations

import os

import click

from roar.errors import NotFound
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


def _confirm(question: str) -> bool:
    """roar-cli's prompt: asked on a terminal or a pipe; Y is the default.

    No answer (end of input) aborts with exit 1, as roar-cli does; `n` is a
    clean "Aborted." with exit 0.
    """
    import sys

    try:
        answer = click.confirm(question, default=True)
    except click.exceptions.Abort:
        click.echo("\nAborted!", err=True)
        sys.exit(1)
    if not answer:
        click.echo("Aborted.")
    return bool(answer)


@click.command()
@click.option("-y", "--yes", is_flag=True, help="Skip confirmation prompt.")
def pop(yes: bool) -> None:
    """Remove the most recent job from the session and delete the outputs it wrote.

    An output is kept when an earlier step of the session also wrote that
    path, or when the file no longer holds what the job wrote.
    """
    from roar import sessions
    from roar.display import printable
    from roar.index.session_index import SessionIndex
    from roar.objects.job import Job

    ws = Workspace.find()
    ref = sessions.active_ref(ws)
    index = SessionIndex(ws)
    steps = index.steps(ref)
    if not steps:
        raise NotFound("the session is empty: nothing to pop")
    last = steps[-1]
    job = ws.objects.read(last.job)
    assert isinstance(job, Job)
    command = " ".join(os.fsdecode(a) for a in job.argv)
    click.echo(f"Step {last.label.lstrip('@')}: {printable(command)} (exit {job.exit_code})")
    if not yes and not _confirm("Remove this job?"):
        return
    removed = sessions.pop(ws, ref)
    earlier = index.jobs([s.job for s in steps[:-1]])
    written_before = {a.path for j in earlier.values() for a in j.outputs}
    click.echo(f"Removed job {removed.job[:12]} (step {removed.label}).")
    deleted = 0
    for a in job.outputs:
        path = os.fsdecode(a.path)
        if not os.path.lexists(path):
            continue
        why = _keep_reason(a, written_before)
        if why:
            click.echo(f"Kept {printable(path)}: {why}")
            continue
        _delete(path)
        deleted += 1
    click.echo(f"Deleted {deleted} output file(s).")


def _keep_reason(artifact, written_before: set[bytes]) -> str | None:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from roar.cli.show import hash_path

    if artifact.path in written_before:
        return "an earlier step also wrote it"
    try:
        if hash_path(Path(os.fsdecode(artifact.path))) != artifact.hash:
            return "it changed since the step wrote it"
    except OSError:
        return "it cannot be read to check that it is the step's output"
    return None


def _delete(path: str) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


@click.command()
@click.option("-y", "--yes", is_flag=True, help="Skip confirmation prompt.")
def reset(yes: bool) -> None:
    """Start a fresh session; the previous one is kept."""
    from roar import sessions
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    old = sessions.active_ref(ws)
    if not yes:
        click.echo(f"Current session has {SessionIndex(ws).counts(old).steps} step(s).")
        if not _confirm("Start a new session?"):
            return
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
