#!/usr/bin/env bash
# The main job, end to end, on the embedded defaults. Grows with the product.
set -euo pipefail
demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cd "$demo"
echo "== roar init in $demo"
roar init -n
echo "== store some objects, check and pack the store"
python - <<'PY'
from pathlib import Path
from roar.objects.blob import Blob
from roar.objects.job import Job
from roar.objects.session import Session
from roar.workspace import Workspace
ws = Workspace(Path.cwd())
parent = None
for step in range(1, 4):
    job = ws.objects.write(Job(type="run", argv=(b"echo", str(step).encode()), cwd=b"/",
                               started_ns=step, ended_ns=step + 1, exit_code=0))
    sid = ws.objects.write(Session(parent, job, step, "run", step))
    ws.refs.update("refs/sessions/main", sid, parent, f"step {step}")
    parent = sid
print("session head:", parent)
PY
roar fsck
roar gc
roar fsck
roar cat-object "$(cat .roar/refs/sessions/main)"
echo "== the session as roar sees it"
roar status
roar log
roar dag
