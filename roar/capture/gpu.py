"""GPUs through NVIDIA's own NVML bindings (nvidia-ml-py): what the machine has,
and which of them a job's processes used.

No driver (no /proc/driver/nvidia, or NVML cannot load or initialise) means
an empty list, never an error; on such a machine nothing here imports NVML,
so `roar run` pays one stat. scripts/gpu-check.sh checks it on a GPU machine.
"""

from __future__ import annotations

import os
import threading
from typing import Any

DRIVER_VERSION_FILE = "/proc/driver/nvidia/version"
POLL_SECONDS = 0.2
# A process is the job's if the tracer is among its first ancestors (NVML
# names host pids; the walk up /proc is bounded).
MAX_ANCESTRY = 64


def driver_present() -> bool:
    return os.path.exists(DRIVER_VERSION_FILE)


def driver_stamp() -> str | None:
    """The kernel driver's version line: keys caches that hold GPU facts."""
    try:
        with open(DRIVER_VERSION_FILE) as f:
            return f.readline().strip()
    except OSError:
        return None


def inventory() -> list[dict[str, Any]]:
    """Every GPU NVML reports, in NVML's index order:
    {index, name, uuid, memory (bytes), driver, cuda (e.g. "12.4")}; [] without a driver."""
    if not driver_present():
        return []
    return _nvml_inventory()


def _nvml_inventory() -> list[dict[str, Any]]:
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return []
    try:
        driver = _text(pynvml.nvmlSystemGetDriverVersion())
        cuda_int = pynvml.nvmlSystemGetCudaDriverVersion_v2()
        cuda = f"{cuda_int // 1000}.{cuda_int % 1000 // 10}"
        gpus = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            gpus.append(
                {
                    "index": i,
                    "name": _text(pynvml.nvmlDeviceGetName(h)),
                    "uuid": _text(pynvml.nvmlDeviceGetUUID(h)),
                    "memory": int(pynvml.nvmlDeviceGetMemoryInfo(h).total),
                    "driver": driver,
                    "cuda": cuda,
                }
            )
        return gpus
    except pynvml.NVMLError:
        return []
    finally:
        pynvml.nvmlShutdown()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class UsageSampler:
    """Polls NVML while a job runs: the GPUs on which one of its processes held a
    context (compute or graphics). Start it with the tracer's pid; `stop()`
    returns the UUIDs seen, sorted. Without a driver it does nothing.

    A process that starts and ends between two polls (POLL_SECONDS) is missed:
    GPU work that short is rare, and the record says what was seen.
    """

    def __init__(self, root_pid: int, interval: float = POLL_SECONDS):
        self.root_pid = root_pid
        self.interval = interval
        self.used: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> UsageSampler:
        if driver_present():
            self._thread = threading.Thread(target=self._run, name="roar-gpu", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> list[str]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return sorted(self.used)

    def _run(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
        except (ImportError, Exception):  # noqa: BLE001 (NVMLError subclasses; no driver)
            return
        try:
            handles = [
                (pynvml.nvmlDeviceGetHandleByIndex(i)) for i in range(pynvml.nvmlDeviceGetCount())
            ]
            uuids = [_text(pynvml.nvmlDeviceGetUUID(h)) for h in handles]
            while True:
                self._poll(pynvml, handles, uuids)
                if self._stop.wait(self.interval):
                    self._poll(pynvml, handles, uuids)
                    return
        except pynvml.NVMLError:
            return
        finally:
            pynvml.nvmlShutdown()

    def _poll(self, pynvml: Any, handles: list[Any], uuids: list[str]) -> None:
        for h, uuid in zip(handles, uuids, strict=False):
            if uuid in self.used:
                continue
            procs = []
            for query in (
                pynvml.nvmlDeviceGetComputeRunningProcesses,
                pynvml.nvmlDeviceGetGraphicsRunningProcesses,
            ):
                try:
                    procs.extend(query(h))
                except pynvml.NVMLError:
                    continue
            if any(descends_from(p.pid, self.root_pid) for p in procs):
                self.used.add(uuid)


def descends_from(pid: int, root: int) -> bool:
    """Whether `root` is `pid` or one of its ancestors, by /proc/<pid>/stat's ppid."""
    for _ in range(MAX_ANCESTRY):
        if pid == root:
            return True
        if pid <= 1:
            return False
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            return False
        # The command name is in parentheses and may hold spaces: ppid follows the last ')'.
        pid = int(stat[stat.rindex(b")") + 2 :].split()[1])
    return False
