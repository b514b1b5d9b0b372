"""Session commands: `status`, `log`, `dag`, `pop`, `reset`."""

from __future__ import annotations

import operator
import os

import click

from roar.errors import NotFound
from roar.workspace import Workspace


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Show a summary of the active session."""
    from roar.cli.output import print_json
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    ref = ws.refs.head_target()
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
    from roar.cli.output import print_json
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    index, ref = SessionIndex(ws), ws.refs.head_target()
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
    """Display the pipeline DAG of the active session, in dependency order."""
    from roar.display import printable
    from roar.index.source import IndexSource
    from roar.lineage import dag as rules
    from roar.lineage.producers import Facts

    ws = Workspace.find()
    source = IndexSource(ws)
    facts = Facts(source)
    ref = ws.refs.head_target()
    if as_json:
        from roar.cli.output import print_json
        from roar.lineage.views import session_dag

        print_json(session_dag(facts, ref, ws.refs.read(ref), expanded=expanded).to_json())
        return
    # The text view reads only the index: the step rows, and reads from re-run steps.
    index = source.index
    rows = index.dag_rows(ref)
    if not rows:
        click.echo("the session is empty")
        return
    live = [r for r in rows if not r.superseded]
    stale: set[str] = set()
    if len(live) < len(rows):  # only a re-run can make a step stale
        stale = rules.stale(
            {r.label: r.job for r in live},
            index.stale_reads(ref),
            lambda j: facts.writes(facts.jobs([j])[j]),
        )
    ranked = rules.order(
        map(operator.itemgetter(1, 4, 5), live),  # (label, step_kind, step)
        {r[1]: r[6].split(",") for r in live if r[6]},  # label -> parents
    )
    if not expanded and ranked == [r.label for r in live]:
        shown = live  # already in dependency order: the common case
    else:
        position = {label: i for i, label in enumerate(ranked)}
        shown = sorted(
            (r for r in rows if expanded or not r.superseded), key=lambda r: position[r.label]
        )
    outside = _outside_inputs(facts, ref, shown) if show_artifacts else {}
    color = (
        not no_color and "NO_COLOR" not in os.environ and click.get_text_stream("stdout").isatty()
    )
    lines = []
    for r in shown:
        arrow = f"  <- {r.parents.replace(',', ', ')}" if r.parents else ""
        line = f"{r.label:>5} {printable(r.command)}{arrow}"
        if r.exit_code or r.superseded or r.label in stale:
            flags = "".join(
                [
                    " [stale]" if not r.superseded and r.label in stale else "",
                    " [superseded]" if r.superseded else "",
                    f" [exit {r.exit_code}]" if r.exit_code else "",
                ]
            )
            line += click.style(flags, fg="yellow") if color else flags
        if color:
            line = click.style(line[:5], bold=True) + line[5:]
        lines.append(line)
        if show_artifacts:
            lines += [f"        <- {printable(text)}" for text in outside.get(r.seq, [])]
            for a in facts.jobs([r.job])[r.job].outputs:
                lines.append(f"        -> {a.hash[:12]} {printable(a.path)}")
    _write_lines(lines)


def _outside_inputs(facts, ref: str, rows) -> dict[int, list[str]]:  # type: ignore[no-untyped-def]
    """seq -> what the step read that no step shown wrote: from a superseded execution,
    another session or a fetched lineage (docs/lineage.md §4), as `hash path (from ...)`."""
    from roar.lineage.producers import Ask, choose
    from roar.lineage.views import job_views, session_name

    jobs = facts.jobs(r.job for r in rows)
    shown = {r.job for r in rows}
    asks = {r.seq: [Ask(a.hash, r.job) for a in jobs[r.job].inputs] for r in rows}
    chosen = choose(facts, [a for batch in asks.values() for a in batch])
    views = job_views(facts, {p for p in chosen.values() if p and p not in shown}, ref)
    out: dict[int, list[str]] = {}
    for r in rows:
        for ask, art in zip(asks[r.seq], jobs[r.job].inputs, strict=True):
            view = views.get(chosen[ask] or "")
            if view is None:
                continue
            if view.step and view.placement and view.placement.ref == ref:
                where = view.step.label + (", superseded" if view.step.superseded else "")
            elif view.step and view.placement:
                where = f"{view.step.label} of session {session_name(view.placement.ref)}"
            else:
                where = f"job {view.id[:12]}, in no session here"
            out.setdefault(r.seq, []).append(
                f"{art.hash[:12]} {os.fsdecode(art.path)} (from {where})"
            )
    return out


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
    job = ws.objects.read_kind(last.job, Job)
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
    from roar.hashing import hash_path

    if artifact.path in written_before:
        return "an earlier step also wrote it"
    try:
        if hash_path(os.fsdecode(artifact.path)) != artifact.hash:
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
@click.option("--name", help="Name the new session (default: s-<date>-<time>).")
def reset(yes: bool, name: str | None) -> None:
    """Start a fresh session; the previous one is kept."""
    from roar import sessions
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    old = sessions.active_ref(ws)
    if not yes:
        click.echo(f"Current session has {SessionIndex(ws).counts(old).steps} step(s).")
        if not _confirm("Start a new session?"):
            return
    new = sessions.reset(ws, name)
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
