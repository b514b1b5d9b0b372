"""Session commands: `status`, `log`, `dag`, `pop`, `reset`."""

from __future__ import annotations

import os

import click

from roar.errors import NotFound
from roar.workspace import Workspace

STATUS_ARTIFACTS = 50  # the newest outputs `roar status` lists


@click.command()
@click.option(
    "--untracked-dirs",
    is_flag=True,
    help="List output artifacts whose directory won't exist on a clean checkout "
    "(untracked in-repo dirs, or paths outside the repo).",
)
@click.option("--json", "as_json", is_flag=True)
def status(untracked_dirs: bool, as_json: bool) -> None:
    """Show the git state and a summary of the active session (roar-cli's lines)."""
    from pathlib import Path

    from roar.capture import git
    from roar.cli.output import print_json
    from roar.display import printable
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    ref = ws.refs.head_target()
    index = SessionIndex(ws)
    if untracked_dirs:
        _untracked_dirs(index, ref, as_json)
        return
    counts = index.counts(ref)
    head = ws.refs.read(ref)
    data = {
        "session": ref.removeprefix("refs/sessions/"),
        "head": head,
        "steps": counts.steps,
        "jobs": counts.jobs,
        "builds": counts.builds,
    }
    if as_json:
        print_json(data)
        return
    state = git.git_context(Path.cwd(), None)
    if state is None:
        lines = ["Git:       (not in a git repository, or no commit yet)"]
    else:
        where = f"{printable(state.get('branch') or '(detached)')} @ {state['commit'][:7]}"
        lines = [
            f"Git:       clean — {where}  ('roar run' ready)"
            if not state["dirty"]
            else f"Git:       dirty — {where}  (uncommitted changes: each run records the patch)"
        ]
    latest = index.latest(ref)
    ago = _ago(latest.time_ns) if latest else "just now"
    runs, builds = counts.steps - counts.builds, counts.builds
    session = f"Session:   {head or '(no steps yet)'}"
    if counts.jobs:
        session += (f"  ·  {runs} run step{'s' * (runs != 1)}"
                    f"  ·  {builds} build step{'s' * (builds != 1)}")  # fmt: skip
    lines.append(f"{session}  ·  {ago}")
    if latest:
        lines.append(
            printable(f"Latest:    {latest.label} {latest.command}")
            + f"  ·  {latest.duration_ns / 1e9:.1f}s  ·  {ago}"
        )
        outputs = index.recent_outputs(ref, STATUS_ARTIFACTS)
        lines += ["", f"Artifacts ({len(outputs)}):"]
        width = max((len(_size(size)) for _, size, _ in outputs), default=0)
        lines += [
            printable(f"  {digest[:12]}  {_size(size):>{width}}  {os.fsdecode(path)}")
            for digest, size, path in outputs
        ]
    _write_lines(lines)


