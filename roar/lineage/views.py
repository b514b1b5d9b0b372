"""What `show`, `lineage`, `inputs` and `dag` present, as value types with `to_json`.

Built from the rules over a source; the commands only print them, so a
change of output shape is a change here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from roar.errors import NotFound
from roar.lineage import chain as chains
from roar.lineage import dag
from roar.lineage.chain import parse_step
from roar.lineage.closure import Lineage, upstream
from roar.lineage.producers import Facts, producer_of
from roar.lineage.source import Placement, Step
from roar.objects.job import ArtifactRef, Job

_FS = (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def _decoded(path: bytes) -> str:
    """os.fsdecode of recorded bytes, less its per-call checks (a 10,000-step
    `dag --json` decodes 130,000 of them)."""
    return path.decode(*_FS)


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
            "job_uid": self.id[:8],
            "type": self.job.type,
            "command": command_text(self.job),
            "argv": [_decoded(a) for a in self.job.argv],
            "cwd": _decoded(self.job.cwd),
            "exit_code": self.job.exit_code,
            "interrupted": self.job.interrupted,
            "duration_s": round(self.job.duration_ns / 1e9, 3),
            "started_ns": self.job.started_ns,
            "inputs": [artifact_json(a) for a in self.job.inputs],
            "outputs": [artifact_json(a) for a in self.job.outputs],
        }


def command_text(job: Job) -> str:
    """The command line as roar-cli's `command` holds it: the argv joined by spaces."""
    return " ".join(map(_decoded, job.argv))


def artifact_json(a: ArtifactRef) -> dict[str, Any]:
    out = {"path": _decoded(a.path), "hash": a.hash, "size": a.size, "kind": a.kind}
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
    readers: list[JobView]  # every recorded job that read it, oldest first
    digests: dict[str, str] = {}  # other digests its jobs recorded: md5, sha256, sha512
    # When these bytes were first recorded (ns since the epoch): the earliest end of a
    # job that wrote them (hashed as it ended) or start of one that read them.
    first_seen_ns: int | None = None

    def to_json(self) -> dict[str, Any]:
        sizes = [a.size for v in (self.producer, *self.readers) if v
                 for a in (*v.job.outputs, *v.job.inputs) if a.hash == self.hash]  # fmt: skip
        return {
            "artifact": self.hash,
            "digests": dict(self.digests),
            "size": sizes[0] if sizes else None,
            "produced_by": self.producer.to_json() if self.producer else None,
            "consumed_by": self.consumers,
            "read_by": [
                {
                    "id": v.id,
                    "job_uid": v.id[:8],
                    "step": v.step.label if v.step else None,
                    "command": command_text(v.job),
                    "started_ns": v.job.started_ns,
                }
                for v in self.readers
            ],  # fmt: skip
            "session": session_name(self.session),
            "first_seen_ns": self.first_seen_ns,
        }


def artifact_view(facts: Facts, digest: str, ref: str | None) -> ArtifactView:
    producer = producer_of(facts, digest)
    readers = facts.source.readers([digest]).get(digest, set())
    placed = facts.placements(readers)
    steps = [p.step for ps in placed.values() for p in ps if p.ref == ref and not p.step.superseded]
    consumers = [s.label for s in sorted(steps, key=lambda s: s.time_ns)]
    views = job_views(facts, [*([producer] if producer else []), *sorted(readers)], ref)
    view = views.get(producer) if producer else None
    read_by = sorted((views[j] for j in readers if j in views), key=lambda v: v.job.started_ns)
    digests = digests_of(facts, digest, {*readers, *([producer] if producer else [])})
    writers = facts.jobs(facts.source.writers([digest]).get(digest, set()))
    seen = [j.ended_ns for j in writers.values()] + [v.job.started_ns for v in read_by]
    first = min((t for t in seen if t), default=None)
    return ArtifactView(digest, view, list(dict.fromkeys(consumers)), ref, read_by, digests, first)


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
    """`roar lineage`: every job upstream of an artifact, each hash with its producer;
    roar-cli's keys and types (docs/roar-cli-compat.md), ours beside."""

    artifact: str
    lineage: Lineage
    jobs: dict[str, JobView]
    path: str  # the artifact as it was named
    size: int

    def to_json(self) -> dict[str, Any]:
        views = sorted(
            (self.jobs[j] for j in self.lineage.jobs if j in self.jobs),
            key=lambda v: (v.job.started_ns, v.id),
        )
        seen: dict[str, ArtifactRef] = {}
        for v in views:
            for a in (*v.job.inputs, *v.job.outputs):
                seen.setdefault(a.hash, a)
        return {
            "artifact": {"hash": self.artifact, "path": self.path, "size": self.size},
            "jobs": [
                {
                    "step_number": v.step.step if v.step else None,
                    "timestamp": v.job.started_ns / 1e9,
                    "duration_seconds": v.job.duration_ns / 1e9,
                    **v.to_json(),
                    "inputs": [_lineage_artifact(a) for a in v.job.inputs],
                    "outputs": [_lineage_artifact(a) for a in v.job.outputs],
                }
                for v in views
            ],
            "artifacts": [
                {
                    "hash": h,
                    "path": os.fsdecode(seen[h].path) if h in seen else None,
                    "size": seen[h].size if h in seen else None,
                    "produced_by": p,
                }
                for h, p in self.lineage.produced_by.items()
            ],
            "truncated": self.lineage.truncated,
        }


