"""Secrets in what register would send: find them, and rewrite them out.

Environment variables are redacted when a job is recorded, so mostly this
finds secrets in argv. Objects are named by their hash, so redacting a job
makes a new job; its session chain is rewritten above it and the local ref
moved to the rewritten chain, so local and remote keep agreeing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from roar.capture.secrets import REDACTED, find_secrets_in_argv, is_secret
from roar.objects.job import Job
from roar.objects.session import Session
from roar.remote.closure import Plan, Target, plan
from roar.sessions import history
from roar.workspace import Workspace


@dataclass(frozen=True)
class SecretHit:
    job: str
    where: str  # "argv[3]" or "env NAME"


def scan(p: Plan) -> list[SecretHit]:
    hits = []
    for jid in p.jobs:
        job = p.objects[jid]
        if not isinstance(job, Job):
            continue  # the plan lists jobs by what it read: nothing else is a job
        hits.extend(SecretHit(jid, f"argv[{i}]") for i in find_secrets_in_argv(list(job.argv)))
        for pair in job.context.get("env_vars") or []:
            name, value = pair
            if value != REDACTED and is_secret(name, value):
                hits.append(SecretHit(jid, f"env {name.decode(errors='replace')}"))
    return hits


def redacted(job: Job) -> Job:
    argv = list(job.argv)
    for i in find_secrets_in_argv(argv):
        name, eq, _ = argv[i].partition(b"=")
        argv[i] = name + eq + REDACTED if eq and name.startswith(b"-") else REDACTED
    context = dict(job.context)
    if context.get("env_vars"):
        context["env_vars"] = [
            [n, REDACTED if is_secret(n, v) else v] for n, v in context["env_vars"]
        ]
    return replace(job, argv=tuple(argv), context=context)


def redact(ws: Workspace, p: Plan, hits: list[SecretHit]) -> Plan:
    """Write redacted copies locally, rewrite the chain and ref above them; a new plan."""
    renamed = {h.job: ws.objects.write(redacted(p.objects[h.job])) for h in hits}  # type: ignore[arg-type]
    target = p.target
    if target.kind == "job":
        return plan(ws, Target("job", renamed.get(target.hash, target.hash)))
    if target.kind != "session":
        return plan(ws, target)
    parent: str | None = None
    for s in history(ws, head=target.hash):
        parent = ws.objects.write(
            Session(
                parent,
                renamed.get(s.job, s.job),
                s.step,
                s.step_kind,
                s.time_ns,
                renamed.get(s.supersedes or "", s.supersedes),
            )
        )
    assert parent is not None
    if target.ref is not None:
        ws.refs.update(target.ref, parent, target.hash, message="register: redact secrets")
    return plan(ws, Target("session", parent, target.ref))
