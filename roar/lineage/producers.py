"""Who produced a hash: the one ranking of writers (docs/lineage.md §4).

`Facts` caches what the rules have read from a source during one question
(jobs, placements, members), so a walk asks the source once per level.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import NamedTuple

from roar.lineage.source import LineageSource, Placement
from roar.objects.job import Job

LIVE, UNATTACHED, SUPERSEDED = 2, 1, 0  # standing, best first


class Facts:
    """A source plus what was already read from it."""

    def __init__(self, source: LineageSource):
        self.source = source
        self._jobs: dict[str, Job] = {}
        self._placements: dict[str, list[Placement]] = {}
        self._members: dict[str, tuple[str, ...]] = {}

    def jobs(self, ids: Iterable[str]) -> dict[str, Job]:
        wanted = [i for i in dict.fromkeys(ids)]
        missing = [i for i in wanted if i not in self._jobs]
        if missing:
            self._jobs.update(self.source.jobs(missing))
        return {i: self._jobs[i] for i in wanted if i in self._jobs}

    def placements(self, ids: Iterable[str]) -> dict[str, list[Placement]]:
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in self._placements]
        if missing:
            found = self.source.placements(missing)
            for i in missing:
                self._placements[i] = found.get(i, [])
        return {i: self._placements[i] for i in wanted}

    def members(self, trees: Iterable[str]) -> dict[str, tuple[str, ...]]:
        wanted = list(dict.fromkeys(trees))
        missing = [t for t in wanted if t not in self._members]
        if missing:
            found = self.source.members(missing)
            for t in missing:
                self._members[t] = found.get(t, ())
        return {t: self._members[t] for t in wanted}

    def writes(self, job: Job) -> set[str]:
        """Every hash a job wrote: its outputs and the members of its composite outputs."""
        out = {a.hash for a in job.outputs}
        trees = [a.hash for a in job.outputs if a.kind == "tree"]
        if not trees:
            return out
        for members in self.members(trees).values():
            out.update(members)
        return out


def standing(placements: list[Placement]) -> int:
    """LIVE when a live step anywhere; SUPERSEDED when only replaced ones; else UNATTACHED."""
    if not placements:
        return UNATTACHED
    return LIVE if any(not p.step.superseded for p in placements) else SUPERSEDED


class Ask(NamedTuple):
    """One question: who produced `hash`, as read by `consumer` (a job id) or by nobody."""

    hash: str
    consumer: str | None = None


def choose(facts: Facts, asks: Collection[Ask]) -> dict[Ask, str | None]:
    """The producer of each asked hash (None: a root input), by the ranking of §4.

    Asks are answered together: one `writers`, one `jobs` and one
    `placements` call on the source for the whole batch.
    """
    writers = facts.source.writers({a.hash for a in asks})
    candidates = {j for js in writers.values() for j in js}
    consumers = {a.consumer for a in asks if a.consumer is not None}
    jobs = facts.jobs(candidates | consumers)
    placed = facts.placements(candidates)
    result: dict[Ask, str | None] = {}
    for ask in asks:
        started = jobs[ask.consumer].started_ns if ask.consumer in jobs else None
        pool = [j for j in writers.get(ask.hash, ()) if j != ask.consumer and j in jobs]
        result[ask] = (
            min(pool, key=lambda j: _rank(j, jobs[j], placed[j], started)) if pool else None
        )
    return result


def _rank(
    job_id: str, job: Job, placements: list[Placement], consumer_started: int | None
) -> tuple[int, int, int, int, str]:
    """Sort key, smallest best: causal, standing, success, recency, then the id."""
    causal = consumer_started is None or job.ended_ns <= consumer_started
    return (
        0 if causal else 1,
        -standing(placements),
        0 if job.exit_code == 0 else 1,
        -job.ended_ns,
        job_id,
    )


def producer_of(source: LineageSource | Facts, digest: str) -> str | None:
    """The producer of `digest` asked by nobody (what `roar show` says wrote it)."""
    facts = source if isinstance(source, Facts) else Facts(source)
    ask = Ask(digest)
    return choose(facts, [ask])[ask]
