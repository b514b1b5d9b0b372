"""`roar run` end to end: the real CLI, the real tracer, real processes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from pipeline import PIPELINE, TRAIN, b3, run_pipeline

from roar.objects.job import Job
from roar.workspace import Workspace


def test_five_minute_first_experience(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    assert roar_cli("init").returncode == 0
    run_pipeline(roar_cli)
    log = roar_cli("log")
    assert log.returncode == 0
    rows = log.stdout.splitlines()[5:]  # roar-cli's table, oldest first
    assert [line.split()[1] for line in rows] == ["@1", "@2", "@3"]
    assert all(line.split()[5] == "OK" for line in rows)
    assert "python evaluate.py --model model.pt --output metrics.json" in log.stdout
    dag_text = roar_cli("dag")
    lines = dag_text.stdout.splitlines()
    assert lines[0] == "Pipeline: 3 steps"
    steps = [re.sub(r" +in:\d+ out:\d+ cons:\d+$", "", ln) for ln in lines if "cons:" in ln]
    assert steps == [
        f"@1 {PIPELINE[0]}",
        f"└──>@2 {PIPELINE[1]}",
        f"    └──>@3 {PIPELINE[2]}",
    ]
    show = roar_cli("show", "model.pt")
    assert show.returncode == 0 and "Produced by (1 job):" in show.stdout
    assert f"{PIPELINE[1]}  (@2)" in show.stdout

    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert [(n["step"], n["depends_on"]) for n in nodes] == [
        ("@1", []),
        ("@2", ["@1"]),
        ("@3", ["@2"]),
    ]
    inputs = {Path(a["path"]).name: a["hash"] for a in nodes[1]["inputs"]}
    assert inputs == {
        "features.parquet": b3(project / "features.parquet"),
        "train.py": b3(project / "train.py"),
    }
    outputs = {Path(a["path"]).name: a["hash"] for a in nodes[1]["outputs"]}
    assert outputs == {"model.pt": b3(project / "model.pt")}
    shown = json.loads(roar_cli("show", "model.pt", "--json").stdout)
    assert shown["artifact"] == b3(project / "model.pt")
    assert shown["produced_by"]["step"] == "@2" and shown["consumed_by"] == ["@3"]


def test_exit_code_is_mirrored_and_the_failed_job_recorded(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    result = roar_cli("run", "python", "-c", "import sys; sys.exit(3)")
    assert result.returncode == 3
    log = json.loads(roar_cli("log", "--json").stdout)
    assert [(r["step"], r["exit_code"]) for r in log] == [("@1", 3)]


def test_rerun_with_override_supersedes_and_marks_downstream_stale(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    run_pipeline(roar_cli)
    result = roar_cli("run", "@2", "--epochs=5")
    assert result.returncode == 0, result.stderr
    assert (project / "model.pt").read_text().startswith("epochs=5\n")
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert [(n["step"], n["stale"]) for n in nodes] == [("@1", False), ("@2", False), ("@3", True)]
    assert nodes[1]["argv"][-1] == "--epochs=5"
    expanded = json.loads(roar_cli("dag", "--json", "--expanded").stdout)["nodes"]
    assert [(n["step"], n["superseded"]) for n in expanded] == [
        ("@1", False),
        ("@2", True),
        ("@2", False),
        ("@3", False),
    ]


def test_build_and_run_steps_share_one_counter(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    # roar-cli numbers @B1 @2 @3 @4: a script's `roar run @3` names the same step in both.
    roar_cli("init", "-n")
    assert roar_cli("build", "python", "-c", "open('lib.so','w').write('x')").returncode == 0
    run_pipeline(roar_cli)
    steps = [r["step"] for r in json.loads(roar_cli("log", "--json").stdout)]
    assert steps == ["@4", "@3", "@2", "@B1"]
    wrong = roar_cli("show", "@1")  # the number is the build step's: say so
    assert wrong.returncode == 4 and "@B1 is a build step" in wrong.stderr
    assert json.loads(roar_cli("show", "@B1", "--json").stdout)["type"] == "build"


def test_pop_removes_the_step_and_with_yes_its_outputs(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    run_pipeline(roar_cli)
    result = roar_cli("pop", "-y")
    assert (
        result.returncode == 0 and "Removed job " in result.stdout and "(step @3)" in result.stdout
    )
    assert not (project / "metrics.json").exists()
    assert (project / "model.pt").exists()
    assert [r["step"] for r in json.loads(roar_cli("log", "--json").stdout)] == ["@2", "@1"]


def test_directory_written_as_a_unit_is_one_composite(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    shard = (
        "import os; os.makedirs('shards');"
        "[open(f'shards/part-{i}.bin','w').write(str(i) * 100) for i in range(3)]"
    )
    assert roar_cli("run", "python", "-c", shard).returncode == 0
    assert (
        roar_cli(
            "run", "python", "-c", "open('sum.txt','w').write(open('shards/part-1.bin').read())"
        ).returncode
        == 0
    )
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    (out,) = nodes[0]["outputs"]
    assert out["kind"] == "tree" and Path(out["path"]).name == "shards" and out["size"] == 300
    ws = Workspace(project)
    tree = ws.objects.read(out["hash"])
    assert [e.path for e in tree.entries] == [b"part-0.bin", b"part-1.bin", b"part-2.bin"]
    assert [e.hash for e in tree.entries] == [
        b3(project / f"shards/part-{i}.bin") for i in range(3)
    ]
    assert nodes[1]["depends_on"] == ["@1"]
    shown = json.loads(roar_cli("show", "shards", "--json").stdout)
    assert shown["artifact"] == out["hash"] and shown["produced_by"]["step"] == "@1"


def test_secrets_in_the_environment_never_enter_the_store(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    token = "ghp_" + "a1B2" * 9
    env = {"MY_API_TOKEN": "hunter2", "INNOCENT": token, "PLAIN": "visible"}
    assert roar_cli("run", "python", "-c", "pass", env=env).returncode == 0
    ws = Workspace(project)
    job_id = json.loads(roar_cli("log", "--json").stdout)[0]["job"]
    job = ws.objects.read(job_id)
    assert isinstance(job, Job)
    env_vars = {k: v for k, v in job.context["env_vars"]}
    assert env_vars[b"MY_API_TOKEN"] == b"<redacted>"
    assert env_vars[b"INNOCENT"] == b"<redacted>"
    assert env_vars[b"PLAIN"] == b"visible"
    for path in (project / ".roar/objects").rglob("*"):
        if path.is_file():
            raw = ws.objects.decompress(path.read_bytes()) if path.parent.name != "cache" else b""
            assert b"hunter2" not in raw and token.encode() not in raw


def test_dirty_git_tree_warns_records_patch_or_refuses(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "train.py"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "train"], cwd=project, check=True)
    roar_cli("init", "-n")
    (project / "train.py").write_text(TRAIN + "\n# tweak\n")
    result = roar_cli("run", "python", "-c", "pass")
    assert result.returncode == 0
    assert "warning: git work tree is dirty" in result.stderr
    ws = Workspace(project)
    job = ws.objects.read(json.loads(roar_cli("log", "--json").stdout)[0]["job"])
    git_ctx = job.context["git"]
    assert git_ctx["dirty"] is True and git_ctx["branch"] in ("master", "main")
    patch = ws.objects.read(git_ctx["patch"]).data
    assert b"+# tweak" in patch and b"train.py" in patch
    roar_cli("config", "set", "run.require_clean", "true")
    refused = roar_cli("run", "python", "-c", "open('never','w')")
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    assert not (project / "never").exists()


def test_env_set_is_injected_into_runs(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    assert roar_cli("env", "set", "GREETING", "hello").returncode == 0
    assert roar_cli("env", "get", "GREETING").stdout == "hello\n"
    code = "import os; open('out.txt','w').write(os.environ['GREETING'])"
    assert roar_cli("run", "python", "-c", code).returncode == 0
    assert (project / "out.txt").read_text() == "hello"
    assert roar_cli("env", "unset", "GREETING").returncode == 0
    assert json.loads(roar_cli("env", "list", "--json").stdout) == {}


def test_missing_tracer_stops_before_running_the_command(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    result = roar_cli(
        "run", "python", "-c", "open('ran','w')", env={"ROAR_TRACER": "/nonexistent/roar-tracer"}
    )
    assert result.returncode == 7
    assert result.stderr.startswith(
        "error: tracer /nonexistent/roar-tracer is not an executable file"
    )
    assert not (project / "ran").exists()


def test_show_names_the_installed_packages_a_job_read(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    import importlib.metadata

    roar_cli("init", "-n")
    # click is installed in this interpreter as a distribution with files
    # under site-packages; importing it reads them.
    assert roar_cli("run", "python", "-c", "import click").returncode == 0
    shown = json.loads(roar_cli("show", "@1", "--json").stdout)
    assert f"click=={importlib.metadata.version('click')}" in shown["packages_read"]["pip"]
    assert "blake3" not in " ".join(shown["packages_read"]["pip"])  # not imported
    dpkg = shown["packages_read"]["dpkg"]
    if Path("/var/lib/dpkg/status").exists():
        assert any(p.startswith("libc6=") for p in dpkg)  # the dynamic loader and libc


def test_traced_diamond_has_fan_out_and_fan_in(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    steps = [
        "open('clean.csv','w').write(open('data.csv').read().strip())",
        "open('feats.txt','w').write(open('clean.csv').read()[::-1])",
        "open('stats.txt','w').write(str(len(open('clean.csv').read())))",
        "open('model.pt','w').write(open('feats.txt').read() + open('stats.txt').read())",
    ]
    for code in steps:
        assert roar_cli("run", "python", "-c", code).returncode == 0
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert [(n["step"], n["depends_on"]) for n in nodes] == [
        ("@1", []),
        ("@2", ["@1"]),
        ("@3", ["@1"]),
        ("@4", ["@2", "@3"]),
    ]
    lineage = json.loads(roar_cli("lineage", "model.pt").stdout)
    assert sorted(j["step"] for j in lineage["jobs"]) == ["@1", "@2", "@3", "@4"]
    roots = json.loads(roar_cli("inputs", "--json").stdout)["inputs"]
    assert [Path(r["path"]).name for r in roots] == ["data.csv"]


def test_report_is_short_quiet_or_verbose(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    normal = roar_cli("run", *PIPELINE[0].split())
    first, *rest = normal.stderr.splitlines()
    assert first.startswith("roar: @1 job ") and first.endswith("read 2  wrote 1")
    assert rest == [
        f"  out {b3(project / 'features.parquet')[:12]}  {project / 'features.parquet'}"
    ]
    assert roar_cli("run", "-q", *PIPELINE[1].split()).stderr == ""
    verbose = roar_cli("run", "-v", *PIPELINE[2].split()).stderr.splitlines()[1:]
    assert verbose == [
        f"  in  {b3(project / 'evaluate.py')[:12]}  {project / 'evaluate.py'}",
        f"  in  {b3(project / 'model.pt')[:12]}  {project / 'model.pt'}",
        f"  out {b3(project / 'metrics.json')[:12]}  {project / 'metrics.json'}",
    ]


def test_project_ignore_patterns_keep_files_out_of_the_lineage(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    assert (
        roar_cli("config", "set", "filters.ignore_patterns", "wandb,*.log,cache/*.bin").returncode
        == 0
    )
    (project / "old.log").write_text("read, but ignored")
    code = (
        "import os; open('data.csv').read(); open('old.log').read();"
        "os.makedirs('wandb/run-1'); open('wandb/run-1/events','w').write('e');"
        "os.makedirs('deep/er'); open('deep/er/train.log','w').write('l');"
        "os.makedirs('cache'); open('cache/a.bin','w').write('c');"
        "open('cache/keep.txt','w').write('k'); open('model.pt','w').write('m')"
    )
    assert roar_cli("run", "python", "-c", code).returncode == 0
    (node,) = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert [Path(a["path"]).name for a in node["inputs"]] == ["data.csv"]
    assert sorted(Path(a["path"]).relative_to(project).as_posix() for a in node["outputs"]) == [
        "cache/keep.txt",
        "model.pt",
    ]


def test_steps_keep_counting_after_gc_packs_the_session(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    assert roar_cli("build", "python", "-c", "x = 1").returncode == 0
    assert roar_cli("run", "python", "-c", "x = 1").returncode == 0
    assert json.loads(roar_cli("gc", "--json").stdout)["loose_removed"] > 0
    # The tracer appends the next steps reading the packed chain (its cache gone too).
    shutil.rmtree(project / ".roar/cache/steps")
    assert roar_cli("run", "python", "-c", "x = 2").returncode == 0
    assert roar_cli("build", "python", "-c", "x = 2").returncode == 0
    steps = [r["step"] for r in json.loads(roar_cli("log", "--json").stdout)]
    assert steps == ["@B4", "@3", "@2", "@B1"]
    assert roar_cli("fsck").returncode == 0
    reflog = (project / ".roar/logs/refs/sessions/main").read_text().splitlines()
    assert len(reflog) == 4
