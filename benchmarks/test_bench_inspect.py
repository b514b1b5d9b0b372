"""`roar log`, `roar dag`, `roar show <artifact>` on a workspace of 10,000 jobs.

Target (TARGETS.md): under 150 ms each, as a whole process. The workspace
is built once by make_workspace.py; the first command builds the derived
index, which is then warm for the timed runs (as in daily use).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from make_workspace import build  # noqa: E402

ROAR = str(Path(sys.executable).with_name("roar"))
JOBS = 10_000


@pytest.fixture(scope="module")
def big_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("ws10k")
    last = build(root, JOBS)
    subprocess.run([ROAR, "log"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    return root, last


@pytest.mark.parametrize("command", [["log"], ["dag"], ["show", "ARTIFACT"], ["status"]])
def test_inspect_10k(benchmark, big_workspace, command) -> None:  # type: ignore[no-untyped-def]
    root, last = big_workspace
    argv = [ROAR, *(last if c == "ARTIFACT" else c for c in command)]
    benchmark(subprocess.run, argv, cwd=root, check=True, stdout=subprocess.DEVNULL)
