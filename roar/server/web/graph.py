"""The DAGs the pages draw, from the lineage core's answers (docs/lineage.md).

An artifact's or job's upstream lineage is `roar.lineage.closure.upstream`
(one producer per hash, chosen by the rules), a session's steps are
`roar.lineage.views.session_dag` (edges, staleness, dependency order): the
pages draw what `roar lineage` and `roar dag` print. Nodes are jobs and
artifacts (`job:<id>`, `artifact:<hash>`) with the link of their page; the
browser lays them out (cytoscape + dagre).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from roar.display import printable
from roar.errors import NotFound
from roar.lineage.closure import Lineage, upstream
from roar.lineage.producers import Facts
from roar.lineage.views import session_dag
from roar.objects.job import Job
from roar.server.storage.lineage import RegistrySource

MAX_NODES = 2000
MAX_JOBS = MAX_NODES // 2  # an upstream walk stops at the level that reaches this many jobs
LABEL_CHARS = 48


def short(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def command(job: Job) -> str:
    """The command line as text to show: argv joined by spaces, each character that
    could move the cursor or reorder a line, and each byte that is not UTF-8,
    written as a visible escape (display.printable, the one rule)."""
    return printable(b" ".join(job.argv))


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

    def artifact(self, digest: str, path: bytes = b"") -> str:
        key = f"artifact:{digest}"
        node = self.nodes.setdefault(
            key, {"id": key, "kind": "artifact", "hash": digest, "url": f"/artifacts/{digest}"}
        )
        if path or "label" not in node:
            node["label"] = short(printable(os.path.basename(path))) if path else digest[:12]
        return key

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": list(self.nodes.values()),
            "edges": [{"source": s, "target": d} for s, d in sorted(self.edges)],
            "truncated": self.truncated,
        }


def lineage_of(
    source: RegistrySource, hashes: Iterable[str] = (), jobs: Iterable[str] = ()
) -> Lineage:
    """The core's upstream closure of `hashes` and `jobs` as the caller may see it, read
    ahead in a few queries and bounded at MAX_JOBS jobs."""
    hashes, jobs = list(hashes), list(jobs)
    source.read_ahead(hashes, jobs, limit=MAX_NODES)
    return upstream(Facts(source), hashes=hashes, jobs=jobs, max_jobs=MAX_JOBS)


def upstream_graph(
    lin: Lineage, hashes: Iterable[str] = (), jobs: Iterable[str] = ()
) -> dict[str, Any]:
    """The graph of a lineage: each job, what it read, and who the rules say wrote it."""
    g = Graph(truncated=lin.truncated)
    for h in hashes:
        g.artifact(h)
    for j in jobs:
        g.job(j)
    for job_id, job in lin.jobs.items():
        g.job(job_id, short(command(job)), exit_code=job.exit_code)
        for a in job.inputs:
            g.edges.add((g.artifact(a.hash, a.path), f"job:{job_id}"))
    for digest, producer in lin.produced_by.items():
        if producer is not None and producer in lin.jobs:
            named = [a.path for a in lin.jobs[producer].outputs if a.hash == digest]
            g.edges.add((f"job:{producer}", g.artifact(digest, named[0] if named else b"")))
    return g.to_json()


@dataclass
class SessionSteps:
    steps: list[dict[str, Any]]
    graph: dict[str, Any]


def session_steps(source: RegistrySource, head: str) -> SessionSteps | None:
    """The chain ending at session object `head` (the session as of that step), every
    execution in `roar dag --expanded`'s order, with edges and staleness by the core's
    rules (docs/lineage.md §5); None when the caller may not see it."""
    try:
        found = session_dag(Facts(source), "", head, expanded=True)
    except NotFound:
        return None
    g = Graph()
    live = {
        n.view.step.label: n.view.id
        for n in found.nodes
        if n.view.step and not n.view.step.superseded
    }
    steps = []
    for node in found.nodes:
        step, job = node.view.step, node.view.job
        assert step is not None
        info = {
            "step": step.label,
            "job": node.view.id,
            "session_object": step.session_object,
            "command": command(job),
            "exit_code": job.exit_code,
            "duration_s": round(job.duration_ns / 1e9, 3),
            "time_ns": step.time_ns,
            "superseded": step.superseded,
            "stale": node.stale,
            "depends_on": node.depends_on,
        }
        steps.append(info)
        if not step.superseded:
            label = f"{step.label} {short(info['command'])}"
            g.job(node.view.id, label, step=step.label, stale=node.stale, exit_code=job.exit_code)
            for p in node.depends_on:
                if p in live:
                    g.edges.add((f"job:{live[p]}", f"job:{node.view.id}"))
    return SessionSteps(steps, g.to_json())
