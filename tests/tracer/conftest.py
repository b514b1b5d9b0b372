"""Fixtures for the tracer's black-box tests: the built roar-tracer binary
and a scratch workspace with its own store, run the way roar's CLI runs it,
once under each mechanism (seccomp user notification, and the ptrace
fallback forced with --mechanism)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PREFIXES = [
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/etc",
    "/opt",
    sys.base_prefix,
    sys.prefix,
]


@pytest.fixture(scope="session")
def tracer_binary() -> Path:
    """$ROAR_TRACER, else the release build (built here if cargo exists)."""
    env = os.environ.get("ROAR_TRACER")
    if env:
        return Path(env)
    binary = REPO / "tracer" / "target" / "release" / "roar-tracer"
    if not binary.exists():
        if shutil.which("cargo") is None:
            pytest.skip("roar-tracer is not built and cargo is not available")
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=REPO / "tracer", check=True)
    return binary


@dataclass
class Traced:
    returncode: int
    stdout: bytes
    stderr: bytes
    report: dict | None

    def artifacts(self, key: str) -> dict[str, str]:
        assert self.report is not None, self.stderr
        return {a["path"]: a["hash"] for a in self.report[key]}


MECHANISMS = ["notify", "ptrace"]


@dataclass
class Workspace:
    root: Path
    store: Path
    tracer: Path
    mechanism: str

    def write(self, rel: str, data: bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def run(self, *argv: str, extra: tuple[str, ...] = ()) -> Traced:
        report = self.store.parent / "report.json"
        report.unlink(missing_ok=True)
        cmd = [str(self.tracer), "run", "--store", str(self.store), "--report", str(report)]
        for prefix in SYSTEM_PREFIXES:
            cmd += ["--ignore-prefix", prefix]
        cmd += ["--mechanism", self.mechanism, *extra, "--", *argv]
        done = subprocess.run(cmd, cwd=self.root, capture_output=True, timeout=60)
        loaded = json.loads(report.read_text()) if report.exists() else None
        if loaded is not None:
            assert loaded["mechanism"] == self.mechanism
        return Traced(done.returncode, done.stdout, done.stderr, loaded)

    def python(self, code: str) -> Traced:
        return self.run(sys.executable, "-I", "-c", code)


@pytest.fixture(params=MECHANISMS)
def workspace(request: pytest.FixtureRequest, tmp_path: Path, tracer_binary: Path) -> Workspace:
    root = (tmp_path / "work").resolve()
    root.mkdir()
    return Workspace(
        root=root,
        store=tmp_path / "store" / ".roar",
        tracer=tracer_binary,
        mechanism=request.param,
    )
