"""A session's steps as a DAG: edges, staleness and order (docs/lineage.md §5).

An edge is decided when an execution is recorded, from the last earlier
writer of each hash it read (`step_reads`); the session index applies the
same function as steps arrive, so it stores edges instead of recomputing
them. Staleness and order are computed when asked.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

from roar.lineage.chain import STEP_KINDS
from roar.lineage.source import Step


class Read(NamedTuple):
    """An execution read `hash`, last written (before it) by job `writer` of step `parent`."""

    parent: str  # the writer's step label
    writer: str  # the writer's job id
    hash: str


Writer = tuple[str, str]  # (step label, job id)
KIND_RANK = {kind: i for i, kind in enumerate(STEP_KINDS)}
_NUMBER = operator.itemgetter(2)


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


def consumed(reads: Iterable[Read]) -> int:
    """How many distinct hashes an execution read from earlier steps (roar-cli's `cons:`)."""
    return len({r.hash for r in reads})


def parents(reads: Iterable[Read]) -> list[str]:
    """The step labels an execution depends on, each once, in the order first read."""
    return list(dict.fromkeys(r.parent for r in reads))


def stale(
    live_jobs: Mapping[str, str],
    reads: Mapping[str, list[Read]],
    writes_of: Callable[[str], set[str]],
) -> set[str]:
    """Labels of live steps that read what their parent's live execution no longer
    writes, or that read from a stale step. `live_jobs` maps each live step's label
    to its job; `reads` is keyed by live step label; `writes_of(job id)` is asked
    only for parents re-run since the read."""
    found = {
        label
        for label, rs in reads.items()
        for r in rs
        if (now := live_jobs.get(r.parent)) is not None
        and now != r.writer
        and r.hash not in writes_of(now)
    }
    if not found:
        return found
    children: dict[str, set[str]] = {}
    for label, rs in reads.items():
        for r in rs:
            children.setdefault(r.parent, set()).add(label)
    todo = list(found)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def order(steps: Iterable[tuple[str, str, int]], parents_of: Mapping[str, list[str]]) -> list[str]:
    """Step labels in topological order; ready steps by (build before run, number).

    `steps` are (label, step kind, step number). A cycle (re-runs that read
    each other's outputs) is broken at the smallest remaining step. Parents
    not among `steps` are ignored.
    """
    # Per kind, by number (timsort is linear on what is already in order).
    by_kind: dict[str, list[tuple[str, str, int]]] = {kind: [] for kind in STEP_KINDS}
    for s in steps:
        by_kind[s[1]].append(s)
    listed = [s for kind in STEP_KINDS for s in sorted(by_kind[kind], key=_NUMBER)]
    labels = [s[0] for s in listed]
    position = {label: i for i, label in enumerate(labels)}
    get = position.get
    if all(
        get(p, -1) < here
        for label, ps in parents_of.items()
        if (here := get(label, -1)) >= 0
        for p in ps
        if p != label
    ):
        return labels  # no re-run reordered anything
    rank = {label: (KIND_RANK[kind], number) for label, kind, number in listed}
    deps = {
        label: {p for p in parents_of.get(label, ()) if p in position and p != label}
        for label in labels
    }
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


class Shown(NamedTuple):
    """An output of a shown execution, as `roar dag` lists it (roar-cli's artifacts)."""

    row: int  # the execution's position among those shown
    path: bytes
    hash: str
    terminal: bool  # no shown execution read anything at this path
    orphaned: bool  # read at this path, but no shown execution read these bytes


def shown_outputs(
    outputs: list[Iterable[tuple[bytes, str]]], inputs: list[Iterable[tuple[bytes, str]]]
) -> list[Shown]:
    """The outputs of the executions shown (each a list of (path, hash)), classified
    against what those executions read: terminal when nothing shown read that path
    (roar-cli's `(metrics.json)` leaves), otherwise intermediate, and orphaned when
    the path is read but not these bytes (a re-run whose consumers are stale)."""
    read_paths: set[bytes] = set()
    read_hashes: set[str] = set()
    for ins in inputs:
        for path, digest in ins:
            read_paths.add(path)
            read_hashes.add(digest)
    out = []
    for i, outs in enumerate(outputs):
        for path, digest in outs:
            out.append(
                Shown(
                    i,
                    path,
                    digest,
                    path not in read_paths,
                    path in read_paths and digest not in read_hashes,
                )
            )
    return out
