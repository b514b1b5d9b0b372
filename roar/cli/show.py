"""Inspection: `show`, `lineage`, `inputs`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from roar.errors import NotFound


def _ws():  # type: ignore[no-untyped-def]
    from roar.workspace import Workspace

    return Workspace.find()


def _hash_file(path: Path) -> str:
    import blake3

    if path.is_dir():
        raise NotFound(f"{path} is a directory; show its composite by hash or a file inside it")
    h = blake3.blake3(max_threads=blake3.blake3.AUTO)
    h.update_mmap(path)
    return h.hexdigest()


def resolve_artifact(ws, text: str, steps) -> str | None:  # type: ignore[no-untyped-def]
    """An artifact hash from a path or a hash prefix known to the session, else None."""
    from roar.lineage import artifact_producers

    if os.path.exists(text):
        return _hash_file(Path(text))
    known = set(artifact_producers(ws, steps))
    for s in steps:
        job = ws.objects.read(s.job)
        known.update(a.hash for a in job.inputs)
    matches = {h for h in known if h.startswith(text.lower())}
    if len(matches) == 1:
        return matches.pop()
    if len(matches) > 1:
        from roar.errors import Ambiguous

        raise Ambiguous(f"prefix {text} names {len(matches)} artifacts")
    return None


@click.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True)
def show(target: str | None, as_json: bool) -> None:
    """Show the session, a step (@N, @BN), a job id, or an artifact (hash or path)."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.lineage import artifact_producers, job_summary
    from roar.objects.job import Job

    ws = _ws()
    steps = sessions.history(ws)
    data: dict[str, Any]
    if target is None:
        live = sessions.current_steps(steps)
        data = {
            "session": sessions.active_ref(ws).removeprefix("refs/sessions/"),
            "steps": [
                {"step": s.label, "job": s.job, "command": _cmd(ws.objects.read(s.job))}
                for s in live
            ],
        }
    elif target.startswith("@"):
        step = sessions.find_step(steps, target)
        data = _job_data(ws, step, ws.objects.read(step.job))
    else:
        artifact = resolve_artifact(ws, target, steps)
        if artifact is not None:
            producer = artifact_producers(ws, steps).get(artifact)
            consumers = [
                s.label
                for s in steps
                if not s.superseded
                and any(a.hash == artifact for a in ws.objects.read(s.job).inputs)
            ]
            data = {
                "artifact": artifact,
                "produced_by": job_summary(producer, ws.objects.read(producer.job))
                if producer
                else None,
                "consumed_by": consumers,
            }
        else:
            oid = ws.objects.resolve_prefix(target)
            obj = ws.objects.read(oid)
            if not isinstance(obj, Job):
                raise NotFound(f"{target} is a {obj.kind} object; try `roar cat-object {oid[:12]}`")
            step = next((s for s in steps if s.job == oid), None)
            data = _job_data(ws, step, obj, oid)
    if as_json:
        print_json(data)
    else:
        _print(data)


def _cmd(job: Any) -> str:
    return " ".join(os.fsdecode(a) for a in job.argv)


def _job_data(ws, step, job, oid: str | None = None) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from roar.lineage import job_summary

    data = job_summary(step, job)
    data["id"] = oid or (step.job if step else None)
    data["git"] = job.context.get("git")
    data["env"] = job.context.get("env")
    data["interrupted"] = job.interrupted
    return data


def _print(data: dict[str, Any], indent: str = "") -> None:
    for k, v in data.items():
        if isinstance(v, dict):
            click.echo(f"{indent}{k}:")
            _print(v, indent + "  ")
        elif isinstance(v, list):
            click.echo(f"{indent}{k}:")
            for item in v:
                if isinstance(item, dict):
                    click.echo(f"{indent}  - " + "  ".join(f"{ik}={iv}" for ik, iv in item.items()))
                else:
                    click.echo(f"{indent}  - {item}")
        else:
            click.echo(f"{indent}{k}: {v}")


@click.command()
@click.argument("artifact")
def lineage(artifact: str) -> None:
    """Print the upstream jobs and artifacts of ARTIFACT (hash or path) as JSON."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.lineage import lineage as build

    ws = _ws()
    steps = sessions.history(ws)
    h = resolve_artifact(ws, artifact, steps)
    if h is None:
        raise NotFound(f"no artifact {artifact} in this session")
    print_json(build(ws, steps, h))


@click.command()
@click.option("--unsourced", is_flag=True, help="Only inputs no recorded job or get produced.")
@click.option("--json", "as_json", is_flag=True)
def inputs(unsourced: bool, as_json: bool) -> None:
    """List the root inputs of the session (read, never written by a step)."""
    from roar import sessions
    from roar.cli.output import print_json
    from roar.lineage import artifact_producers

    ws = _ws()
    steps = sessions.current_steps(sessions.history(ws))
    producers = artifact_producers(ws, steps)
    roots: dict[str, dict[str, Any]] = {}
    for s in steps:
        job = ws.objects.read(s.job)
        for a in job.inputs:
            producer = producers.get(a.hash)
            from_get = producer is not None and ws.objects.read(producer.job).type == "get"
            if producer is None or (from_get and not unsourced):
                roots.setdefault(
                    a.hash, {"hash": a.hash, "path": os.fsdecode(a.path), "size": a.size}
                )
    rows = list(roots.values())
    if as_json:
        print_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['hash'][:12]}  {r['size']:>12}  {r['path']}")
