#!/usr/bin/env bash
# GPU capture check, for a machine with an NVIDIA GPU and driver (none in CI).
# Runs a tiny CUDA program (the driver API through ctypes: no toolkit, no
# framework) under `roar run` and prints what the job recorded: the GPUs of
# the machine (name, memory, driver, CUDA) and the ones the job used.
# Exits non-zero if either is missing. Usage: bash scripts/gpu-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
make -s install
PY="$PWD/.venv/bin/python"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat > cuda_touch.py <<'PYEOF'
import ctypes, time
cuda = ctypes.CDLL("libcuda.so.1")
def check(rc, what):
    if rc != 0:
        raise SystemExit(f"{what} failed with CUDA error {rc}")
dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_uint64()
check(cuda.cuInit(0), "cuInit")
check(cuda.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
check(cuda.cuCtxCreate_v2(ctypes.byref(ctx), 0, dev), "cuCtxCreate")
check(cuda.cuMemAlloc_v2(ctypes.byref(ptr), 1 << 20), "cuMemAlloc")
time.sleep(1.5)  # hold the context while roar's sampler polls NVML
cuda.cuMemFree_v2(ptr)
cuda.cuCtxDestroy_v2(ctx)
open("touched.txt", "w").write("ok\n")
PYEOF
"$PY" -m roar init -n >/dev/null
"$PY" -m roar run "$PY" cuda_touch.py
"$PY" - <<'PYEOF'
import json
from roar.workspace import Workspace
from roar import sessions

ws = Workspace.find()
job_id = sessions.history(ws)[-1].job
job = ws.objects.read(job_id)
env = ws.objects.read(job.context["env"])
used = job.context.get("gpus_used", [])
print(json.dumps({"job": job_id, "exit_code": job.exit_code, "gpus": list(env.gpus),
                  "gpus_used": used}, indent=2))
ok = bool(env.gpus) and all(g.get("driver") and g.get("cuda") for g in env.gpus) and bool(used)
raise SystemExit(0 if ok else "gpu-check: GPUs or their use were not recorded")
PYEOF
