"""GPUs through NVML: on this machine there is no NVIDIA driver, so the real
no-driver paths run here; scripts/gpu-check.sh checks a GPU machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from roar.capture import gpu


@pytest.mark.skipif(gpu.driver_present(), reason="this machine has an NVIDIA driver")
def test_no_driver_means_no_gpus_not_an_error() -> None:
    assert gpu.inventory() == []
    # NVML itself, asked anyway, fails to load its library: still an empty list
    assert gpu._nvml_inventory() == []
    sampler = gpu.UsageSampler(os.getpid()).start()
    assert sampler._thread is None and sampler.stop() == []


def test_descends_from_follows_parents_through_proc() -> None:
    child = subprocess.Popen(["sh", "-c", "sleep 30 & wait"])
    try:
        grandchild = None
        for _ in range(100):
            out = subprocess.run(["pgrep", "-P", str(child.pid)], capture_output=True, text=True)
            if out.stdout.split():
                grandchild = int(out.stdout.split()[0])
                break
            subprocess.run(["sleep", "0.05"])
        assert grandchild is not None
        assert gpu.descends_from(grandchild, os.getpid())
        assert gpu.descends_from(grandchild, child.pid)
        assert not gpu.descends_from(os.getpid(), child.pid)
        assert not gpu.descends_from(2**22 + 12345, os.getpid())  # no such process
    finally:
        child.kill()
        child.wait()


@pytest.mark.skipif(gpu.driver_present(), reason="this machine has an NVIDIA driver")
def test_a_run_without_a_driver_records_no_gpus(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    assert roar_cli("run", sys.executable, "-c", "pass").returncode == 0
    job = json.loads(roar_cli("show", "@1", "--json").stdout)
    env = workspace.objects.read(workspace.objects.read(job["id"]).context["env"])
    assert env.gpus == ()
    labels = json.loads(roar_cli("label", "show", "@1", "--json").stdout)["labels"]
    assert "roar.gpus.used" not in labels


def test_system_labels_are_roars_own(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    assert roar_cli("run", sys.executable, "-c", "pass").returncode == 0
    refused = roar_cli("label", "set", "@1", "roar.gpus.used=GPU-0")
    assert refused.returncode == 2 and "written by roar itself" in refused.stderr
