"""A session's steps as a DAG: edges, staleness and order (docs/lineage.md §5).

An edge is decided when an execution is recorded, from the last earlier
writer of each hash it read (`step_reads`); the session index applies the
same function as steps arrive, so it stores edges instead of recomputing
them. Staleness and order are computed when asked.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from roar.lineage.chain import STEP_KINDS
from roar.lineage.source import Step


@dataclass(frozen=True)
class Read:
    """An execution read `hash`, last written (before it) by job `writer` of step `parent`."""

    parent: str  # the writer's step label
    writer: str  # the writer's job id
    hash: str


Writer = tuple[str, str]  # (step label, job id)


def step_reads(
    inputs: Iterable[str], last_writer: Callable[[str], Writer | None], own: str
) -> list[Read]:
    """What one execution of step `own` read from earlier steps, in input order."""
    reads = []
    for digest in inputs:
        hit = last_writer(digest)
        if hit is not None and hit[0] != own:
            reads.append(Read(hit[0], hit[1], digest))
    return reads


def session_reads(
    chain: list[Step],
    inputs: Callable[[Step], Iterable[str]],
    writes: Callable[[Step], Iterable[str]],
) -> list[list[Read]]:
    """For each execution of the chain (oldest first), what it read from earlier steps.

    `inputs(step)` gives the hashes its job read, in the job's input order;
    `writes(step)` every hash it wrote, composite members included.
    """
    writer: dict[str, Writer] = {}
    out = []
    for s in chain:
        out.append(step_reads(inputs(s), writer.get, s.label))
        for digest in writes(s):
            writer[digest] = (s.label, s.job)
    return out


def parents(reads: Iterable[Read]) -> list[str]:
    """The step labels an execution depends on, each once, in the order first read."""
    return list(dict.fromkeys(r.parent for r in reads))


def stale(
    live: list[Step], reads: Mapping[str, list[Read]], writes_of: Callable[[str], set[str]]
) -> set[str]:
    """Labels of live steps that read what their parent's live execution no longer
    writes, or that read from a stale step. `reads` is keyed by live step label;
    `writes_of(job id)` is asked only for parents re-run since the read."""
    live_job = {s.label: s.job for s in live}
    found: set[str] = set()
    children: dict[str, set[str]] = {}
    for label, rs in reads.items():
        for r in rs:
            children.setdefault(r.parent, set()).add(label)
            now = live_job.get(r.parent)
            if now is not None and now != r.writer and r.hash not in writes_of(now):
                found.add(label)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def order(steps: list[Step], parents_of: Mapping[str, list[str]]) -> list[str]:
    """Step labels in topological order; ready steps by (build before run, number).

    A cycle (re-runs that read each other's outputs) is broken at the
    smallest remaining step. Parents not among `steps` are ignored.
    """
    rank = {s.label: (STEP_KINDS.index(s.step_kind), s.step) for s in steps}
    labels = sorted(rank, key=rank.__getitem__)
    position = {label: i for i, label in enumerate(labels)}
    deps = {
        label: {p for p in parents_of.get(label, ()) if p in position and p != label}
        for label in labels
    }
    if all(position[p] < position[label] for label in labels for p in deps[label]):
        return labels  # the common case: no re-run reordered anything
    waiting = {label: len(ds) for label, ds in deps.items()}
    children: dict[str, list[str]] = {}
    for label, ds in deps.items():
        for p in ds:
            children.setdefault(p, []).append(label)
    ready = [(rank[label], label) for label, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    out: list[str] = []
    done: set[str] = set()
    while len(out) < len(labels):
        if not ready:  # a cycle: take the smallest step left
            label = min((x for x in labels if x not in done), key=rank.__getitem__)
            heapq.heappush(ready, (rank[label], label))
        _, label = heapq.heappop(ready)
        if label in done:
            continue
        done.add(label)
        out.append(label)
        for child in children.get(label, ()):
            waiting[child] -= 1
            if waiting[child] == 0 and child not in done:
                heapq.heappush(ready, (rank[child], child))
    return out
