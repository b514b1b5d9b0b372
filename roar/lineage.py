"""The DAG of a session and the lineage of an artifact, inferred from jobs.

A step depends on an earlier step when it read an artifact (by hash, or a
file inside a composite) that the earlier step wrote. Nothing is declared.
Pure functions over a SessionView: no store access of their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from roar.index.session_index import SessionView
from roar.objects.job import ArtifactRef, Job
from roar.sessions import Step


@dataclass
class Node:
    step: Step
    job: Job
    parents: list[str] = field(default_factory=list)  # step labels
    stale: bool = False


def produced_hashes(view: SessionView, job: Job) -> dict[str, str]:
    """hash -> the artifact it belongs to (itself, or the composite holding it)."""
    out = {}
    for art in job.outputs:
        out[art.hash] = art.hash
        if art.kind == "tree":
            for member in view.members(art.hash):
                out.setdefault(member, art.hash)
    return out


def build_dag(view: SessionView, *, expanded: bool = False) -> list[Node]:
    """Nodes in session order with their parents; superseded steps only if expanded.

    Edges come from the index, which computes them as steps arrive: a step
    depends on the step that last wrote (at that time) a hash it read.
    """
    deps = view.index.deps(view.ref)
    stale = stale_steps(
        [(s.label, s.time_ns, s.superseded, deps.get(seq, [])) for seq, s in enumerate(view.steps)]
    )
    return [
        Node(s, view.jobs[s.job], deps.get(seq, []), seq in stale)
        for seq, s in enumerate(view.steps)
        if expanded or not s.superseded
    ]


def stale_steps(steps: list[tuple[str, int, bool, list[str]]]) -> set[int]:
    """Positions of live steps downstream of a step re-run after them.

    `steps` holds (label, time_ns, superseded, parent labels) in session order.
    """
    live = [(i, label, t, parents) for i, (label, t, sup, parents) in enumerate(steps) if not sup]
    time_of = {label: t for _, label, t, _ in live}
    stale_labels: set[str] = set()
    # In time order a parent is decided before its children, except a parent
    # re-run later than the child, which makes the child stale by itself.
    for _, label, t, parents in sorted(live, key=lambda x: x[2]):
        if any(time_of.get(p, 0) > t or p in stale_labels for p in parents):
            stale_labels.add(label)
    return {i for i, label, _, _ in live if label in stale_labels}


def artifact_producers(view: SessionView) -> dict[str, Step]:
    """artifact hash -> the live step that last wrote it."""
    result: dict[str, Step] = {}
    for s in view.steps:
        if not s.superseded:
            for h in produced_hashes(view, view.jobs[s.job]):
                result[h] = s
    return result


def lineage(view: SessionView, artifact: str) -> dict[str, Any]:
    """The upstream jobs and artifacts of `artifact`, as JSON-ready data."""
    producers = artifact_producers(view)
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
        job = view.jobs[step.job]
        jobs[step.job] = job_summary(step, job)
        todo.extend(a.hash for a in job.inputs)
    return {
        "artifact": artifact,
        "jobs": list(jobs.values()),
        "artifacts": list(artifacts.values()),
    }


def job_summary(step: Step | None, job: Job) -> dict[str, Any]:
    return {
        "id": step.job if step else None,
        "step": step.label if step else None,
        "type": job.type,
        "command": [os.fsdecode(a) for a in job.argv],
        "cwd": os.fsdecode(job.cwd),
        "exit_code": job.exit_code,
        "duration_s": round(job.duration_ns / 1e9, 3),
        "inputs": [artifact_summary(a) for a in job.inputs],
        "outputs": [artifact_summary(a) for a in job.outputs],
    }


def artifact_summary(a: ArtifactRef) -> dict[str, Any]:
    return {"path": os.fsdecode(a.path), "hash": a.hash, "size": a.size, "kind": a.kind}
