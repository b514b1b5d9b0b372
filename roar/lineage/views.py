"""What `show`, `lineage`, `inputs` and `dag` present, as value types with `to_json`.

Built from the rules over a source; the commands only print them, so a
change of output shape is a change here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, NamedTuple

from roar.errors import NotFound
from roar.lineage import chain as chains
from roar.lineage import dag
from roar.lineage.closure import Lineage, upstream
from roar.lineage.producers import Facts, producer_of
from roar.lineage.source import Placement, Step
from roar.objects.job import ArtifactRef, Job


def session_name(ref: str | None) -> str | None:
    """`main` for refs/sessions/main; a remote-tracking ref keeps its remote part."""
    if ref is None:
        return None
    return ref.removeprefix("refs/sessions/").removeprefix("refs/remotes/")


class JobView(NamedTuple):
    """A job with where it stands: its step label and session, when it has one."""

    id: str
    job: Job
    placement: Placement | None = None

    @property
    def step(self) -> Step | None:
        return self.placement.step if self.placement else None

    def to_json(self) -> dict[str, Any]:
        step = self.step
        return {
            "id": self.id,
            "step": step.label if step else None,
            "session": session_name(self.placement.ref) if self.placement else None,
            "superseded": bool(step and step.superseded),
            "type": self.job.type,
            "command": [os.fsdecode(a) for a in self.job.argv],
            "cwd": os.fsdecode(self.job.cwd),
            "exit_code": self.job.exit_code,
            "duration_s": round(self.job.duration_ns / 1e9, 3),
            "inputs": [artifact_json(a) for a in self.job.inputs],
            "outputs": [artifact_json(a) for a in self.job.outputs],
        }


def artifact_json(a: ArtifactRef) -> dict[str, Any]:
    out = {"path": os.fsdecode(a.path), "hash": a.hash, "size": a.size, "kind": a.kind}
    if a.digests:
        out["digests"] = dict(a.digests)
    return out


def best_placement(placements: Iterable[Placement], ref: str | None) -> Placement | None:
    """The placement to show a job by: in `ref` first, live before superseded."""
    ranked = sorted(placements, key=lambda p: (p.ref != ref, p.step.superseded, p.ref))
    return ranked[0] if ranked else None


def job_views(facts: Facts, ids: Iterable[str], ref: str | None) -> dict[str, JobView]:
    """Views of the jobs `ids` the source holds, placed preferably in `ref`."""
    wanted = list(dict.fromkeys(ids))
    jobs = facts.jobs(wanted)
    placed = facts.placements(j for j in wanted if j in jobs)
    return {j: JobView(j, jobs[j], best_placement(placed[j], ref)) for j in wanted if j in jobs}


class ArtifactView(NamedTuple):
    """`roar show <artifact>`: who wrote it (docs/lineage.md §4) and which steps read it."""

    hash: str
    producer: JobView | None
    consumers: list[str]  # live step labels of the session asked about, in chain order

    session: str | None  # the session `consumers` are steps of
    digests: dict[str, str] = {}  # other digests its jobs recorded: md5, sha256, sha512

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.hash,
            "digests": dict(self.digests),
            "produced_by": self.producer.to_json() if self.producer else None,
            "consumed_by": self.consumers,
            "session": session_name(self.session),
        }


def artifact_view(facts: Facts, digest: str, ref: str | None) -> ArtifactView:
    producer = producer_of(facts, digest)
    readers = facts.source.readers([digest]).get(digest, set())
    placed = facts.placements(readers)
    steps = [p.step for ps in placed.values() for p in ps if p.ref == ref and not p.step.superseded]
    consumers = [s.label for s in sorted(steps, key=lambda s: s.time_ns)]
    view = job_views(facts, [producer], ref).get(producer) if producer else None
    return ArtifactView(
        digest,
        view,
        list(dict.fromkeys(consumers)),
        ref,
        digests_of(facts, digest, {*readers, *([producer] if producer else [])}),
    )


def digests_of(facts: Facts, digest: str, jobs: Iterable[str]) -> dict[str, str]:
    """The other digests (md5, sha256, ...) that `jobs` recorded for file `digest`."""
    found: dict[str, str] = {}
    for job in facts.jobs(sorted(jobs)).values():
        for a in (*job.inputs, *job.outputs):
            if a.hash == digest:
                found.update(a.digests)
    return dict(sorted(found.items()))


def job_view(facts: Facts, job_id: str, ref: str | None, *, context: bool = False) -> JobView:
    """One job, with its `context` when asked (git, env, parameters)."""
    found = facts.source.jobs([job_id], context=True) if context else facts.jobs([job_id])
    if job_id not in found:
        raise NotFound(f"job {job_id} is not in this store")
    placement = best_placement(facts.placements([job_id])[job_id], ref)
    return JobView(job_id, found[job_id], placement)


def ref_at(refs: dict[str, str], head: str) -> str | None:
    """The ref pointing at session object `head`: a local session before a remote one."""
    named = sorted((not r.startswith("refs/sessions/"), r) for r, h in refs.items() if h == head)
    return named[0][1] if named else None


class SessionView(NamedTuple):
    """`roar show` of a session: its live steps, as of session object `head`."""

    ref: str | None
    head: str | None
    steps: list[JobView]

    def to_json(self) -> dict[str, Any]:
        return {
            "session": session_name(self.ref),
            "head": self.head,
            "steps": [
                {
                    "step": v.step.label if v.step else None,
                    "job": v.id,
                    "command": " ".join(os.fsdecode(a) for a in v.job.argv),
                }
                for v in self.steps
            ],
        }


def session_view(facts: Facts, head: str | None, ref: str | None) -> SessionView:
    """The session whose chain ends at `head`; `ref` names it (found when None)."""
    if head is None:
        return SessionView(ref, None, [])
    if ref is None:
        ref = ref_at(facts.source.session_refs(), head)
    steps = sorted(
        chains.live(facts.source.chain(head)),
        key=lambda s: (chains.STEP_KINDS.index(s.step_kind), s.step),
    )
    jobs = facts.jobs(s.job for s in steps)
    return SessionView(
        ref, head, [JobView(s.job, jobs[s.job], Placement(ref or "", s)) for s in steps]
    )


class LineageView(NamedTuple):
    """`roar lineage`: every job upstream of an artifact, each hash with its producer."""

    artifact: str
    lineage: Lineage
    jobs: dict[str, JobView]

    def to_json(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "jobs": [self.jobs[j].to_json() for j in self.lineage.jobs if j in self.jobs],
            "artifacts": [
                {"hash": h, "produced_by": p} for h, p in self.lineage.produced_by.items()
            ],
        }


def lineage_view(facts: Facts, digest: str, ref: str | None) -> LineageView:
    lin = upstream(facts, hashes=[digest])
    return LineageView(digest, lin, job_views(facts, lin.jobs, ref))


class RootInput(NamedTuple):
    hash: str
    path: str
    size: int
    obtainable: bool  # a get job brought it in

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "path": self.path, "size": self.size}


def root_inputs(facts: Facts, live: list[Step]) -> list[RootInput]:
    """What the pipeline's live steps read that no recorded run or build job wrote."""
    from roar.lineage.producers import Ask, choose

    jobs = facts.jobs(s.job for s in live)
    asks = [Ask(a.hash, s.job) for s in live if s.job in jobs for a in jobs[s.job].inputs]
    chosen = choose(facts, asks)
    producers = facts.jobs(p for p in chosen.values() if p is not None)
    roots: dict[str, RootInput] = {}
    for s in live:
        for a in jobs[s.job].inputs if s.job in jobs else ():
            producer = chosen[Ask(a.hash, s.job)]
            kind = producers[producer].type if producer in producers else None
            if kind in (None, "get"):
                roots.setdefault(
                    a.hash, RootInput(a.hash, os.fsdecode(a.path), a.size, kind == "get")
                )
    return list(roots.values())