def _untracked_dirs(index, ref: str, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """`status --untracked-dirs`: the session's outputs (as `status` lists them, all of
    them) whose directory a clean checkout of the current commit would not create."""
    from pathlib import Path

    from roar.capture import git
    from roar.cli.output import print_json
    from roar.display import printable

    state = git.git_context(Path.cwd(), None)
    repo, commit = (state["repo"], state["commit"]) if state else (None, None)
    if repo is None and not as_json:  # roar-cli's line, byte for byte
        _write_lines(["Not in a git repository — artifact-path tracking doesn't apply."])
        return
    outputs = index.recent_outputs(ref, None)
    missing = set(git.missing_on_checkout(repo, commit, [p for _, _, p in outputs]))
    listed = [(digest, path) for digest, _, path in outputs if path in missing]
    if as_json:
        prefix = os.fsencode(repo).rstrip(b"/") + b"/" if isinstance(repo, str) else None
        print_json(
            {
                "repo": repo if isinstance(repo, str) else None,
                "commit": commit,
                "artifacts": [
                    {
                        "path": os.fsdecode(path),
                        "hash": digest,
                        "directory": os.fsdecode(os.path.dirname(path)),
                        "in_repo": prefix is not None and path.startswith(prefix),
                    }
                    for digest, path in listed
                ],
            }
        )
        return
    if not listed:  # roar-cli's lines, byte for byte
        _write_lines(["All artifact paths are in tracked directories."])
        return
    _write_lines(
        [
            f"Artifacts in untracked directories ({len(listed)}):",
            *(printable(f"  {os.fsdecode(path)}") for _, path in listed),
            "",
            "These directories won't exist on a clean checkout, so reproduction may fail "
            "unless the run recreates them.",
            "Add a .gitkeep (or any tracked file) to each so a fresh checkout includes it.",
        ]
    )


def _size(n: int) -> str:
    from roar.cli.showtext import size_text

    return size_text(n)


def _ago(ns: int) -> str:
    import time

    s = max(0, time.time() - ns / 1e9)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= length:
            return f"{int(s // length)}{unit} ago"
    return "just now"


@click.command()
@click.option("--json", "as_json", is_flag=True)
@click.option("-n", "--limit", type=int, default=0, help="Show only the N most recent jobs.")
def log(as_json: bool, limit: int) -> None:
    """Show the job history of the active session, oldest first, as roar-cli's table
    (superseded executions included); --json lists newest first."""
    from roar.index.session_index import LOG_HEADER, SessionIndex

    ws = Workspace.find()
    index, ref = SessionIndex(ws), ws.refs.head_target()
    if not as_json:
        # roar-cli's table: the rows are stored as steps arrive (session_index.log_line).
        count, body = index.log_lines(ref, limit)
        if not count:
            _write_lines(["No log entries found."])
            return
        header = ["", f"Job Log ({count} jobs)", "", LOG_HEADER, "-" * 72]
        _write_lines([*header, body])
        return
    from roar.cli.output import print_json

    rows = index.log_rows(ref)
    if limit > 0:
        rows = rows[-limit:]
    print_json(
        [
            {
                "step": r.label,
                "job": r.job,
                "job_uid": r.job[:8],
                "command": r.command,
                "exit_code": r.exit_code,
                "interrupted": bool(r.interrupted),
                "duration_s": round(r.duration_ns / 1e9, 3),
                "time": r.when,
                "superseded": bool(r.superseded),
            }
            for r in reversed(rows)
        ]
    )


@click.command()
@click.option("--expanded", is_flag=True, help="Show all executions, including superseded re-runs.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--show-artifacts", is_flag=True, help="List intermediate artifacts too.")
@click.option("--stale-only", is_flag=True, help="Show only stale steps.")
@click.option("--session", "session", help="Another session: its name, id, or a hash prefix.")
@click.option("--no-color", is_flag=True)
def dag(
    expanded: bool,
    as_json: bool,
    show_artifacts: bool,
    stale_only: bool,
    session: str | None,
    no_color: bool,
) -> None:
    """Display the pipeline DAG of the active session, in dependency order.

    Text and --json as roar-cli 0.4.7 prints them (docs/roar-cli-compat.md);
    our fields are beside roar-cli's in --json.
    """
    ws = Workspace.find()
    if session is None and not (expanded or stale_only or show_artifacts):
        # The plain answers are kept in the index for the session's head (docs/architecture.md,
        # inspection): asked again before the session moves, they are printed, not recomputed.
        _write_text(_kept_dag(ws, as_json))
        return
    _write_text(_dag_answer(ws, expanded, as_json, show_artifacts, stale_only, session))


def _kept_dag(ws: Workspace, as_json: bool) -> str:
    """The plain `dag` (text or --json) of the active session: the answer kept for its
    head, or computed and kept. Kept only when the ref and the labels stood still while
    it was computed, so an answer is never kept under a head it was not made from, and
    once every composite the index knows has its tree object (members that arrive later
    would change the edges)."""
    from roar import labels
    from roar.index.session_index import SessionIndex

    ref = ws.refs.head_target()
    head = ws.refs.read(ref)
    index = SessionIndex(ws)
    if as_json:
        from roar import sessions

        key, extra = "dag-json", f" session_id={sessions.number(ws, ref)}"
    else:
        from roar.cli.dagtext import width

        key, extra = f"dag-text {width()}", ""
    labelled = labels.stamp(ws)
    stamp = f"{_code_stamp()}{extra} labels={labelled}"
    if head is not None:
        kept = index.answer(ref, key, head, stamp)
        if kept is not None:
            return kept.decode("utf-8", "surrogateescape")
    text = _dag_answer(ws, False, as_json, False, False, None)
    if (
        head is not None
        and ws.refs.read(ref) == head
        and labels.stamp(ws) == labelled
        and index.trees_known()
    ):
        index.keep_answer(ref, key, head, stamp, text.encode("utf-8", "surrogateescape"))
    return text


def _code_stamp() -> str:
    """The roar version and the newest change to the code that computes `dag`'s answers
    (roar/cli, roar/index, roar/lineage and the top-level modules): a kept answer is
    never printed by code other than the code that made it (an upgrade, or an edit in
    a development checkout)."""
    import roar

    root = os.path.dirname(roar.__file__)
    newest = 0
    for folder in (root, *(os.path.join(root, d) for d in ("cli", "index", "lineage"))):
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.endswith(".py"):
                    newest = max(newest, e.stat().st_mtime_ns)
    return f"roar={roar.__version__} code={newest}"


def _dag_answer(
    ws: Workspace,
    expanded: bool,
    as_json: bool,
    show_artifacts: bool,
    stale_only: bool,
    session: str | None,
) -> str:
    """What `roar dag` prints, computed from the index and the rules."""
    from roar import labels
    from roar.cli import dagtext
    from roar.index.source import local
    from roar.lineage.producers import Facts

    source, resolver = local(ws)
    ref, head = resolver.active_ref, None
    if session is not None:
        ref, head = _session(ws, resolver, session)
    else:
        head = ws.refs.read(ref)
    facts = Facts(source)
    if not as_json and session is None:
        # The text of the active session reads only the index: fast on 10,000 steps.
        from roar.lineage import dag as rules

        text = dagtext.from_index(
            source.index,
            ref,
            lambda live, reads: rules.stale(
                live, reads, lambda j: facts.writes(facts.jobs([j])[j])
            ),
            lambda ids: labels.labels_of(ws, ids),
            expanded=expanded,
            stale_only=stale_only,
            all_outputs=show_artifacts,
        )
        notes = _outside_inputs(facts, ref, text.rows) if show_artifacts else {}
        return _lines(dagtext.render(text, show_artifacts=show_artifacts, notes=notes))
    from roar import sessions
    from roar.lineage.views import session_dag

    view = session_dag(
        facts,
        ref,
        head,
        expanded=expanded,
        stale_only=stale_only,
        session_id=sessions.number(ws, ref),
        labels=lambda ids: labels.labels_of(ws, ids),
    )
    if as_json:
        from roar.cli.output import json_text

        return json_text(view.to_json())
    text = dagtext.from_view(view)
    notes = _outside_inputs(facts, ref, text.rows) if show_artifacts else {}
    return _lines(dagtext.render(text, show_artifacts=show_artifacts, notes=notes))


def _session(ws, resolver, text: str) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    """(ref, head) of `dag --session`: roar-cli's integer id, a session name, or a hash
    (prefix) of a session object, which shows the session as of that step."""
    from roar import sessions
    from roar.errors import UsageError

    if text.isdigit() and len(text) < 8:
        ref = sessions.by_number(ws, int(text))
        if ref is None:
            raise NotFound(
                f"no session {text} (sessions are numbered 1 to "
                f"{len(ws.refs.list('refs/sessions/'))})"
            )
        return ref, ws.refs.read(ref)
    t = resolver.resolve(text)
    if t.kind != "session":
        raise UsageError(f"{text} names {t.describe()}, not a session")
    return t.ref or "", t.id


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
        click.echo("No jobs in the active session.")  # roar-cli's line, and its exit 0
        return
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
    from roar.display import printable
    from roar.errors import CorruptObject
    from roar.index.session_index import SessionIndex

    ws = Workspace.find()
    try:
        old: str | None = sessions.active_ref(ws)
    except CorruptObject as e:  # a damaged HEAD: reset is how it is repaired
        old = None
        click.echo(f"warning: {printable(str(e).split(';')[0])}", err=True)
    if not yes:
        if old is not None:
            click.echo(f"Current session has {SessionIndex(ws).counts(old).steps} step(s).")
        if not _confirm("Start a new session?"):
            return
    new = sessions.reset(ws, name)
    name = new.removeprefix("refs/sessions/")
    previous = old.removeprefix("refs/sessions/") if old else "none: HEAD was damaged"
    click.echo(f"new session {name} (previous: {previous})")


@click.group("session")
def session_group() -> None:
    """The active session."""


@session_group.command("hash")
def session_hash() -> None:
    """Print the active session's hash, as roar-cli does: here its head object id, one
    hash that names the session's content and changes with every step."""
    ws = Workspace.find()
    head = ws.refs.read(ws.refs.head_target())
    if head is None:
        raise NotFound("the session is empty: it has no steps yet, so no hash")
    click.echo(head)


def _lines(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def _write_lines(lines: list[str]) -> None:
    _write_text(_lines(lines))


def _write_text(text: str) -> None:
    # One write: a 10,000-step session prints in milliseconds, not per-line echo time.
    import sys

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `roar log | head`
        os._exit(0)