def _lineage_artifact(a: ArtifactRef) -> dict[str, Any]:
    return {**artifact_json(a), "byte_ranges": None}


def lineage_view(
    facts: Facts, digest: str, ref: str | None, *, path: str = "", max_depth: int | None = None
) -> LineageView:
    lin = upstream(facts, hashes=[digest], max_depth=max_depth)
    views = job_views(facts, lin.jobs, ref)
    size = next(
        (
            a.size
            for v in views.values()
            for a in (*v.job.outputs, *v.job.inputs)
            if a.hash == digest
        ),
        0,
    )
    return LineageView(digest, lin, views, path or digest, size)


class DagNode(NamedTuple):
    view: JobView
    depends_on: list[str]
    stale: bool
    position: int  # 1-based place of the execution in its session's chain
    consumed: int  # hashes it read from earlier steps (roar-cli's `cons:`)
    labels: dict[str, Any]

    @property
    def state(self) -> str:
        """roar-cli's `state`: superseded, stale or active."""
        step = self.view.step
        return "superseded" if step and step.superseded else "stale" if self.stale else "active"

    def to_json(self) -> dict[str, Any]:
        """roar-cli's node keys and types first; ours beside (docs/roar-cli-compat.md)."""
        step, job = self.view.step, self.view.job
        return {
            "step_number": step.step if step else 0,
            "job_id": self.position,
            "job_uid": self.view.id[:8],
            "command": command_text(job),
            "step_name": self.labels.get("name"),
            "state": self.state,
            "is_build": job.type == "build",
            "exit_code": job.exit_code,
            "interrupted": job.interrupted,
            "metrics": {
                "inputs": len(job.inputs),
                "outputs": len(job.outputs),
                "consumed": self.consumed,
            },
            "dependencies": [parse_step(p)[1] for p in self.depends_on],
            "labels": self.labels,
            **self.view.to_json(),
            "depends_on": self.depends_on,
            "stale": self.stale,
        }


class DagArtifact(NamedTuple):
    """An output of a step shown; the terminal ones (no step shown read that path)
    are roar-cli's `artifacts`."""

    ref: ArtifactRef
    producer: DagNode
    labels: dict[str, Any]
    terminal: bool
    orphaned: bool  # its path is read, but not these bytes

    def to_json(self) -> dict[str, Any]:
        step = self.producer.view.step
        number = step.step if step else 0
        return {
            "path": _decoded(self.ref.path),
            "hash": self.ref.hash,
            "is_stale": self.producer.state != "active",
            "producer_step": number,
            "state": self.producer.state,
            "artifact_id": self.ref.hash,
            "consumer_steps": [],
            "is_terminal": True,
            "superseded_by": number if self.producer.state == "superseded" else None,
            "labels": self.labels,
            "size": self.ref.size,
            "kind": self.ref.kind,
            "producer": self.producer.view.id,
        }


