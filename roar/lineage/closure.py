"""The lineage of artifacts and jobs: the upstream closure (docs/lineage.md §6).

Breadth-first, one level of hashes per round: a round asks the source for
the writers of every hash the frontier's jobs read, so a lineage costs as
many rounds as it is deep. `roar lineage`, `show`, `inputs`, `diff`,
`reproduce` and `register` all take their jobs from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from roar.lineage.producers import Ask, Facts, choose
from roar.lineage.source import LineageSource
from roar.objects.job import Job


@dataclass
class Lineage:
    """What is upstream of the start: each job once, each hash with its producer."""

    jobs: dict[str, Job] = field(default_factory=dict)  # id -> job, in walk order
    produced_by: dict[str, str | None] = field(default_factory=dict)  # hash -> job (None: root)
    # job -> the jobs that produced what it read (its parents in the lineage)
    parents: dict[str, list[str]] = field(default_factory=dict)
    truncated: bool = False  # stopped at `upstream`'s `max_jobs`: more is upstream

    def depth(self) -> dict[str, int]:
        """job -> the length of the longest path from it up to a job with no parents."""
        memo: dict[str, int] = {}
        for start in self.jobs:
            stack = [(start, False)]
            on_path: set[str] = set()
            while stack:
                oid, done = stack.pop()
                if done:
                    on_path.discard(oid)
                    ups = [memo[p] for p in self.parents.get(oid, []) if p in memo]
                    memo[oid] = 1 + max(ups) if ups else 0
                    continue
                if oid in memo or oid in on_path:
                    continue  # known, or a cycle (possible only across re-runs): cut it
                on_path.add(oid)
                stack.append((oid, True))
                stack.extend((p, False) for p in self.parents.get(oid, []) if p not in memo)
        return memo

    @property
    def roots(self) -> list[str]:
        """Hashes no recorded job produced (root inputs), in walk order."""
        return [h for h, p in self.produced_by.items() if p is None]


def upstream(
    source: LineageSource | Facts,
    *,
    hashes: Iterable[str] = (),
    jobs: Iterable[str] = (),
    max_jobs: int | None = None,
    max_depth: int | None = None,
) -> Lineage:
    """Everything upstream of artifacts `hashes` and jobs `jobs`.

    With `max_jobs`, the walk stops after the level that reaches that many jobs
    and marks the result `truncated` when jobs were left unread (a server bounds
    what one request may cost). With `max_depth`, it reads levels 0 (the
    producers of `hashes`, and `jobs`) to `max_depth` (`roar lineage -d N`).
    """
    facts = source if isinstance(source, Facts) else Facts(source)
    lin = Lineage()
    start = [Ask(h) for h in dict.fromkeys(hashes)]
    chosen = choose(facts, start) if start else {}
    frontier: list[str] = []
    for ask in start:
        producer = chosen[ask]
        lin.produced_by[ask.hash] = producer
        if producer is not None:
            frontier.append(producer)
    frontier.extend(jobs)
    level_no = 0
    while frontier:
        if (max_jobs is not None and len(lin.jobs) >= max_jobs) or (
            max_depth is not None and level_no > max_depth
        ):
            lin.truncated = True
            break
        level_no += 1
        known = facts.jobs(frontier)
        level = [j for j in dict.fromkeys(frontier) if j in known and j not in lin.jobs]
        for j in level:
            lin.jobs[j] = known[j]
            lin.parents[j] = []
        asks = [Ask(a.hash, j) for j in level for a in lin.jobs[j].inputs]
        chosen = choose(facts, asks) if asks else {}
        frontier = []
        for ask in asks:
            producer = chosen[ask]
            if producer is None:
                lin.produced_by.setdefault(ask.hash, None)
                continue
            if lin.produced_by.get(ask.hash) is None:
                lin.produced_by[ask.hash] = producer
            assert ask.consumer is not None
            if producer not in lin.parents[ask.consumer]:
                lin.parents[ask.consumer].append(producer)
            if producer not in lin.jobs:
                frontier.append(producer)
    return lin
