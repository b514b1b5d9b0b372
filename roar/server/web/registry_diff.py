"""`roar diff`'s logic (roar/diff.py) run over the registry instead of a workspace.

roar/diff.py walks lineages through three callables: read a job, find the
producer of a hash, read an env. This adapter answers them from server
storage, limited to what the caller may see, and resolves the operands
(artifact hash, job id, session id) the way `roar diff` does.
"""

from __future__ import annotations

from typing import Any

from roar.diff import diff_lineages, walk
from roar.lineage.chain import mark_superseded
from roar.objects.base import is_id
from roar.objects.env import Env
from roar.objects.job import Job
from roar.objects.session import Session
from roar.server.scope import Caller
from roar.server.storage import Storage


class OperandNotFound(Exception):
    """A diff operand is not registered, or not visible to the caller."""


class RegistryLineage:
    def __init__(self, storage: Storage, caller: Caller):
        self.storage = storage
        self.caller = caller
        self._jobs: dict[str, Job] = {}
        self._envs: dict[str | None, dict[str, Any] | None] = {}

    def read(self, job_id: str) -> Job:
        if job_id not in self._jobs:
            obj = self.storage.lineage.jobs([job_id], self.caller).get(job_id)
            if obj is None:
                raise OperandNotFound(f"job {job_id} is not visible")
            self._jobs[job_id] = obj
        return self._jobs[job_id]

    def producer(self, job: Job, digest: str) -> str | None:
        return self.storage.lineage.latest_producer(digest, self.caller, before_ns=job.started_ns)

    def env_of(self, env_id: str | None) -> dict[str, Any] | None:
        if env_id not in self._envs:
            objs = self.storage.lineage.objects([env_id], self.caller) if env_id else {}
            obj = objs.get(env_id) if env_id else None
            self._envs[env_id] = obj.to_value() if isinstance(obj, Env) else None
        return self._envs[env_id]

    def full_hash(self, text: str) -> str:
        """The one registered hash a full hash or a prefix names."""
        if is_id(text):
            return text
        web = self.storage.web
        matches = web.resolve_prefix(text, self.caller, limit=2) if len(text) >= 4 else []
        if len(matches) != 1:
            what = "more than one hash" if matches else "nothing you can see"
            raise OperandNotFound(f"{text!r} names {what}: paste more of the hash")
        return matches[0].hash

    def start_jobs(self, digest: str) -> tuple[str, list[str]]:
        """(what the operand is, the jobs whose lineage to walk)."""
        obj = self.storage.lineage.objects([digest], self.caller).get(digest)
        if isinstance(obj, Job):
            self._jobs[digest] = obj
            return "job", [digest]
        if isinstance(obj, Session):
            return "session", self._live_jobs(digest)
        producer = self.storage.lineage.latest_producer(digest, self.caller)
        if producer is None:
            raise OperandNotFound(f"no job you can see produced {digest}")
        return "artifact", [producer]

    def _live_jobs(self, head: str) -> list[str]:
        rows = self.storage.lineage.chain(head, self.caller)
        chain = mark_superseded([r.to_step() for r in rows])
        return [s.job for s in chain if not s.superseded]


def registry_diff(storage: Storage, caller: Caller, a: str, b: str) -> dict[str, Any]:
    """The same result as `roar diff A B --json`, from the registry."""
    lin = RegistryLineage(storage, caller)
    a, b = lin.full_hash(a), lin.full_hash(b)
    kind_a, start_a = lin.start_jobs(a)
    kind_b, start_b = lin.start_jobs(b)
    result = diff_lineages(
        walk(start_a, lin.read, lin.producer), walk(start_b, lin.read, lin.producer), lin.env_of
    )
    return {"a": {"target": a, "kind": kind_a}, "b": {"target": b, "kind": kind_b}, **result}
