"""Shared fixtures: a fresh workspace, and the real `roar` CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from pipeline import EVALUATE, PREPROCESS, TRAIN
from postgres_fixtures import pg_cluster  # noqa: F401 - a fixture, registered here for every test

from roar.workspace import Workspace

# The `roar` a user runs: the Rust front end installed beside this
# interpreter, which hands every subcommand but run/build to roar-py.
ROAR = os.path.join(os.path.dirname(sys.executable), "roar")


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws, _ = Workspace.create(tmp_path)
    return ws


@pytest.fixture
def roar_exe() -> str:
    """The path of the installed `roar` (the Rust front end)."""
    return ROAR


@pytest.fixture
def roar_cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `roar ARGS...` as a real subprocess in tmp_path (or cwd=...)."""

    def run(
        *args: str, cwd: Path | None = None, input: str | None = None, env: dict | None = None
    ) -> CliResult:
        full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
        full_env.pop("ROAR_WORKSPACE", None)
        # `python` in a recorded command is this interpreter, as in an activated venv.
        full_env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + full_env.get("PATH", "")
        proc = subprocess.run(
            [ROAR, *args],
            cwd=cwd or tmp_path,
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=120,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding the pipeline's scripts and its input data."""
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "evaluate.py").write_text(EVALUATE)
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    return tmp_path
