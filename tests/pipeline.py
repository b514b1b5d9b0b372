"""The small three-step pipeline of the seeds' first experience, shared by tests."""

from __future__ import annotations

from pathlib import Path

import blake3

from roar.objects.job import Job

PREPROCESS = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("--input"); p.add_argument("--output")
a = p.parse_args()
rows = open(a.input).read().splitlines()
open(a.output, "w").write("\\n".join(r.upper() for r in rows))
"""
TRAIN = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("--data"); p.add_argument("--output")
p.add_argument("--epochs", default="1")
a = p.parse_args()
open(a.output, "w").write(f"epochs={a.epochs}\\n" + open(a.data).read())
"""
EVALUATE = """
import argparse, json
p = argparse.ArgumentParser(); p.add_argument("--model"); p.add_argument("--output")
a = p.parse_args()
json.dump({"size": len(open(a.model).read())}, open(a.output, "w"))
"""

PIPELINE = [
    "python preprocess.py --input data.csv --output features.parquet",
    "python train.py --data features.parquet --output model.pt",
    "python evaluate.py --model model.pt --output metrics.json",
]


def b3(path: Path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


def run_pipeline(roar_cli) -> None:  # type: ignore[no-untyped-def]
    for command in PIPELINE:
        result = roar_cli("run", *command.split())
        assert result.returncode == 0, result.stderr


def last_job(root: Path) -> Job:
    """The job at the head of the workspace at `root`'s current session."""
    from roar.workspace import Workspace

    ws = Workspace(root)
    head = ws.refs.read(ws.refs.head_target())
    job = ws.objects.read(ws.objects.read(head).job)  # type: ignore[attr-defined]
    assert isinstance(job, Job)
    return job
