"""The DAGs the pages draw: an artifact's or job's upstream lineage, a session's steps.

Nodes are jobs and artifacts (`job:<id>`, `artifact:<hash>`) with the link
of their page; the browser lays them out (cytoscape + dagre). An upstream walk is one
recursive query (plus one per level of composites); a session's chain is one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from roar.lineage import dag
from roar.lineage.chain import mark_superseded
from roar.server.scope import Caller
from roar.server.storage import Storage
from roar.server.storage.records import ArtifactRow

MAX_NODES = 2000
LABEL_CHARS = 48


def short(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


@dataclass
class Graph:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    truncated: bool = False

    def job(self, job_id: str, label: str = "", **extra: Any) -> str:
        key = f"job:{job_id}"
        node = self.nodes.setdefault(
            key, {"id": key, "kind": "job", "hash": job_id, "url": f"/jobs/{job_id}"}
        )
        node.update({"label": label or node.get("label") or job_id[:12], **extra})
        return key

    def artifact(self, digest: str, path: str = "") -> str:
        key = f"artifact:{digest}"
        node = self.nodes.setdefault(
            key, {"id": key, "kind": "artifact", "hash": digest, "url": f"/artifacts/{digest}"}
        )
        if path or "label" not in node:
            node["label"] = short(os.path.basename(path)) if path else digest[:12]
        return key

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes.values()),
            "edges": [{"source": s, "target": d} for s, d in sorted(self.edges)],
            "truncated": self.truncated,
        }


def upstream(
    storage: Storage,
    caller: Caller,
    hashes: list[str],
    jobs: list[str],
    limit: int = MAX_NODES,
) -> dict[str, Any]:
    """Everything upstream of artifacts `hashes` and jobs `jobs` the caller may see."""
    g = Graph()
    for h in hashes:
        g.artifact(h)
    lineage = storage.lineage
    found = lineage.upstream_hashes(hashes, jobs, caller, limit // 2 + 1)
    g.truncated = len(found) > limit // 2
    arts = set(found[: limit // 2]) | set(hashes)
    writers = lineage.writers(arts, caller)
    lineage_jobs = {job for js in writers.values() for job in js} | set(jobs)
    for digest, js in sorted(writers.items()):
        for job in sorted(js):
            g.edges.add((g.job(job), g.artifact(digest)))
    for row in lineage.job_artifacts(lineage_jobs, caller):
        if row.hash not in arts:
            continue  # an output nobody upstream of the start read
        key = g.artifact(row.hash, row.path)
        if row.role == "in":
            g.edges.add((key, g.job(row.job)))
    for job in jobs:
        g.job(job)
    _label_jobs(storage, caller, g)
    return g.to_json()


def _label_jobs(storage: Storage, caller: Caller, g: Graph) -> None:
    ids = [n["hash"] for n in g.nodes.values() if n["kind"] == "job"]
    for job_id, row in storage.lineage.job_rows(ids, caller).items():
        g.job(job_id, short(row.command), exit_code=row.exit_code)


@dataclass
class SessionSteps:
    steps: list[dict[str, Any]]
    graph: dict[str, Any]


def session_steps(storage: Storage, caller: Caller, head: str) -> SessionSteps | None:
    """The chain ending at session object `head`, oldest first, with its step DAG."""
    lineage = storage.lineage
    rows = lineage.chain(head, caller)  # starts where the chain starts being visible
    if not rows:
        return None
    chain = mark_superseded([r.to_step() for r in rows])
    jobs = lineage.job_rows([s.job for s in chain], caller)
    arts = lineage.job_artifacts([s.job for s in chain], caller)
    by_job: dict[str, list[ArtifactRow]] = {}
    for a in arts:
        by_job.setdefault(a.job, []).append(a)
    members = lineage.members({a.hash for a in arts if a.kind == "tree"}, caller)

    # The lineage core's rules (docs/lineage.md §5), over what the caller may see: a
    # step depends on the step that last wrote (before it) a hash it read, a file
    # inside a composite included. Inputs in path order, as the job object lists
    # them, so parents come in the order `roar dag` gives.
    def inputs(job: str) -> list[str]:
        rows = (a for a in by_job.get(job, []) if a.role == "in")
        return [a.hash for a in sorted(rows, key=_path)]

    def writes(job: str) -> list[str]:
        outs = [a.hash for a in by_job.get(job, []) if a.role == "out"]
        return outs + [m.hash for h in outs for m in members.get(h, [])]

    reads = dag.session_reads(chain, lambda s: inputs(s.job), lambda s: writes(s.job))
    parents = [dag.parents(r) for r in reads]
    live_reads = {s.label: r for s, r in zip(chain, reads, strict=True) if not s.superseded}
    live_jobs = {s.label: s.job for s in chain if not s.superseded}
    stale_labels = dag.stale(live_jobs, live_reads, lambda j: set(writes(j)))
    stale = {i for i, s in enumerate(chain) if not s.superseded and s.label in stale_labels}
    g = Graph()
    steps = []
    for i, s in enumerate(chain):
        row = jobs.get(s.job)
        info = {
            "step": s.label,
            "job": s.job,
            "session_object": s.session_object,
            "command": row.command if row else "",
            "exit_code": row.exit_code if row else None,
            "duration_s": row.duration_s if row else None,
            "time_ns": s.time_ns,
            "superseded": s.superseded,
            "stale": i in stale,
            "depends_on": parents[i],
        }
        steps.append(info)
        if not s.superseded:
            label = f"{s.label} {short(info['command'])}"
            g.job(s.job, label, step=s.label, stale=i in stale, exit_code=info["exit_code"])
            for p in parents[i]:
                if p in live_jobs:
                    g.edges.add((f"job:{live_jobs[p]}", f"job:{s.job}"))
    return SessionSteps(steps, g.to_json())


def _path(row: ArtifactRow) -> bytes:
    return os.fsencode(row.path)
