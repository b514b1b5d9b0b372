"""roar-cli 0.4.7's reproduce flags: --script to stdout, --plan,
--export-requirements, --no-puts, --step-timeout (docs/roar-cli-compat.md)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from test_reproduce import b3, record_pipeline, run_ok

if TYPE_CHECKING:
    from reproduce_fixtures import GitProject

pytest_plugins = ["reproduce_fixtures"]

# Sleeps only where it is reproduced (the test reproduces into a directory named again).
SLOW = """
import os, time
if os.path.basename(os.getcwd()) == "again":
    time.sleep(60)
open("slow.txt", "w").write(open("clean.csv").read())
"""


def test_script_flag_alone_prints_the_script(roar_cli, git_project: GitProject) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")
    after = run_ok(roar_cli, "reproduce", metrics, "--script", cwd=git_project.root)
    before = run_ok(roar_cli, "reproduce", "--script", metrics, cwd=git_project.root)
    assert after.stdout == before.stdout
    assert after.stdout.startswith("#!") and "roar run python eval.py" in after.stdout


def test_plan_and_no_puts_show_the_plan_and_run_nothing(roar_cli, git_project: GitProject) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    metrics = b3(git_project.root / "metrics.json")
    default = run_ok(roar_cli, "reproduce", metrics, cwd=git_project.root)
    assert run_ok(roar_cli, "reproduce", metrics, "--plan", cwd=git_project.root).stdout == (
        default.stdout
    )
    assert run_ok(roar_cli, "reproduce", metrics, "--no-puts", cwd=git_project.root).stdout == (
        default.stdout
    )
    both = roar_cli("reproduce", metrics, "--plan", "--run", cwd=git_project.root)
    assert both.returncode == 2 and "--plan" in both.stderr
    assert not list(git_project.root.glob("reproduce-*"))


def test_export_requirements_writes_the_recorded_pins(
    roar_cli, git_project: GitProject, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    # a step that imports a package (the pipeline's steps import none)
    (git_project.root / "digest.py").write_text(
        "import blake3\nopen('digest.txt', 'w').write(blake3.blake3(b'x').hexdigest())\n"
    )
    run_ok(roar_cli, "run", "python", "digest.py", cwd=git_project.root)
    metrics = b3(git_project.root / "digest.txt")
    listed = run_ok(roar_cli, "reproduce", metrics, "--list-requirements", cwd=git_project.root)
    assert any(ln.startswith("blake3==") for ln in listed.stdout.splitlines())
    pins = [ln for ln in listed.stdout.splitlines() if "==" in ln]
    out = run_ok(
        roar_cli,
        "reproduce",
        metrics,
        "--export-requirements",
        str(tmp_path / "r.txt"),
        cwd=git_project.root,
    )
    assert out.stdout == f"Wrote {len(pins)} pip requirement(s) to {tmp_path / 'r.txt'}\n"
    written = (tmp_path / "r.txt").read_text().splitlines()
    assert [ln for ln in written if not ln.startswith("#")] == pins and pins


def test_step_timeout_kills_a_step_that_runs_too_long(
    roar_cli, git_project: GitProject, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    record_pipeline(roar_cli, git_project, None)
    git_project.commit({"slow.py": SLOW}, "a step that is slow when reproduced")
    run_ok(roar_cli, "run", "python", "slow.py", cwd=git_project.root)
    target = b3(git_project.root / "slow.txt")
    started = time.monotonic()
    result = roar_cli(
        "reproduce",
        target,
        "--run",
        "-y",
        "--step-timeout",
        "5",
        "--dir",
        str(tmp_path / "again"),
        cwd=git_project.root,
    )
    assert time.monotonic() - started < 50
    assert result.returncode == 11, result.stderr
    assert "ran past --step-timeout 5s" in result.stderr