class DagNode(NamedTuple):
    view: JobView
    depends_on: list[str]
    stale: bool

    def to_json(self) -> dict[str, Any]:
        return {**self.view.to_json(), "depends_on": self.depends_on, "stale": self.stale}


class SessionDag(NamedTuple):
    """`roar dag`: a session's steps in dependency order."""

    ref: str
    nodes: list[DagNode]

    def to_json(self) -> dict[str, Any]:
        return {"session": session_name(self.ref), "nodes": [n.to_json() for n in self.nodes]}


def session_dag(facts: Facts, ref: str, head: str | None, *, expanded: bool = False) -> SessionDag:
    """The DAG of the chain ending at `head` (docs/lineage.md §5)."""
    chain = facts.source.chain(head) if head else []
    jobs = facts.jobs(s.job for s in chain)
    reads = dag.session_reads(
        chain, lambda s: (a.hash for a in jobs[s.job].inputs), lambda s: facts.writes(jobs[s.job])
    )
    live = chains.live(chain)
    live_reads = {s.label: r for s, r in zip(chain, reads, strict=True) if not s.superseded}
    live_jobs = {s.label: s.job for s in live}
    stale = dag.stale(live_jobs, live_reads, lambda j: facts.writes(facts.jobs([j])[j]))
    parents = {label: dag.parents(r) for label, r in live_reads.items()}
    ranked = dag.order(((s.label, s.step_kind, s.step) for s in live), parents)
    order = {label: i for i, label in enumerate(ranked)}
    shown = [(s, r) for s, r in zip(chain, reads, strict=True) if expanded or not s.superseded]
    shown.sort(key=lambda sr: order[sr[0].label])  # stable: executions of a step in chain order
    return SessionDag(
        ref,
        [
            DagNode(
                JobView(s.job, jobs[s.job], Placement(ref, s)),
                dag.parents(r),
                not s.superseded and s.label in stale,
            )
            for s, r in shown
        ],
    )
