"""Inspection: `show`, `lineage`, `inputs`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from roar.errors import NotFound
from roar.workspace import Workspace


def _hash_file(path: Path) -> str:
    import blake3

    h = blake3.blake3(max_threads=blake3.blake3.AUTO)
    h.update_mmap(path)
    return h.hexdigest()


def hash_path(path: Path) -> str:
    """A file's BLAKE3, or a directory's composite id (its tree object's id)."""
    if not path.is_dir():
        return _hash_file(path)
    from roar.objects.tree import Tree, TreeEntry

    entries = []
    for dirpath, dirnames, files in os.walk(path):
        dirnames[:] = [d for d in dirnames if d != ".roar"]
        for f in files:
            full = Path(dirpath) / f
            rel = os.fsencode(full.relative_to(path).as_posix())
            entries.append(TreeEntry(rel, _hash_file(full), full.stat().st_size))
    return Tree.of(entries).id


def resolve_artifact(ws, index, text: str) -> str | None:  # type: ignore[no-untyped-def]
    """An artifact hash from a path or a hash prefix the index knows, else None."""
    if os.path.exists(text):
        return hash_path(Path(text))
    prefix = text.lower()
    if len(prefix) < 4 or any(c not in "0123456789abcdef" for c in prefix):
        return None
    matches = index.hashes_with_prefix(prefix)
    if len(matches) == 1:
        return matches[0]  # type: ignore[no-any-return]
    if len(matches) > 1:
        from roar.errors import Ambiguous

        raise Ambiguous(f"prefix {text} names more than one artifact: use more characters")
    return None


def resolve_object(ws, text: str) -> str:  # type: ignore[no-untyped-def]
    """The object a hash prefix names, with an error that says what was tried."""
    if len(text) < 4 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise NotFound(f"{text}: no such file, and not a step (@N), job id or artifact hash")
    return ws.objects.resolve_prefix(text)  # type: ignore[no-any-return]


def artifact_data(index, ref: str, digest: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Who wrote and who read `digest` in the session."""
    from roar.lineage import job_summary

    touching = index.steps_touching(ref, digest)
    writers = [s for s, role in touching if role == "out"]
    producer = writers[-1] if writers else None
    return {
        "artifact": digest,
        "produced_by": job_summary(producer, index.jobs([producer.job])[producer.job])
        if producer
        else None,
        "consumed_by": [s.label for s, role in touching if role == "in"],
    }


@click.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--remote", "remote", is_flag=True, help="Ask the default GLaaS remote instead.")
@click.pass_context
def show(ctx: click.Context, target: str | None, as_json: bool, remote: bool) -> None:
    """Show the session, a step (@N, @BN), a job id, or an artifact (hash or path)."""
    if remote:
        from roar.cli.remote import lookup
        from roar.errors import UsageError

        if not target:
            raise UsageError("roar show --remote needs a hash")
        ctx.invoke(lookup, digest=target, remote_name=None, as_json=as_json)
        return
    from roar import sessions
    from roar.cli.output import print_json
    from roar.index.session_index import SessionIndex
    from roar.objects.job import Job

    ws = Workspace.find()
    index = SessionIndex(ws)
    ref = sessions.active_ref(ws)
    data: dict[str, Any]
    if target is None:
        steps = index.steps(ref)
        live = sessions.current_steps(steps)
        jobs = index.jobs(s.job for s in live)
        data = {
            "session": ref.removeprefix("refs/sessions/"),
            "steps": [{"step": s.label, "job": s.job, "command": _cmd(jobs[s.job])} for s in live],
        }
    elif target.startswith("@"):
        step = sessions.find_step(index.steps(ref), target)
        data = _job_data(step, ws.objects.read(step.job))
    else:
        artifact = resolve_artifact(ws, index, target)
        touched = artifact is not None and index.hashes_with_prefix(artifact)
        if artifact is not None and (touched or os.path.exists(target)):
            data = artifact_data(index, ref, artifact)
        else:
            oid = resolve_object(ws, target)
            obj = ws.objects.read(oid)
            if not isinstance(obj, Job):
                raise NotFound(f"{target} is a {obj.kind} object; try `roar cat-object {oid[:12]}`")
            step = next((s for s in index.steps(ref) if s.job == oid), None)
            data = _job_data(step, obj, oid)
    if as_json:
        print_json(data)
    else:
        _print(data)


def _cmd(job: Any) -> str:
    return " ".join(os.fsdecode(a) for a in job.argv)


def _job_data(step, job, oid: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from roar.lineage import job_summary

    data = job_summary(step, job)
    data["id"] = oid or (step.job if step else None)
    from roar.capture.packages import packages_read

    data["git"] = job.context.get("git")
    data["env"] = job.context.get("env")
    data["interrupted"] = job.interrupted
    read = packages_read(list(job.filtered))
    data["packages_read"] = {
        "pip": [f"{n}=={v}" for n, v in read.pip],
        "dpkg": [f"{n}={v}" for n, v in read.dpkg],
    }
    return data


def _print(data: dict[str, Any]) -> None:
    """The text view of what --json prints: one screen, most useful first."""
    if "artifact" in data:
        lines = [f"artifact {data['artifact']}"]
        producer = data["produced_by"]
        if producer:
            lines.append(f"  written by {_job_line(producer)}")
            lines += [f"    read {_art_line(a)}" for a in producer["inputs"]]
        else:
            lines.append("  written by no recorded job (a root input)")
        readers = ", ".join(data["consumed_by"]) or "no recorded job"
        lines.append(f"  read by {readers}")
    elif "steps" in data:
        lines = [f"session {data['session']}: {len(data['steps'])} steps"]
        lines += [f"  {s['step']:>5}  {s['job'][:12]}  {s['command']}" for s in data["steps"]]
    else:
        lines = [_job_line(data), f"  job      {data['id']}", f"  cwd      {data['cwd']}"]
        git = data.get("git")
        if git:
            dirty = " (dirty: patch recorded)" if git.get("dirty") else ""
            lines.append(f"  git      {git.get('branch') or '-'} @ {git['commit'][:12]}{dirty}")
        lines += [f"  read     {_art_line(a)}" for a in data["inputs"]]
        lines += [f"  wrote    {_art_line(a)}" for a in data["outputs"]]
        read = data.get("packages_read", {})
        if read.get("pip"):
            lines.append(f"  pip      {' '.join(read['pip'])}")
        if read.get("dpkg"):
            lines.append(f"  dpkg     {' '.join(read['dpkg'])}")
    from roar.display import printable

    click.echo("\n".join(printable(line) for line in lines))


def _job_line(job: dict[str, Any]) -> str:
    step = f"{job['step']} " if job.get("step") else ""
    status = "ok" if job["exit_code"] == 0 else f"exit {job['exit_code']}"
    return f"{step}{' '.join(job['command'])}  ({status}, {job['duration_s']}s, {job['type']})"


def _art_line(art: dict[str, Any]) -> str:
    kind = " [composite]" if art["kind"] == "tree" else ""
    return f"{art['hash'][:12]}  {art['path']}{kind}"


@click.command()
@click.argument("artifact")
def lineage(artifact: str) -> None:
    """Print the upstream jobs and artifacts of ARTIFACT (hash or path) as JSON."""
    from roar.cli.output import print_json
    from roar.index.session_index import load_session
    from roar.lineage import lineage as build

    ws = Workspace.find()
    view = load_session(ws)
    h = resolve_artifact(ws, view.index, artifact)
    if h is None:
        raise NotFound(f"no artifact {artifact} in this session")
    print_json(build(view, h))


@click.command()
@click.option("--unsourced", is_flag=True, help="Only inputs no recorded job or get produced.")
@click.option("--json", "as_json", is_flag=True)
def inputs(unsourced: bool, as_json: bool) -> None:
    """List the root inputs of the session (read, never written by a step)."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.display import printable
    from roar.index.session_index import load_session
    from roar.lineage import artifact_producers

    view = load_session(Workspace.find())
    producers = artifact_producers(view)
    roots: dict[str, dict[str, Any]] = {}
    for s in sessions.current_steps(view.steps):
        for a in view.jobs[s.job].inputs:
            producer = producers.get(a.hash)
            from_get = producer is not None and view.jobs[producer.job].type == "get"
            if producer is None or (from_get and not unsourced):
                roots.setdefault(
                    a.hash, {"hash": a.hash, "path": os.fsdecode(a.path), "size": a.size}
                )
    rows = list(roots.values())
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['hash'][:12]}  {r['size']:>12}  {printable(r['path'])}")
