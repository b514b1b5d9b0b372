"""`roar diff A B`: what differs between two artifacts, jobs or sessions, and why."""

from __future__ import annotations

import os
from typing import Any

import click

from roar.errors import NotFound


def _start_jobs(ws, index, text: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """(what it is, the jobs whose lineage to walk) for a diff operand."""
    from roar import sessions
    from roar.cli.show import resolve_artifact, resolve_object
    from roar.objects.job import Job
    from roar.objects.session import Session

    if text.startswith("@"):
        return "job", [sessions.find_step(index.steps(sessions.active_ref(ws)), text).job]
    if ws.refs.read(f"refs/sessions/{text}") is not None:
        steps = index.steps(f"refs/sessions/{text}")
        return "session", [s.job for s in steps if not s.superseded]
    artifact = resolve_artifact(ws, index, text) if not _is_object(ws, text) else None
    if artifact is not None:
        producer = index.producer_of(artifact)
        if producer is None:
            raise NotFound(f"no recorded job produced {text}")
        return "artifact", [producer]
    oid = resolve_object(ws, text)
    obj = ws.objects.read(oid)
    if isinstance(obj, Job):
        return "job", [oid]
    if isinstance(obj, Session):
        steps = sessions.history(ws, head=oid)
        return "session", [s.job for s in steps if not s.superseded]
    raise NotFound(f"{text} is a {obj.kind} object: diff takes artifacts, jobs or sessions")


def _is_object(ws, text: str) -> bool:  # type: ignore[no-untyped-def]
    from roar.errors import RoarError

    if os.path.exists(text):
        return False
    try:
        ws.objects.resolve_prefix(text)
        return True
    except RoarError:
        return False


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
def diff(a: str, b: str, as_json: bool) -> None:
    """Compare two artifacts, jobs or sessions: code, data, params, environment, pipeline."""
    from roar.cli.output import print_json
    from roar.diff import CATEGORIES, diff_lineages, walk
    from roar.index.session_index import SessionIndex
    from roar.workspace import Workspace

    ws = Workspace.find()
    index = SessionIndex(ws)
    index.sync_all()
    env_cache: dict[str | None, dict[str, Any] | None] = {}

    def env_of(oid: str | None) -> dict[str, Any] | None:
        if oid not in env_cache:
            env_cache[oid] = ws.objects.read(oid).to_value() if oid else None
        return env_cache[oid]

    def producer(job, digest: str) -> str | None:  # type: ignore[no-untyped-def]
        return index.producer_of(digest, before_ns=job.started_ns)

    kind_a, start_a = _start_jobs(ws, index, a)
    kind_b, start_b = _start_jobs(ws, index, b)
    read = ws.objects.read
    result = diff_lineages(walk(start_a, read, producer), walk(start_b, read, producer), env_of)
    result = {"a": {"target": a, "kind": kind_a}, "b": {"target": b, "kind": kind_b}, **result}
    if as_json:
        print_json(result)
        return
    if result["identical"]:
        click.echo("no differences in code, data, params, environment or pipeline")
        return
    root = result["root_cause"]
    click.echo(f"likely root cause: {root['category']} in {root['step']}: {root['detail']}")
    for category in CATEGORIES:
        items = result["differences"][category]
        if items:
            click.echo(f"\n{category}:")
            for d in items:
                click.echo(f"  {d['step']}: {d['detail']}")
