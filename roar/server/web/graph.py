"""The DAGs the pages draw: an artifact's or job's upstream lineage, a session's steps.

Nodes are jobs and artifacts (`job:<id>`, `artifact:<hash>`) with the link
of their page; the browser lays them out (cytoscape + dagre). Walks go one
lineage level per query pair, so a deep lineage costs queries, not rows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from roar.lineage import dag
from roar.lineage.chain import mark_superseded
from roar.lineage.source import Step
from roar.objects.session import Session
from roar.server.scope import Caller
from roar.server.storage import Storage

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
    found = storage.upstream_hashes(hashes, jobs, caller, limit // 2 + 1)
    g.truncated = len(found) > limit // 2
    arts = set(found[: limit // 2]) | set(hashes)
    producers = storage.producers_of(arts, caller)
    lineage_jobs = {job for _, job in producers} | set(jobs)
    for digest, job in producers:
        g.edges.add((g.job(job), g.artifact(digest)))
    for row in storage.job_artifacts(lineage_jobs, caller):
        if row["hash"] not in arts:
            continue  # an output nobody upstream of the start read
        key = g.artifact(row["hash"], row["path"])
        if row["role"] == "in":
            g.edges.add((key, g.job(row["job"])))
    for job in jobs:
        g.job(job)
    _label_jobs(storage, caller, g)
    return g.to_json()


def _label_jobs(storage: Storage, caller: Caller, g: Graph) -> None:
    ids = [n["hash"] for n in g.nodes.values() if n["kind"] == "job"]
    for job_id, row in storage.job_rows(ids, caller).items():
        g.job(job_id, short(row["command"]), exit_code=row["exit_code"])


@dataclass
class SessionSteps:
    steps: list[dict[str, Any]]
    graph: dict[str, Any]


def session_steps(storage: Storage, caller: Caller, head: str) -> SessionSteps | None:
    """The chain ending at session object `head`, oldest first, with its step DAG."""
    chain: list[Step] = []
    cur: str | None = head
    seen: set[str] = set()
    while cur is not None and cur not in seen:
        seen.add(cur)
        obj = storage.read_objects([cur], caller).get(cur)
        if not isinstance(obj, Session):
            if cur == head:
                return None
            break  # the rest of the chain is not visible to this caller
        chain.append(Step(cur, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns))
        cur = obj.parent
    chain = mark_superseded(list(reversed(chain)))
    rows = storage.job_rows([s.job for s in chain], caller)
    arts = storage.job_artifacts([s.job for s in chain], caller)
    by_job: dict[str, list[dict[str, Any]]] = {}
    for a in arts:
        by_job.setdefault(a["job"], []).append(a)

    # The lineage core's rules (docs/lineage.md §5); inputs in path order, as the
    # job object lists them, so parents come in the order `roar dag` gives.
    def hashes(job: str, role: str) -> list[str]:
        rows = (a for a in by_job.get(job, []) if a["role"] == role)
        return [a["hash"] for a in sorted(rows, key=_path)]

    reads = dag.session_reads(chain, lambda s: hashes(s.job, "in"), lambda s: hashes(s.job, "out"))
    parents = [dag.parents(r) for r in reads]
    live_reads = {s.label: r for s, r in zip(chain, reads, strict=True) if not s.superseded}
    live_jobs = {s.label: s.job for s in chain if not s.superseded}
    stale_labels = dag.stale(live_jobs, live_reads, lambda j: set(hashes(j, "out")))
    stale = {i for i, s in enumerate(chain) if not s.superseded and s.label in stale_labels}
    live = {s.label: s.job for s in chain if not s.superseded}
    g = Graph()
    steps = []
    for i, s in enumerate(chain):
        row = rows.get(s.job, {})
        info = {
            "step": s.label,
            "job": s.job,
            "session_object": s.session_object,
            "command": row.get("command", ""),
            "exit_code": row.get("exit_code"),
            "duration_s": _duration(row),
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
                if p in live:
                    g.edges.add((f"job:{live[p]}", f"job:{s.job}"))
    return SessionSteps(steps, g.to_json())


def _path(row: dict[str, Any]) -> bytes:
    return os.fsencode(row["path"])


def _duration(row: dict[str, Any]) -> float | None:
    if "ended_ns" not in row:
        return None
    return round((row["ended_ns"] - row["started_ns"]) / 1e9, 3)
