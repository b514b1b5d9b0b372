"""`LineageSource`: the facts the rules of lineage read, asked in batches.

Three implementations answer it: the object store and refs
(`roar.lineage.objectsource`, also the in-memory source of the rule
suite), the local session index (`roar.index.source`), and (to come) the
registry's database. Every method takes and returns collections so that a
SQL implementation answers one level of a walk with one query, never one
query per node. None of the methods chooses anything: choosing (which
producer, which step is live, what depends on what) is the rules' job.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple, Protocol

from roar.objects.job import Job


class Step(NamedTuple):
    """One entry of a session chain: a job recorded as step `step` of `step_kind`.

    (NamedTuples here: a 10,000-step session makes 10,000 of them, and they
    cost nothing to define at import.)
    """

    session_object: str  # id of the session object that records it
    job: str
    step: int
    step_kind: str  # "run" | "build"
    supersedes: str | None  # the job a re-run names as replaced
    time_ns: int  # when it was appended
    superseded: bool = False  # docs/lineage.md §2

    @property
    def key(self) -> tuple[str, int]:
        """What identifies the step across its executions."""
        return (self.step_kind, self.step)

    @property
    def label(self) -> str:
        return step_label(self.step, self.step_kind)


def step_label(step: int, step_kind: str) -> str:
    """`@N` for a run step, `@BN` for a build step."""
    return f"@B{step}" if step_kind == "build" else f"@{step}"


class Placement(NamedTuple):
    """Where a job is a step: in the chain that ref `ref` points at."""

    ref: str  # e.g. refs/sessions/main, refs/remotes/origin/sessions/main
    step: Step  # with its superseded mark in that chain


class Named(NamedTuple):
    """Something a hash prefix can name."""

    id: str  # 64 hex
    kind: str  # an object kind ("job", "session", "tree", "env", "label", "blob") or "file"


class LineageSource(Protocol):
    """The facts lineage is computed from. Implementations must not choose among them."""

    def jobs(self, ids: Collection[str], *, context: bool = False) -> dict[str, Job]:
        """Jobs by id, those the source holds (others are left out).

        With `context=False` a job's `context` may be empty (an index need not
        keep it); ask with `context=True` for git, env and parameters.
        """
        ...

    def writers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        """hash -> ids of every job with it as an output or inside a composite output.

        Every job the source holds counts (docs/lineage.md §1); hashes nobody
        wrote are left out.
        """
        ...

    def readers(self, hashes: Collection[str]) -> dict[str, set[str]]:
        """hash -> ids of every job with it as an input or inside a composite input."""
        ...

    def members(self, trees: Collection[str]) -> dict[str, tuple[str, ...]]:
        """tree id -> the hashes of its entries, for the trees the source holds."""
        ...

    def session_refs(self) -> dict[str, str]:
        """Every ref that names a session chain (local and remote-tracking) -> its head."""
        ...

    def chain(self, head: str) -> list[Step]:
        """The steps from the first to session object `head`, oldest first, each marked
        superseded or not by `roar.lineage.chain.mark_superseded`'s rule.

        Raises NotFound when `head` is not a session object the source holds.
        """
        ...

    def placements(self, jobs: Collection[str]) -> dict[str, list[Placement]]:
        """job -> where it is a step in the chains of `session_refs()`; jobs in no such
        chain (unattached) are left out."""
        ...

    def named(self, prefix: str, limit: int) -> list[Named]:
        """Up to `limit` object ids and artifact hashes starting with `prefix` (hex)."""
        ...

    def digested(self, algorithm: str, prefix: str, limit: int) -> list[str]:
        """Up to `limit` artifact hashes (BLAKE3), sorted, of files whose recorded
        `algorithm` digest (md5, sha256, sha512: an artifact's `digests`) starts with
        `prefix` (lowercase hex)."""
        ...
