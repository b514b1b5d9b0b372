"""GPUs through NVML, read by the Rust front end (tracer/src/gpu.rs, whose
unit tests cover the walk from a GPU process up to the job): on this machine
there is no NVIDIA driver, so the real no-driver path runs here;
scripts/gpu-check.sh checks a GPU machine."""

from __future__ import annotations

import json
import os
import sys

import pytest

NO_DRIVER = not os.path.exists("/proc/driver/nvidia/version")


@pytest.mark.skipif(not NO_DRIVER, reason="this machine has an NVIDIA driver")
def test_a_run_without_a_driver_records_no_gpus(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    assert roar_cli("run", sys.executable, "-c", "pass").returncode == 0
    job_id = json.loads(roar_cli("show", "@1", "--json").stdout)["id"]
    job = workspace.objects.read(job_id)
    env = workspace.objects.read(job.context["env"])
    assert env.gpus == ()
    assert "gpus_used" not in job.context  # no sampler without a driver
    labels = json.loads(roar_cli("label", "show", "@1", "--json").stdout)["labels"]
    assert "roar.gpus.used" not in labels


def test_system_labels_are_roars_own(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    assert roar_cli("run", sys.executable, "-c", "pass").returncode == 0
    refused = roar_cli("label", "set", "@1", "roar.gpus.used=GPU-0")
    assert refused.returncode == 2 and "written by roar itself" in refused.stderr
