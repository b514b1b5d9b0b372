"""Inspection: `show`, `lineage`, `inputs`. Names resolve and answers come from the
lineage core (roar/lineage/); this module only prints."""

from __future__ import annotations

import os
from typing import Any

import click

from roar.errors import NotFound, UsageError
from roar.workspace import Workspace


@click.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--remote", "remote", is_flag=True, help="Ask the default GLaaS remote instead.")
@click.pass_context
def show(ctx: click.Context, target: str | None, as_json: bool, remote: bool) -> None:
    """Show the session, a step (@N, @BN), a job, a session, or an artifact (hash or path)."""
    if remote:
        from roar.cli.remote import lookup

        if not target:
            raise UsageError("roar show --remote needs a hash")
        ctx.invoke(lookup, digest=target, remote_name=None, as_json=as_json)
        return
    from roar.cli.output import print_json
    from roar.index.source import local
    from roar.lineage.producers import Facts
    from roar.lineage.views import artifact_view, session_view

    ws = Workspace.find()
    track_repo_files = bool(ws.config.get("output.track_repo_files"))
    source, resolver = local(ws)
    facts = Facts(source)
    ref = resolver.active_ref
    data: dict[str, Any]
    if target is None:
        data = session_view(facts, ws.refs.read(ref), ref).to_json()
    else:
        t = resolver.resolve(target)
        if t.kind in ("step", "job"):
            data = _job_detail(facts, t.id, ref, track_repo_files)
        elif t.kind == "artifact":
            data = artifact_view(facts, t.id, ref).to_json()
        elif t.kind == "session":
            data = session_view(facts, t.id, t.ref).to_json()
        else:
            raise NotFound(
                f"{target} is a {t.object_kind} object; try `roar cat-object {t.id[:12]}`"
            )
    if as_json:
        print_json(data)
    else:
        _print(data)


def _job_detail(facts: Any, job_id: str, ref: str, track_repo_files: bool) -> dict[str, Any]:
    from roar.capture.packages import packages_read
    from roar.lineage.views import job_view

    view = job_view(facts, job_id, ref, context=True)
    job = view.job
    read = packages_read(list(job.filtered))
    extra: dict[str, Any] = {}
    git = job.context.get("git")
    if track_repo_files and isinstance(git, dict):
        # roar-cli's output.track_repo_files: the repository's files the job read.
        from roar.capture.git import files_at_commit

        found = files_at_commit(str(git["repo"]), str(git["commit"]), [a.path for a in job.inputs])
        extra["repo_files"] = None if found is None else [os.fsdecode(p) for p in found]
    return {
        **extra,
        **view.to_json(),
        "git": job.context.get("git"),
        "env": job.context.get("env"),
        "interrupted": job.interrupted,
        "packages_read": {
            "pip": [f"{n}=={v}" for n, v in read.pip],
            "dpkg": [f"{n}={v}" for n, v in read.dpkg],
        },
    }


def _print(data: dict[str, Any]) -> None:
    """The text view of what --json prints: one screen, most useful first."""
    if "artifact" in data:
        lines = [f"artifact {data['artifact']}"]
        lines += [f"  {algo:<8} {value}" for algo, value in data.get("digests", {}).items()]
        producer = data["produced_by"]
        if producer:
            lines.append(f"  written by {_job_line(producer, data.get('session'))}")
            lines += [f"    read {_art_line(a)}" for a in producer["inputs"]]
        else:
            lines.append("  written by no recorded job (a root input)")
        readers = ", ".join(data["consumed_by"]) or "no recorded step"
        lines.append(f"  read by {readers}")
    elif "steps" in data:
        name = data["session"] or data["head"][:12]
        lines = [f"session {name}: {len(data['steps'])} steps"]
        lines += [f"  {s['step']:>5}  {s['job'][:12]}  {s['command']}" for s in data["steps"]]
    else:
        lines = [_job_line(data, data.get("session")), f"  job      {data['id']}"]
        lines.append(f"  cwd      {data['cwd']}")
        git = data.get("git")
        if git:
            dirty = " (dirty: patch recorded)" if git.get("dirty") else ""
            lines.append(f"  git      {git.get('branch') or '-'} @ {git['commit'][:12]}{dirty}")
        for verb, arts in (("read", data["inputs"]), ("wrote", data["outputs"])):
            for a in arts:
                lines.append(f"  {verb:<8} {_art_line(a)}")
                lines += [f"           {al} {d}" for al, d in a.get("digests", {}).items()]
        if "repo_files" in data:
            files = data["repo_files"]
            if files is None:
                lines.append("  repo     (files of the recorded commit cannot be read here)")
            lines += [f"  repo     {f}" for f in files or []]
        read = data.get("packages_read", {})
        if read.get("pip"):
            lines.append(f"  pip      {' '.join(read['pip'])}")
        if read.get("dpkg"):
            lines.append(f"  dpkg     {' '.join(read['dpkg'])}")
    from roar.display import printable

    click.echo("\n".join(printable(line) for line in lines))


def _job_line(job: dict[str, Any], session: str | None = None) -> str:
    """`@2 python train.py  (ok, 1.2s, run)`, noting a superseded step or another session."""
    where = ""
    if job.get("step"):
        notes = ["superseded"] if job.get("superseded") else []
        if job.get("session") != session:
            notes.append(f"session {job['session']}")
        where = f"{job['step']} " + (f"({', '.join(notes)}) " if notes else "")
    elif job.get("id"):
        where = f"job {job['id'][:12]} (in no session) "
    status = "ok" if job["exit_code"] == 0 else f"exit {job['exit_code']}"
    return f"{where}{' '.join(job['command'])}  ({status}, {job['duration_s']}s, {job['type']})"


def _art_line(art: dict[str, Any]) -> str:
    kind = " [composite]" if art["kind"] == "tree" else ""
    return f"{art['hash'][:12]}  {art['path']}{kind}"


@click.command()
@click.argument("artifact")
def lineage(artifact: str) -> None:
    """Print the upstream jobs and artifacts of ARTIFACT (hash or path) as JSON."""
    from roar.cli.output import print_json
    from roar.index.source import local
    from roar.lineage.producers import Facts
    from roar.lineage.views import lineage_view

    source, resolver = local(Workspace.find())
    t = resolver.resolve(artifact)
    if t.kind != "artifact":
        raise UsageError(f"{artifact} is a {t.kind}; lineage takes an artifact (path or hash)")
    print_json(lineage_view(Facts(source), t.id, resolver.active_ref).to_json())


@click.command()
@click.option("--unsourced", is_flag=True, help="Only inputs no recorded job or get produced.")
@click.option("--json", "as_json", is_flag=True)
def inputs(unsourced: bool, as_json: bool) -> None:
    """List the root inputs of the session (read, never written by a recorded job)."""
    from roar.cli.output import print_json
    from roar.display import printable
    from roar.index.source import local
    from roar.lineage.chain import live
    from roar.lineage.producers import Facts
    from roar.lineage.views import root_inputs

    ws = Workspace.find()
    source, resolver = local(ws)
    head = ws.refs.read(resolver.active_ref)
    steps = live(source.chain(head)) if head else []
    rows = [r for r in root_inputs(Facts(source), steps) if not (unsourced and r.obtainable)]
    if as_json:
        print_json([r.to_json() for r in rows])
    else:
        for r in rows:
            click.echo(f"{r.hash[:12]}  {r.size:>12}  {printable(r.path)}")
