"""The DAG of a session and the lineage of an artifact, inferred from jobs.

A step depends on an earlier step when it read an artifact (by hash, or a
file inside a composite) that the earlier step wrote. Nothing is declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from roar.objects.job import Job
from roar.objects.tree import Tree
from roar.sessions import Step
from roar.workspace import Workspace


@dataclass
class Node:
    step: Step
    job: Job
    parents: list[str] = field(default_factory=list)  # step labels
    stale: bool = False


def _produced_hashes(ws: Workspace, job: Job) -> dict[str, str]:
    """hash -> the artifact hash it belongs to (itself, or its composite)."""
    out = {}
    for art in job.outputs:
        out[art.hash] = art.hash
        if art.kind == "tree":
            tree = ws.objects.read(art.hash)
            assert isinstance(tree, Tree)
            for e in tree.entries:
                out.setdefault(e.hash, art.hash)
    return out


def build_dag(ws: Workspace, steps: list[Step], *, expanded: bool = False) -> list[Node]:
    """Nodes in session order with their parents; superseded steps only if expanded."""
    nodes: list[Node] = []
    producer: dict[str, tuple[str, int]] = {}  # hash -> (step label, producing job time)
    step_time: dict[str, int] = {}
    for s in steps:
        job = ws.objects.read(s.job)
        assert isinstance(job, Job)
        node = Node(s, job)
        for art in job.inputs:
            hit = producer.get(art.hash)
            if hit and hit[0] != s.label and hit[0] not in node.parents:
                node.parents.append(hit[0])
        # A superseded job still produced what later steps read at the time.
        for h in _produced_hashes(ws, job):
            producer[h] = (s.label, s.time_ns)
        if not s.superseded:
            step_time[s.label] = s.time_ns
        if expanded or not s.superseded:
            nodes.append(node)
    # A step is stale when an upstream step was re-run after it.
    live = {n.step.label: n for n in nodes if not n.step.superseded}
    for n in nodes:
        if n.step.superseded:
            continue
        todo, seen = list(n.parents), set()
        while todo:
            p = todo.pop()
            if p in seen or p not in live:
                continue
            seen.add(p)
            if step_time.get(p, 0) > n.step.time_ns:
                n.stale = True
            todo.extend(live[p].parents)
    return nodes


def artifact_producers(ws: Workspace, steps: list[Step]) -> dict[str, Step]:
    """artifact hash -> the live step that last wrote it."""
    result: dict[str, Step] = {}
    for s in steps:
        if s.superseded:
            continue
        job = ws.objects.read(s.job)
        assert isinstance(job, Job)
        for h in _produced_hashes(ws, job):
            result[h] = s
    return result


def lineage(ws: Workspace, steps: list[Step], artifact: str) -> dict[str, Any]:
    """The upstream jobs and artifacts of `artifact`, as JSON-ready data."""
    producers = artifact_producers(ws, steps)
    jobs: dict[str, dict[str, Any]] = {}
    artifacts: dict[str, dict[str, Any]] = {}
    todo = [artifact]
    while todo:
        h = todo.pop()
        if h in artifacts:
            continue
        step = producers.get(h)
        artifacts[h] = {"hash": h, "produced_by": step.job if step else None}
        if step is None or step.job in jobs:
            continue
        job = ws.objects.read(step.job)
        assert isinstance(job, Job)
        jobs[step.job] = job_summary(step, job)
        todo.extend(a.hash for a in job.inputs)
    return {
        "artifact": artifact,
        "jobs": list(jobs.values()),
        "artifacts": list(artifacts.values()),
    }


def job_summary(step: Step | None, job: Job) -> dict[str, Any]:
    import os

    return {
        "id": step.job if step else None,
        "step": step.label if step else None,
        "type": job.type,
        "command": [os.fsdecode(a) for a in job.argv],
        "cwd": os.fsdecode(job.cwd),
        "exit_code": job.exit_code,
        "duration_s": round(job.duration_ns / 1e9, 3),
        "inputs": [_art(a) for a in job.inputs],
        "outputs": [_art(a) for a in job.outputs],
    }


def _art(a: Any) -> dict[str, Any]:
    import os

    return {"path": os.fsdecode(a.path), "hash": a.hash, "size": a.size, "kind": a.kind}