class SessionDag(NamedTuple):
    """`roar dag`: a session's steps in dependency order."""

    ref: str
    head: str | None
    nodes: list[DagNode]
    artifacts: list[DagArtifact]
    expanded: bool
    session_id: int  # roar-cli's integer session id: the ref's creation order
    labels: dict[str, Any]
    total_steps: int  # live steps of the whole session (also with --stale-only)
    stale_count: int  # stale steps of the whole session
    stale_artifacts: int  # distinct outputs of stale steps
    superseded_artifacts: int  # distinct outputs of superseded executions, when expanded

    def to_json(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "labels": self.labels,
            "total_steps": self.total_steps,
            "stale_count": self.stale_count,
            "stale_artifact_count": self.stale_artifacts,
            "superseded_artifact_count": self.superseded_artifacts,
            "is_expanded": self.expanded,
            "nodes": [n.to_json() for n in self.nodes],
            "artifacts": [a.to_json() for a in self.artifacts if a.terminal],
            "session": session_name(self.ref),
            "head": self.head,
        }


Labels = Callable[[Iterable[str]], dict[str, dict[str, Any]]]


def no_labels(targets: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {}


def session_dag(
    facts: Facts,
    ref: str,
    head: str | None,
    *,
    expanded: bool = False,
    stale_only: bool = False,
    session_id: int = 0,
    labels: Labels = no_labels,
) -> SessionDag:
    """The DAG of the chain ending at `head` (docs/lineage.md §5). `labels(ids)` gives
    the user labels of jobs, artifacts and session objects (none by default: the
    registry keeps labels apart)."""
    chain = facts.source.chain(head) if head else []
    jobs = facts.jobs(s.job for s in chain)
    reads = dag.session_reads(
        chain, lambda s: (a.hash for a in jobs[s.job].inputs), lambda s: facts.writes(jobs[s.job])
    )
    live = chains.live(chain)
    label = [s.label for s in chain]
    depends = [dag.parents(r) for r in reads]
    live_reads = {label[i]: r for i, (s, r) in enumerate(zip(chain, reads, strict=True))
                  if not s.superseded}  # fmt: skip
    live_jobs = {s.label: s.job for s in live}
    stale = dag.stale(live_jobs, live_reads, lambda j: facts.writes(facts.jobs([j])[j]))
    parents = {label[i]: depends[i] for i, s in enumerate(chain) if not s.superseded}
    ranked = dag.order(((s.label, s.step_kind, s.step) for s in live), parents)
    order = {name: i for i, name in enumerate(ranked)}
    shown = [
        (i, s, r)
        for i, (s, r) in enumerate(zip(chain, reads, strict=True))
        if (expanded or not s.superseded) and (not stale_only or label[i] in stale)
    ]
    shown.sort(key=lambda isr: order[label[isr[0]]])  # stable: executions in chain order
    outputs = [jobs[s.job].outputs for _, s, _ in shown]
    ends = dag.shown_outputs(
        [[(a.path, a.hash) for a in outs] for outs in outputs],
        [[(a.path, a.hash) for a in jobs[s.job].inputs] for _, s, _ in shown],
    )
    found = labels(
        [s.job for _, s, _ in shown]
        + [o.hash for o in ends if o.terminal]
        + [s.session_object for s in chain]
    )
    session_labels: dict[str, Any] = {}
    for s in chain:  # a session's labels sit on the session object that was its head
        session_labels.update(found.get(s.session_object, {}))
    nodes = [
        DagNode(
            JobView(s.job, jobs[s.job], Placement(ref, s)),
            depends[i],
            not s.superseded and label[i] in stale,
            i + 1,
            dag.consumed(r),
            found.get(s.job, {}),
        )
        for i, s, r in shown
    ]
    artifacts = [
        DagArtifact(
            next(a for a in outputs[o.row] if a.hash == o.hash and a.path == o.path),
            nodes[o.row],
            found.get(o.hash, {}),
            o.terminal,
            o.orphaned,
        )
        for o in ends
    ]
    stale_outputs = {a.hash for s in live if s.label in stale for a in jobs[s.job].outputs}
    old_outputs = {a.hash for s in chain if s.superseded for a in jobs[s.job].outputs}
    return SessionDag(
        ref,
        head,
        nodes,
        artifacts,
        expanded,
        session_id,
        session_labels,
        len(live),
        len(stale),
        len(stale_outputs),
        len(old_outputs) if expanded else 0,
    )
