"""Issue #14's failing examples, as a new user meets them: the real tracer, the real
CLI as a subprocess. (The ones involving a registry are in test_lineage_remote.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline import PIPELINE, b3, run_pipeline

from roar.objects.tree import Tree, TreeEntry


def _ok(roar_cli, *args: str, **kw):  # type: ignore[no-untyped-def]
    result = roar_cli(*args, **kw)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def _jobs_by_step(roar_cli) -> dict[str, str]:  # type: ignore[no-untyped-def]
    rows = json.loads(_ok(roar_cli, "log", "--json").stdout)
    return {r["step"]: r["job"] for r in reversed(rows) if not r["superseded"]}


def test_the_old_model_keeps_its_lineage_after_a_rerun(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    # given: prep -> train -> evaluate, then train re-run with other parameters
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    old_model = b3(project / "model.pt")
    jobs = _jobs_by_step(roar_cli)
    _ok(roar_cli, "run", "@2", "--epochs=5")
    assert b3(project / "model.pt") != old_model
    # then: the old model was written by the old @2, which read features from @1
    shown = json.loads(_ok(roar_cli, "show", old_model, "--json").stdout)
    assert shown["produced_by"]["id"] == jobs["@2"]
    assert (shown["produced_by"]["step"], shown["produced_by"]["superseded"]) == ("@2", True)
    text = _ok(roar_cli, "show", old_model).stdout
    assert "python train.py --data features.parquet --output model.pt  (@2, superseded)" in text
    assert "root input" not in text
    lineage = json.loads(_ok(roar_cli, "lineage", old_model).stdout)
    assert [j["id"] for j in lineage["jobs"]] == [jobs["@1"], jobs["@2"]]  # oldest first
    unsourced = json.loads(_ok(roar_cli, "inputs", "--unsourced", "--json").stdout)["inputs"]
    assert sorted(Path(r["path"]).name for r in unsourced) == [
        "data.csv", "evaluate.py", "preprocess.py", "train.py",
    ]  # fmt: skip
    # and reproduce plans exactly that lineage
    plan = json.loads(_ok(roar_cli, "reproduce", old_model, "--json").stdout)
    assert [s["job"] for s in plan["steps"]] == [jobs["@1"], jobs["@2"]]


def test_dag_lists_steps_in_dependency_order_after_a_rerun(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    _ok(roar_cli, "run", "@2", "--epochs=5")
    lines = _ok(roar_cli, "dag").stdout.splitlines()
    assert lines[0] == "Pipeline: 3 steps (1 stale steps, 1 stale artifacts)"
    assert _steps(lines) == [
        (f"@1 {PIPELINE[0]}", "cons:0"),
        (f"└──>@2 {PIPELINE[1]} --epochs=5", "cons:1"),
        (f"    └──>@3 {PIPELINE[2]}", "cons:1 *"),
    ]
    nodes = json.loads(_ok(roar_cli, "dag", "--json").stdout)["nodes"]
    assert [(n["step"], n["stale"]) for n in nodes] == [("@1", False), ("@2", False), ("@3", True)]


def test_the_prefixes_roar_run_prints_name_things_everywhere(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    printed = _ok(roar_cli, "run", "python", "evaluate.py", "--model", "model.pt",
                  "--output", "again.json").stderr  # fmt: skip
    job_prefix = re.search(r"job ([0-9a-f]{12})", printed).group(1)  # type: ignore[union-attr]
    out_prefix = re.search(r"out ([0-9a-f]{12})  ", printed).group(1)  # type: ignore[union-attr]
    for prefix in (job_prefix, out_prefix):
        plan = json.loads(_ok(roar_cli, "reproduce", prefix, "--json").stdout)
        assert plan["target"]["hash"].startswith(prefix)
        assert json.loads(_ok(roar_cli, "show", prefix, "--json").stdout)
    assert json.loads(_ok(roar_cli, "show", out_prefix, "--json").stdout)["artifact"] == b3(
        project / "again.json"
    )


def test_running_the_same_command_again_reruns_its_step(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    before = _jobs_by_step(roar_cli)
    again = _ok(roar_cli, "run", *PIPELINE[1].split())
    assert re.match(r"roar: @2 job [0-9a-f]{12} .*\(re-run of @2\)", again.stderr)
    _ok(roar_cli, "run", *PIPELINE[1].split())
    log = json.loads(_ok(roar_cli, "log", "--json").stdout)
    assert [(r["step"], r["superseded"]) for r in log] == [
        ("@2", False), ("@2", True), ("@3", False), ("@2", True), ("@1", False),
    ]  # fmt: skip
    status = json.loads(_ok(roar_cli, "status", "--json").stdout)
    assert (status["steps"], status["jobs"]) == (3, 5)
    # train writes the same bytes each time: nothing downstream is stale
    lines = _ok(roar_cli, "dag").stdout.splitlines()
    assert lines[0] == "Pipeline: 3 steps"
    assert _steps(lines) == [
        (f"@1 {PIPELINE[0]}", "cons:0"),
        (f"└──>@2 {PIPELINE[1]}", "cons:1"),
        (f"    └──>@3 {PIPELINE[2]}", "cons:1"),
    ]
    after = _jobs_by_step(roar_cli)
    assert after["@1"] == before["@1"] and after["@3"] == before["@3"]
    assert after["@2"] != before["@2"]


def test_show_and_put_give_a_directory_one_tree_id(roar_cli, project: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _ok(roar_cli, "init", "-n")
    shards = project / "shards"
    (shards / "nested").mkdir(parents=True)
    (shards / "a.bin").write_bytes(b"alpha")
    (shards / "nested" / "b.bin").write_bytes(b"bravo")
    (shards / ".roar").mkdir()  # a store inside: never part of the artifact
    (shards / ".roar" / "HEAD").write_text("ref: refs/sessions/main\n")
    expected = Tree.of(
        [
            TreeEntry(b"a.bin", b3(shards / "a.bin"), 5),
            TreeEntry(b"nested/b.bin", b3(shards / "nested" / "b.bin"), 5),
        ]
    ).id
    assert json.loads(_ok(roar_cli, "show", "shards", "--json").stdout)["artifact"] == expected
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    put = json.loads(
        _ok(roar_cli, "put", "shards", f"file://{bucket}/", "--no-register", "--json").stdout
    )
    assert [a["hash"] for a in put["artifacts"]] == [expected]


def test_concurrent_runs_of_one_command_are_executions_of_one_step(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    _ok(roar_cli, "init", "-n")
    _ok(roar_cli, "run", "python", "-c", "open('first.txt', 'w').write('1')")
    env = {**os.environ, "NO_COLOR": "1"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    command = ["python", "-c", "open('same.txt', 'w').write('x')"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "roar", "run", "-q", *command], cwd=project, env=env
        )
        for _ in range(6)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 6
    log = json.loads(_ok(roar_cli, "log", "--json").stdout)
    # all six landed, as executions of one new step: @2, the newest live
    assert sorted(r["step"] for r in log) == ["@1"] + ["@2"] * 6
    assert [r["superseded"] for r in log if r["step"] == "@2"] == [False] + [True] * 5
    assert len({r["job"] for r in log}) == 7
    assert json.loads(_ok(roar_cli, "status", "--json").stdout)["steps"] == 2
    assert _ok(roar_cli, "fsck").returncode == 0


def _steps(dag_lines: list[str]) -> list[tuple[str, str]]:
    """The step lines of `roar dag`: (tree and step, what follows the in:/out: counts)."""
    steps = []
    for line in dag_lines:
        m = re.fullmatch(r"(.*?) +in:\d+ out:\d+ (cons:\d+.*)", line)
        if m:
            steps.append((m[1], m[2]))
    return steps
