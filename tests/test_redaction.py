"""Register's redaction over a workspace: every copy rewritten, references and refs follow."""

from __future__ import annotations

import time

import pytest

from roar.objects.blob import Blob
from roar.objects.job import ArtifactRef, Job
from roar.objects.label import Label
from roar.remote.closure import Target, plan, resolve_target
from roar.remote.redaction import redact, scan
from roar.sessions import append

TOKEN = "ghp_" + "Redaction0Test0Token" + "q" * 16


@pytest.mark.parametrize("target", ["session", "job"])
def test_labels_patch_and_chain_follow_a_redacted_job(workspace, target):
    ws = workspace
    root = bytes(ws.root)
    patch = ws.objects.write(Blob(f"+TOKEN = '{TOKEN}'\n".encode()))
    git = {"repo": "/r", "commit": "c" * 40, "patch": patch, "dirty": True}
    out = ArtifactRef(root + b"/out.txt", "a" * 64, 1)
    argv = (b"curl", b"-H", f"Authorization: {TOKEN}".encode())
    job = Job("run", argv, root, 1, 2, 0, outputs=(out,), context={"git": git})
    job_id = ws.objects.write(job)
    append(ws, job_id, "run")
    session = ws.refs.read("refs/sessions/main")
    # labels until one sorts before the job and its session: each must still follow the job
    labels: dict[str, int] = {}
    ids: list[str] = []
    while len(ids) < 4 or min(ids) > min(job_id, session):
        head = ws.refs.read(f"refs/labels/{job_id}")
        labels[f"k{len(ids)}"] = len(ids)
        ids.append(ws.objects.write(Label(job_id, dict(labels), head, time.time_ns())))
        ws.refs.update(f"refs/labels/{job_id}", ids[-1])
    p = plan(ws, resolve_target(ws, None) if target == "session" else Target("job", job_id))
    hits = scan(p)
    assert {h.where for h in hits} >= {"argv[2]", "patch line 1"}
    new = redact(ws, p)
    # then: nothing of the plan holds the token, and everything points at the rewrites
    raw = b"".join(o.serialize() for o in new.objects.values())
    assert TOKEN.encode() not in raw
    new_job = next(o for o in new.objects.values() if isinstance(o, Job))
    assert new_job.argv[2] == b"Authorization: <redacted>"
    assert new_job.context["git"]["patch"] in new.objects
    sent = [o for o in new.objects.values() if isinstance(o, Label)]
    assert len(sent) == len(ids) and {lb.target for lb in sent} == {new_job.id}
    head = ws.refs.read(f"refs/labels/{new_job.id}")
    assert ws.objects.read(head).labels == labels
    moved = ws.objects.read(ws.refs.read("refs/sessions/main")).job
    assert moved == (new_job.id if target == "session" else job_id)
    assert scan(new) == []
