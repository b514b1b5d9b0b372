"""roar against roar-cli 0.4.7, side by side, command by command.

The same pipeline is recorded by both (conftest.py); each test compares one
command's `--json` shape (keys and types; ours may add keys beside roar-cli's)
or the text lines people and scripts read. Tests marked xfail(strict=True) are
the shapes issue #15 phase 2 brings (they wait for the lineage core): they fail
today, and turn the suite red the day they pass without the mark removed.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import sqlite3
import subprocess
from pathlib import Path

import blake3
import pytest

from .conftest import TRAIN_STEP, Pipeline, Tool, _git


def shape(
    value: object, path: str = "$", out: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """Every key path of a JSON document with the types seen there; arrays merged, and
    maps keyed by hashes (`root_inputs_a`) merged as `{hash}`."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(type(value).__name__ if value is not None else "null")
    if isinstance(value, dict):
        for k, v in value.items():
            key = "{hash}" if re.fullmatch(r"[0-9a-f]{64}", k) else k
            shape(v, f"{path}.{key}", out)
    elif isinstance(value, list):
        for v in value:
            shape(v, f"{path}[]", out)
    return out


def assert_shape_covers(ours: object, theirs: object) -> None:
    """Every key roar-cli has, ours has, with a type roar-cli uses there (null aside)."""
    mine, peer = shape(ours), shape(theirs)
    missing = sorted(p for p in peer if p not in mine)
    assert not missing, f"keys roar-cli has and roar lacks: {missing}"
    wrong = {
        p: (sorted(mine[p]), sorted(peer[p]))
        for p in peer
        if (peer[p] - {"null"}) and not (mine[p] - {"null"}) <= (peer[p] | {"int"})
    }
    assert not wrong, f"types differ (ours, roar-cli's): {wrong}"


def b3(path: Path) -> str:
    return blake3.blake3(path.read_bytes()).hexdigest()


def logged(tool: Tool, *args: str):  # type: ignore[no-untyped-def]
    return next(r for a, r in tool.log if a == args)


# --- phase 1: aligned now -------------------------------------------------------


def test_init_in_a_script_keeps_roar_dir_out_of_git(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        assert ".roar/" in (tool.root / ".gitignore").read_text().splitlines(), tool.name


def test_run_name_becomes_the_steps_name_label(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        shown = logged(tool, "label", "show", "job", TRAIN_STEP).stdout.splitlines()
        assert "name=training" in shown, tool.name


def test_label_set_and_show_with_a_kind_print_alike(pipeline: Pipeline) -> None:
    args = ("label", "set", "artifact", "model.pkl", "accuracy=0.93")
    assert logged(pipeline.ours, *args).stdout == logged(pipeline.peer, *args).stdout
    assert logged(pipeline.ours, *args).stdout.splitlines() == [
        "Updated labels (version 1):",
        "  accuracy=0.93",
    ]
    show = ("label", "show", "artifact", "model.pkl")
    assert pipeline.ours(*show).stdout == pipeline.peer(*show).stdout == "accuracy=0.93\n"


def test_tracer_use_takes_the_backend_names(pipeline: Pipeline) -> None:
    for name in ("auto", "preload"):
        for tool in (pipeline.ours, pipeline.peer):
            tool("tracer", "use", name)
    pipeline.peer("tracer", "use", "preload")


def test_get_dry_run_prints_what_it_would_download(pipeline: Pipeline, http_root) -> None:  # type: ignore[no-untyped-def]
    url, _ = http_root
    texts = []
    for tool in (pipeline.peer, pipeline.ours):
        out = tool("get", f"{url}/remote.txt", "-o", "remote.txt", "--dry-run").stdout
        texts.append(out.replace(str(tool.root), "<root>").splitlines()[:2])
        assert not (tool.root / "remote.txt").exists()
    assert (
        texts[0]
        == texts[1]
        == ["Dry run - would download:", f"  {url}/remote.txt -> <root>/remote.txt"]
    )


def test_reproduce_script_to_stdout_and_export_requirements(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        model = b3(tool.root / "model.pkl")
        script = tool("reproduce", model, "--script").stdout
        assert script.startswith("#!/usr/bin/env bash\n"), tool.name
        assert "roar run python train.py --lr=0.5" in script, tool.name
        wrote = tool("reproduce", model, "--export-requirements", "req.txt").stdout
        count = re.fullmatch(r"Wrote (\d+) pip requirement\(s\) to req\.txt\n", wrote)
        assert count, (tool.name, wrote)
        pins = [ln for ln in (tool.root / "req.txt").read_text().splitlines() if "==" in ln]
        assert len(pins) == int(count[1]), tool.name


def test_register_dry_run_is_offline_with_a_checklist(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):  # glaas.url is the unreachable default
        lines = tool("register", "--dry-run").stdout.splitlines()
        assert lines[0] == "Dry run: would register lineage for: active session", tool.name
        assert any(re.fullmatch(r"Reproducibility — \d+/\d+", ln) for ln in lines), tool.name
        assert any(ln.endswith("] commit reachable on a remote") for ln in lines), tool.name
        assert any(ln.endswith("] no secrets in published lineage") for ln in lines), tool.name


def test_pop_and_reset_ask_alike_also_from_a_pipe(tools: tuple[Tool, Tool]) -> None:
    for tool in tools:  # roar-cli's other run options are taken too
        tool("run", "--hash", "sha256", "--tracer", "preload", "-q", "python", "prep.py")
    for tool in tools:
        eof = tool("pop", ok=False)
        assert eof.returncode == 1, tool.name
        assert eof.stdout.splitlines()[0] == "Step 1: python prep.py (exit 0)", tool.name
        assert "Remove this job? [Y/n]" in eof.stdout, tool.name
        declined = tool("pop", input="n\n")
        assert "Aborted." in declined.stdout and (tool.root / "features.csv").exists()
        reset = tool("reset", ok=False)
        assert reset.returncode == 1, tool.name
        assert reset.stdout.startswith("Current session has 1 step(s).\n"), tool.name
        assert "Start a new session? [Y/n]" in reset.stdout, tool.name
        popped = tool("pop", input="y\n")
        assert "Removed job " in popped.stdout and "Deleted 1 output file(s)." in popped.stdout
        assert not (tool.root / "features.csv").exists(), tool.name


def test_env_set_list_unset_print_alike(pipeline: Pipeline) -> None:
    outputs = []
    for tool in (pipeline.peer, pipeline.ours):
        said = [
            tool("env", *args).stdout
            for args in (("set", "FOO", "bar"), ("list",), ("unset", "FOO"), ("list",))
        ]
        outputs.append(said)
    assert (
        outputs[0]
        == outputs[1]
        == ["Set FOO=bar\n", "FOO=bar\n", "Unset FOO\n", "No environment variables set.\n"]
    )


def test_config_get_prints_the_bare_value_a_deliberate_difference(pipeline: Pipeline) -> None:
    # roar-cli prints `key: value`; roar prints the value alone, as `git config --get`
    # does, so `$(roar config get glaas.url)` is the URL (README, roar-cli section).
    assert pipeline.peer("config", "get", "hash.primary").stdout == "hash.primary: blake3\n"
    assert pipeline.ours("config", "get", "hash.primary").stdout == "blake3\n"


def test_import_of_a_real_roar_cli_workspace_loses_nothing(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # given: a copy of the workspace roar-cli recorded, and what its database holds
    copy = tmp_path / "imported"
    shutil.copytree(pipeline.peer.root, copy, symlinks=True)
    db = copy / ".roar" / "roar.db"
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with sqlite3.connect(db) as conn:
        uids = {r[0] for r in conn.execute("SELECT job_uid FROM jobs")}
        used = {
            r[0]
            for r in conn.execute(
                "SELECT h.digest FROM artifact_hashes h WHERE h.algorithm = 'blake3' AND "
                "h.artifact_id IN (SELECT artifact_id FROM job_inputs "
                "UNION SELECT artifact_id FROM job_outputs)"
            )
        }
    ours = Tool("roar", pipeline.ours.argv0, copy, pipeline.ours.env)
    for command in (("log",), ("init",)):  # init must not hide the history either
        refused = ours(*command, ok=False)
        assert refused.returncode == 3 and "roar import" in refused.stderr

    # when: roar imports it
    report = json.loads(ours("import", "-y", "--json").stdout)

    # then: every job and every artifact hash is there, and the old database is untouched
    assert set(report["jobs"]) == uids and len(uids) == 5
    in_jobs = set()
    for job_id in report["jobs"].values():
        shown = json.loads(ours("show", job_id[:16], "--json").stdout)
        in_jobs |= {a["hash"] for a in shown["inputs"] + shown["outputs"]}
    assert used <= in_jobs
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    log = ours("log").stdout
    assert "python evaluate.py" in log and "python train.py --lr=0.5" in log
    model = b3(copy / "model.pkl")
    assert ours("show", model).returncode == 0
    assert ours("label", "show", model).stdout == "accuracy=0.93\n"
    assert "name=training" in ours("label", "show", report["jobs"][_uid_of_named(db)]).stdout
    assert ours("fsck").returncode == 0
    # and the sha256 roar-cli computed for `run --hash sha256` is kept beside BLAKE3
    features = copy / "features.csv"
    prep = report["jobs"][_uid_of(db, "python prep.py")]
    from roar.workspace import Workspace

    job = Workspace(copy).objects.read(prep)
    kept = job.context["imported"]["digests"][b3(features)]
    assert kept["sha256"] == hashlib.sha256(features.read_bytes()).hexdigest()
    # and names the imported artifact, as roar-cli's `roar show <sha256>` does
    shown = json.loads(ours("show", kept["sha256"], "--json").stdout)
    assert shown["artifact"] == b3(features)


def _uid_of(db: Path, command: str) -> str:
    with sqlite3.connect(db) as conn:
        return str(
            conn.execute("SELECT job_uid FROM jobs WHERE command = ?", (command,)).fetchone()[0]
        )


def _uid_of_named(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        # roar-cli keeps -n NAME as the job's `name` label (its step_name column stays empty)
        return str(
            conn.execute(
                "SELECT j.job_uid FROM labels l JOIN jobs j ON j.id = l.job_id "
                'WHERE l.metadata LIKE \'%"name":"training"%\''
            ).fetchone()[0]
        )


# --- phase 2: the shapes of the inspection commands -------------------------------


def session_hash(tool: Tool) -> str:
    """What `roar show` names the active session by: roar-cli's session hash, our head."""
    line = next(ln for ln in tool("show").stdout.splitlines() if ln.startswith("Session: "))
    return line.split()[1]


JSON_COMMANDS = [
    ("dag", "--json"),
    ("dag", "--json", "--expanded"),
    ("dag", "--json", "--stale-only"),
    ("dag", "--json", "--session", "SESSION"),
    ("lineage", "model.pkl"),
    ("lineage", "-o", "json", "-d", "1", "model.pkl"),
    ("inputs", "--json", "model.pkl"),
    ("inputs", "--direct", "--json", "metrics.json"),
    ("inputs", "--all", "--json", "model.pkl"),
    ("diff", "--json", "model.pkl", "metrics.json"),
    ("diff", "--json", "--depth", "1", "model.pkl", "metrics.json"),
    ("tracer", "check", "--json"),
]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=lambda args: " ".join(args))
def test_json_has_roar_cli_keys_and_types(pipeline: Pipeline, args: tuple[str, ...]) -> None:
    found = []
    for tool in (pipeline.ours, pipeline.peer):
        argv = [session_hash(tool)[:12] if a == "SESSION" else a for a in args]
        found.append(json.loads(tool(*argv).stdout))
    assert_shape_covers(*found)


def test_dag_json_counts_alike(pipeline: Pipeline) -> None:
    # Same session, same numbering (@B1 @2 @3 @4): the counts and the stale step agree.
    keys = ("total_steps", "stale_count", "stale_artifact_count", "is_expanded")
    for args in (("dag", "--json"), ("dag", "--json", "--stale-only")):
        ours, peer = (json.loads(t(*args).stdout) for t in (pipeline.ours, pipeline.peer))
        assert {k: ours[k] for k in keys} == {k: peer[k] for k in keys}, args
        steps = [[(n["step_number"], n["state"], n["is_build"]) for n in d["nodes"]]
                 for d in (ours, peer)]  # fmt: skip
        assert steps[0] == steps[1], args
        assert [a["producer_step"] for a in ours["artifacts"] if a["is_stale"]] == [4]


def _dag_lines(text: str, root: Path) -> list[str]:
    """`roar dag` lines with the counts (which differ: see the README) blanked."""
    out = []
    for line in text.replace(str(root), "<root>").splitlines():
        out.append(re.sub(r" +in:\d+ out:\d+ cons:\d+", " in:_ out:_ cons:_", line))
    return out


def test_dag_header_and_legend_lines(pipeline: Pipeline) -> None:
    header = re.compile(r"Pipeline: \d+ steps \(\d+ stale steps, \d+ stale artifacts\)")
    for tool in (pipeline.peer, pipeline.ours):
        lines = tool("dag", "--no-color").stdout.splitlines()
        assert header.fullmatch(lines[0]), (tool.name, lines[0])
        assert any(ln.startswith("Legend: * = stale") for ln in lines), tool.name
        assert any(re.search(r"in:\d+ out:\d+ cons:\d+ \*$", ln) for ln in lines), tool.name


def test_dag_text_lines_alike(pipeline: Pipeline) -> None:
    ours, peer = (_dag_lines(t("dag").stdout, t.root) for t in (pipeline.ours, pipeline.peer))
    assert ours[0] == peer[0] == "Pipeline: 4 steps (1 stale steps, 1 stale artifacts)"
    steps = [[ln for ln in lines if "in:_" in ln] for lines in (ours, peer)]
    assert (
        steps[0]
        == steps[1]
        == [
            "@B1 python build.py in:_ out:_ cons:_",
            "@2 python prep.py in:_ out:_ cons:_",
            "└──>@3 python train.py --lr=0.5 in:_ out:_ cons:_",
            "    └──>@4 python evaluate.py in:_ out:_ cons:_ *",
        ]
    )
    for lines in (ours, peer):
        assert "            └──> (metrics.json) [stale]" in lines
        assert lines[-1] == "Legend: * = stale, B = build step"
    # every step line is right-aligned to the terminal's width less 3 (COLUMNS=200)
    for tool in (pipeline.ours, pipeline.peer):
        widths = {len(ln) for ln in tool("dag").stdout.splitlines() if "cons:" in ln}
        assert widths == {197}, tool.name


def test_dag_stale_only_and_expanded_lines_alike(pipeline: Pipeline) -> None:
    ours, peer = (_dag_lines(t("dag", "--stale-only").stdout, t.root)
                  for t in (pipeline.ours, pipeline.peer))  # fmt: skip
    assert (
        ours
        == peer
        == [
            "Pipeline: 4 steps (1 stale steps, 1 stale artifacts)",
            "",
            "@4 python evaluate.py in:_ out:_ cons:_ *",
            "    └──> (metrics.json) [stale]",
            "",
            "Legend: * = stale",
        ]
    )
    ours, peer = (_dag_lines(t("dag", "--expanded").stdout, t.root)
                  for t in (pipeline.ours, pipeline.peer))  # fmt: skip
    assert ours[0] == peer[0] == "Pipeline: 4 steps (5 runs shown) (1 stale steps, 1 superseded)"
    for lines in (ours, peer):  # the replaced run of @3, with its -n name and label line
        assert "├──>@3 training in:_ out:_ cons:_ [superseded]" in lines
        assert "├──>    labels: name=training" in lines
        assert lines[-1] == "Legend: * = stale, B = build step, [superseded] = previous run"


def test_dag_of_another_session_by_its_hash(pipeline: Pipeline) -> None:
    for tool in (pipeline.ours, pipeline.peer):
        lines = tool("dag", "--session", session_hash(tool)[:12]).stdout.splitlines()
        assert lines[0] == "Pipeline: 4 steps (1 stale steps, 1 stale artifacts)", tool.name


def test_session_hash_prints_one_hash(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        assert re.fullmatch(r"[0-9a-f]{64}\n", tool("session", "hash").stdout), tool.name
    assert pipeline.ours("session", "hash").stdout.strip() == session_hash(pipeline.ours)


def test_empty_session_dag(pipeline: Pipeline) -> None:
    for name in ("roar", "roar-cli"):
        assert pipeline.empty[f"{name} dag"].stdout.splitlines() == [
            "Pipeline: 0 steps",
            "",
            "No steps in pipeline.",
        ]
    assert_shape_covers(
        json.loads(pipeline.empty["roar dag --json"].stdout),
        json.loads(pipeline.empty["roar-cli dag --json"].stdout),
    )
    assert pipeline.empty["roar log"].stdout == pipeline.empty["roar-cli log"].stdout


def test_log_table_with_duration_and_status(pipeline: Pipeline) -> None:
    header = "UID       STEP   TIMESTAMP             DURATION  STATUS  COMMAND"
    rows = []
    for tool in (pipeline.peer, pipeline.ours):
        lines = tool("log").stdout.splitlines()
        assert lines[:5] == ["", "Job Log (5 jobs)", "", header, "-" * 72], tool.name
        for ln in lines[5:]:
            assert re.fullmatch(
                r"[0-9a-f]{8}  @B?\d +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+\.\ds  OK      .+", ln
            ), (tool.name, ln)
        rows.append([(ln[10:17].strip(), ln[57:]) for ln in lines[5:]])
    assert (
        rows[0]
        == rows[1]
        == [
            ("@B1", "python build.py"),
            ("@2", "python prep.py"),
            ("@3", "python train.py --lr=0.1"),
            ("@4", "python evaluate.py"),
            ("@3", "python train.py --lr=0.5"),
        ]
    )


def test_status_lines_alike(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        # roar-cli starts with a blank line once its hints are on again
        lines = tool("status").stdout.lstrip("\n").splitlines()
        assert re.fullmatch(
            r"Git:       clean — master @ [0-9a-f]{7}  \('roar run' ready\)", lines[0]
        ), tool.name
        assert re.fullmatch(
            r"Session:   [0-9a-f]{64}  ·  3 run steps  ·  1 build step  ·  .+", lines[1]
        ), tool.name
        assert lines[2].startswith("Latest:    @3 python train.py --lr=0.5  ·  "), tool.name
        assert re.fullmatch(r"Artifacts \(\d+\):", lines[4]), tool.name
        assert re.fullmatch(r"  [0-9a-f]{12} +\d+B  .*/model\.pkl", lines[5]), tool.name
    for name in ("roar", "roar-cli"):
        empty = pipeline.empty[f"{name} status"].stdout.splitlines()
        assert empty[0].startswith("Git:       clean — master @ ") and len(empty) == 2, name
        assert empty[1].startswith("Session:   ") and empty[1].endswith("  ·  just now"), name


def test_show_artifact_names_its_hash_like_b3sum(pipeline: Pipeline) -> None:
    shown = []
    for tool in (pipeline.peer, pipeline.ours):
        model = tool.root / "model.pkl"
        for args in (("show", "model.pkl"), ("show", "--path", "model.pkl")):
            lines = tool(*args).stdout.splitlines()
            assert lines[:4] == [
                f"Hash (blake3):  {b3(model)}",
                f"                ≡ b3sum {model}",
                "Size:       21B",
                f"Path:       {model}",
            ], (tool.name, args)
            assert lines[4].startswith("First seen: 20"), tool.name
            at = lines.index("Produced by (1 job):")
            assert lines[at + 1].startswith("  "), tool.name
            shown.append(lines[at + 1].split("  ")[2])
            assert lines[lines.index("Labels:") + 1] == "  accuracy=0.93", tool.name
    assert set(shown) == {"python train.py --lr=0.5"}


def test_show_job_and_session_lines_alike(pipeline: Pipeline) -> None:
    tables = []
    for tool in (pipeline.peer, pipeline.ours):
        for args in (("show", "@3"), ("show", "--job", "@3")):
            lines = tool(*args).stdout.splitlines()
            assert re.fullmatch(r"Job:       @3  ·  [0-9a-f]{8}  ·  exit 0  ·  .+", lines[0])
            assert re.fullmatch(r"Identity:  [0-9a-f]{64}", lines[1]), tool.name
            assert re.fullmatch(r"Source:    master @ [0-9a-f]{7}", lines[2]), tool.name
            assert "  $ python train.py --lr=0.5" in lines, tool.name
            out = lines.index("Outputs (1):")
            assert re.fullmatch(
                rf"  blake3:[0-9a-f]{{12}}… +21B  {tool.root}/model\.pkl", lines[out + 1]
            ), (tool.name, lines[out + 1])
        lines = tool("show", "--session").stdout.splitlines()
        assert re.fullmatch(r"Session: [0-9a-f]{64}", lines[1]), tool.name
        assert lines[2].startswith("Created: 20") and lines[3].startswith("Commit: "), tool.name
        at = lines.index("Jobs (5):")
        assert lines[at + 2 : at + 4] == ["STEP    JOB UID   STATUS  COMMAND", "-" * 60]
        tables.append([(ln[:8].strip(), ln[18:26].strip(), ln[26:]) for ln in lines[at + 4 :]])
    assert tables[0] == tables[1]


def test_inputs_lines_alike(pipeline: Pipeline) -> None:
    line = re.compile(r"(⚠ |  )/\S+  blake3:[0-9a-f]{12}\.\.\.")
    for tool in (pipeline.peer, pipeline.ours):
        data = f"{tool.root}/data.csv  blake3:{b3(tool.root / 'data.csv')[:12]}..."
        roots = tool("inputs", "model.pkl").stdout.splitlines()
        assert f"  {data}" in roots, (tool.name, roots)
        assert all(line.fullmatch(ln) for ln in roots if "  blake3:" in ln), tool.name
        direct = tool("inputs", "--direct", "model.pkl").stdout.splitlines()
        features = f"{tool.root}/features.csv  blake3:{b3(tool.root / 'features.csv')[:12]}..."
        assert f"  {features}" in direct and f"  {data}" not in direct, tool.name
        everything = tool("inputs", "--all", "model.pkl").stdout.splitlines()
        assert {f"  {features}", f"  {data}"} <= set(everything), tool.name
        assert data in tool("inputs", "--sourced", "model.pkl").stdout.splitlines(), tool.name
        assert json.loads(tool("inputs", "--json", "data.csv").stdout)["is_root"] is True


def test_inputs_without_a_target_lists_the_sessions_a_deliberate_difference(
    pipeline: Pipeline,
) -> None:
    # roar-cli refuses; roar lists the active session's root inputs (README, roar-cli).
    refused = pipeline.peer("inputs", ok=False)
    assert refused.returncode == 2 and "A target reference is required." in refused.stderr
    rows = json.loads(pipeline.ours("inputs", "--json").stdout)["inputs"]
    assert "data.csv" in {Path(r["path"]).name for r in rows}


def test_diff_texts_alike(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        model, metrics = b3(tool.root / "model.pkl"), b3(tool.root / "metrics.json")
        lines = tool("diff", "model.pkl", "metrics.json").stdout.splitlines()
        assert lines[:6] == [
            "Diff: model.pkl vs metrics.json",
            "",
            f"  A: {model[:16]}...",
            f"  B: {metrics[:16]}...",
            "",
            lines[5],
        ], tool.name
        assert lines[5].startswith("ROOT CAUSE: ") and "--lr" in lines[5], tool.name
        assert {"PARAMS", "PIPELINE", "UNCHANGED", "  code (same git commit)"} <= set(lines)
        assert any(re.search(r"--lr.* \[\d\.\d\d\] \*$", ln) for ln in lines), tool.name
        category = tool("diff", "--format", "category", "model.pkl", "metrics.json").stdout
        assert any(
            re.fullmatch(r"  \[\d\.\d\d\] .*--lr.* <-- root cause", ln)
            for ln in category.splitlines()
        ), tool.name
        dag = tool("diff", "--format", "dag", "model.pkl", "metrics.json").stdout.splitlines()
        assert any(ln.endswith("DIFFERS (params) <-- ROOT CAUSE") for ln in dag), tool.name
        assert any(ln.rstrip().endswith("ADDED") for ln in dag), tool.name
        data = json.loads(tool("diff", "--json", "model.pkl", "metrics.json").stdout)
        assert (data["target_a_hash"], data["targets_identical"]) == (model, False)
        assert (data["only_in_a"], data["only_in_b"]) == (0, 1)
        # (roar records the scripts as inputs: evaluate.py is a root of B only)
        roots_a, roots_b = set(data["root_inputs_a"]), set(data["root_inputs_b"])
        assert data["root_inputs_match"] is (roots_a == roots_b) and roots_a <= roots_b
        root = next(d for d in data["diffs"] if d["is_root_cause"])
        assert (root["category"], root["change_type"]) == ("params", "param_changed")
        assert (root["detail"]["param"], root["detail"]["old"], root["detail"]["new"]) == (
            "--lr", "0.5", "0.1",
        )  # fmt: skip


def test_tracer_check_lines_alike(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        lines = tool("tracer", "check").stdout.splitlines()
        assert re.fullmatch(r"Tracer check passed for '\w+': .+", lines[0]), tool.name
        assert lines[1:3] == ["  - platform: ok (linux)", "  - architecture: ok (x86_64)"]
        report = json.loads(tool("tracer", "check", "--json").stdout)
        assert report["ok"] is True and report["command_checked"] is None, tool.name
        assert all(c["ok"] for c in report["checks"]), tool.name


def test_run_at_step_with_a_bare_argument_a_deliberate_difference(
    tools: tuple[Tool, Tool],
) -> None:
    # roar-cli drops a bare word after `run @N` (and fails outright on a stale step);
    # roar appends it to the step's command (README, roar-cli section).
    commands = []
    for tool in tools:
        tool("run", "python", "prep.py")
        tool("run", "@1", "--mode=x", "extra")
        lines = tool("log").stdout.splitlines()
        commands.append(lines[-1][57:])
    assert commands == ["python prep.py --mode=x", "python prep.py --mode=x extra"]


def test_dag_legend_only_when_something_applies(tools: tuple[Tool, Tool]) -> None:
    # given: one step, nothing stale, no build step
    for tool in tools:
        tool("run", "python", "prep.py")
    texts = [tool("dag", "--no-color").stdout.splitlines() for tool in tools]
    # then: neither prints a legend (roar-cli's, observed: no line at all)
    for tool, lines in zip(tools, texts, strict=True):
        assert not any(ln.startswith("Legend:") for ln in lines), (tool.name, lines)
        assert lines[-1] == "", (tool.name, lines)
    # and a build step brings only its own part
    for tool in tools:
        tool("build", "python", "build.py")
        assert tool("dag", "--no-color").stdout.splitlines()[-1] == "Legend: B = build step"


def test_show_first_seen_is_the_first_write_and_counts_one_job(tools: tuple[Tool, Tool]) -> None:
    import time

    for tool in tools:
        # given: features.csv written, read, then written again with the same bytes
        tool("run", "python", "prep.py")
        tool("run", "python", "train.py", "--lr=0.1")
        time.sleep(1.5)
        tool("run", "python", "prep.py")
        lines = tool("show", "features.csv").stdout.splitlines()
        rows = tool("log").stdout.splitlines()[5:]
        first_prep, last_prep = rows[0][17:36].strip(), rows[-1][17:36].strip()
        # then: first seen is when the first run made the bytes, not the latest run
        first = next(ln for ln in lines if ln.startswith("First seen: "))[12:]
        assert first_prep <= first < last_prep, (tool.name, first, rows)
        # and one reader is "1 job", as roar-cli writes it
        assert "Consumed by (1 job):" in lines, (tool.name, lines)


def test_the_log_timestamp_is_when_the_job_started(tools: tuple[Tool, Tool]) -> None:
    import time

    prog = "import time; open('began', 'w').write(repr(time.time())); time.sleep(3)"
    for tool in tools:
        # given: a job that notes when it began (its own clock), then runs 3 s more
        before = time.time()
        tool("run", "python", "-c", prog)
        began = float((tool.root / "began").read_text())
        row = tool("log").stdout.splitlines()[5]
        # then: TIMESTAMP (whole seconds) is its start (roar-cli: the job's start_time):
        # not before roar was called, and not after the program began (its end is 3 s on)
        stamp = time.mktime(time.strptime(row[17:36], "%Y-%m-%d %H:%M:%S"))
        assert int(before) <= stamp <= began, (tool.name, row, before, began)


def test_a_command_that_fails_by_a_signal_is_fail_in_the_log(tools: tuple[Tool, Tool]) -> None:
    # roar-cli: a command killed by a signal is FAIL (an interrupted `roar run` itself
    # records nothing there; ours records it as INTR: tests/test_cli_bad_input.py)
    for tool in tools:
        tool("run", "sh", "-c", "kill -INT $$", ok=False)
        row = tool("log").stdout.splitlines()[5]
        assert row[57:].startswith("sh -c "), (tool.name, row)
        assert row[49:57] == "FAIL    ", (tool.name, row)


def test_pop_and_reset_from_dev_null_abort_alike(tools: tuple[Tool, Tool]) -> None:
    import subprocess

    for tool in tools:
        tool("run", "python", "prep.py")
    for tool in tools:
        for command in ("pop", "reset"):
            proc = subprocess.run(
                [*tool.argv0, command],
                cwd=tool.root,
                env=tool.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == 1, (tool.name, command, proc.stdout, proc.stderr)
            assert proc.stderr.strip().endswith("Aborted!"), (tool.name, command, proc.stderr)
        assert (tool.root / "features.csv").exists(), tool.name


def test_pop_of_an_empty_session_says_so_and_succeeds(tools: tuple[Tool, Tool]) -> None:
    # roar-cli, observed: one line on stdout, exit 0, with or without -y
    for tool in tools:
        for args in (("pop",), ("pop", "-y")):
            popped = tool(*args, input="")
            assert popped.stdout == "No jobs in the active session.\n", (tool.name, args)


UNTRACKED_TAIL = [
    "",
    "These directories won't exist on a clean checkout, so reproduction may fail unless "
    "the run recreates them.",
    "Add a .gitkeep (or any tracked file) to each so a fresh checkout includes it.",
]


def test_status_untracked_dirs_outside_git_says_so_alike(tools: tuple[Tool, Tool]) -> None:
    # roar-cli, observed: one line, exit 0, in a workspace that is not in a git repository
    for tool in tools:
        shutil.rmtree(tool.root / ".git")
        said = tool("status", "--untracked-dirs")
        assert said.stdout == (
            "Not in a git repository — artifact-path tracking doesn't apply.\n"
        ), (tool.name, said.stdout)


def test_status_untracked_dirs_lists_alike(tools: tuple[Tool, Tool], tmp_path: Path) -> None:
    # given: nothing recorded yet, then one step writing into the repository's root (a
    # tracked directory), a new directory in it (untracked), one holding only an
    # ignored file, and a directory outside the repository
    outside = tmp_path / "outside"
    outside.mkdir()
    for tool in tools:
        assert tool("status", "--untracked-dirs").stdout == (
            "All artifact paths are in tracked directories.\n"
        ), tool.name
        (tool.root / "kept").mkdir()
        (tool.root / "kept" / ".gitkeep").write_text("")
        with open(tool.root / ".gitignore", "a") as ignore:
            ignore.write("out/\nkept/k.txt\n")
        _commit(tool.root)
        tool(
            "run", "python", "-c",
            "import os, sys; os.makedirs('out/sub'); open('out/sub/m.bin', 'w').write('m');"
            "open('model.pkl', 'w').write('r'); open('kept/k.txt', 'w').write('k');"
            f"open({str(outside / tool.name)!r}, 'w').write(sys.argv[1])", tool.name,
        )  # fmt: skip
    for tool in tools:
        # then: the untracked directory and the one outside, in the order status lists
        # them (each step's outputs by path), with roar-cli's advice
        lines = tool("status", "--untracked-dirs").stdout.splitlines()
        assert lines == [
            "Artifacts in untracked directories (2):",
            f"  {outside}/{tool.name}",  # .../outside/ sorts before .../roar*/repo/
            f"  {tool.root}/out/sub/m.bin",
            *UNTRACKED_TAIL,
        ], tool.name
    # and ours says the same in --json (roar-cli has no --json for status)
    listed = json.loads(tools[1]("status", "--untracked-dirs", "--json").stdout)["artifacts"]
    assert [(a["path"], a["directory"], a["in_repo"]) for a in listed] == [
        (f"{outside}/roar", str(outside), False),
        (f"{tools[1].root}/out/sub/m.bin", f"{tools[1].root}/out/sub", True),
    ]
    assert listed[1]["hash"] == b3(tools[1].root / "out" / "sub" / "m.bin")


def _commit(root: Path) -> None:
    from .conftest import _git

    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "a tracked directory")


def _i386_program(path: Path) -> Path:
    """A minimal 32-bit x86 executable: the ELF header and one PT_LOAD, nothing more."""
    import struct

    header = struct.pack(
        "<4s12sHHIIIIIHHHHHH",
        b"\x7fELF", bytes([1, 1, 1]), 2, 3, 1, 0x8048000, 52, 0, 0, 52, 32, 1, 40, 0, 0,
    )  # fmt: skip
    path.write_bytes(header + struct.pack("<8I", 1, 0, 0x8048000, 0x8048000, 84, 84, 5, 0x1000))
    path.chmod(0o755)
    return path


def test_tracer_check_command_found_and_not_found_alike(pipeline: Pipeline) -> None:
    python = shutil.which("python3", path=pipeline.ours.env["PATH"])
    for tool in (pipeline.peer, pipeline.ours):
        # a program on PATH: resolved as exec would, then roar-cli's two rows
        lines = tool("tracer", "check", "--command", "python3").stdout.splitlines()
        assert re.fullmatch(r"Tracer check passed for '\w+': .+", lines[0]), tool.name
        assert lines[1] == f"  command: {python}", tool.name
        assert f"  - command: ok ({python})" in lines, tool.name
        assert "  - command_compatibility: ok (compatible)" in lines, tool.name
        report = json.loads(tool("tracer", "check", "--command", "python3", "--json").stdout)
        assert (report["ok"], report["command_checked"]) == (True, python), tool.name
        # a name found nowhere: exit 1, the report on stderr, the reason as its summary
        missing = tool("tracer", "check", "--command", "roar-no-such-program", ok=False)
        assert (missing.returncode, missing.stdout) == (1, ""), tool.name
        lines = missing.stderr.splitlines()
        assert re.fullmatch(
            r"Tracer check failed for '\w+': command not found: roar-no-such-program", lines[0]
        ), tool.name
        assert lines[1] == "  command: roar-no-such-program", tool.name
        assert "  - command: fail (command not found: roar-no-such-program)" in lines, tool.name
        args = ("tracer", "check", "--command", "roar-no-such-program", "--json")
        report = json.loads(tool(*args, ok=False).stdout)
        assert (report["ok"], report["command_checked"], report["summary"]) == (
            False, "roar-no-such-program", "command not found: roar-no-such-program",
        ), tool.name  # fmt: skip
    args = ("tracer", "check", "--command", "python3", "--json")
    assert_shape_covers(
        json.loads(pipeline.ours(*args).stdout), json.loads(pipeline.peer(*args).stdout)
    )


def test_tracer_check_command_is_honest_where_roar_cli_says_compatible_a_deliberate_difference(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    # roar-cli calls every program it finds "compatible"; ours says what its tracer would
    # do with it. A 32-bit program: the tracer reads only the native ABI.
    old = str(_i386_program(tmp_path / "old32"))
    peer = json.loads(pipeline.peer("tracer", "check", "--command", old, "--json").stdout)
    assert peer["ok"] is True
    assert {"name": "command_compatibility", "ok": True, "detail": "compatible"} in peer["checks"]
    ours = pipeline.ours("tracer", "check", "--command", old, "--json", ok=False)
    assert ours.returncode == 1
    report = json.loads(ours.stdout)
    rows = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False and report["ready"] is True  # the tracer itself is fine
    assert rows["command_program"]["detail"] == f"{old}: ELF 32-bit 386, statically linked"
    assert (
        not rows["command_abi"]["ok"] and "would not be recorded" in rows["command_abi"]["detail"]
    )
    assert rows["command_compatibility"] == {
        "name": "command_compatibility", "ok": False, "detail": rows["command_abi"]["detail"],
    }  # fmt: skip
    assert report["summary"] == rows["command_abi"]["detail"]
    # A script: judged by the interpreter its #! line names
    script = tmp_path / "run.sh"
    script.write_text(f"#!{old}\n")
    script.chmod(0o755)
    text = pipeline.ours("tracer", "check", "--command", f"{script} --flag", ok=False).stderr
    assert f"  - command_script: ok ({script} runs {old})" in text.splitlines()
    # A program that calls ptrace itself (strace): fine under seccomp user notification,
    # refused under the ptrace fallback, where roar already ptraces the command
    import subprocess

    strace = shutil.which("strace")
    assert strace, "strace is installed by `make test` (debuggers)"
    for wanted in ("auto", "ptrace"):
        env = {**pipeline.ours.env, "ROAR_TRACER_MECHANISM": wanted}
        ran = subprocess.run(
            [*pipeline.ours.argv0, "tracer", "check", "--command", "strace", "--json"],
            cwd=pipeline.ours.root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        report = json.loads(ran.stdout)
        ok = report["mechanism"] == "notify"  # auto: notify where the kernel has it
        rows = {c["name"]: c for c in report["checks"]}
        assert rows["command_ptrace"]["ok"] is ok, (wanted, rows)
        assert rows["command_ptrace"]["detail"].startswith(
            "it calls ptrace: debuggers and tracers "
        )
        assert ran.returncode == (0 if ok else 1), wanted
    # roar-cli's ptrace backend calls strace compatible all the same
    peer = json.loads(
        pipeline.peer("tracer", "check", "ptrace", "--command", "strace", "--json").stdout
    )
    assert peer["ok"] is True


def test_telemetry_forms_that_scripts_call_succeed_alike(pipeline: Pipeline) -> None:
    # roar-cli (telemetry off by DO_NOT_TRACK, as in CI): status lines, --disable and
    # --enable exit 0, --print has no payload (exit 1). roar has no telemetry at all.
    for tool in (pipeline.peer, pipeline.ours):
        lines = tool("telemetry").stdout.splitlines()
        assert lines[:2] == ["Telemetry: disabled", "Uploads: disabled"], tool.name
        assert tool("telemetry", "--status").stdout.splitlines()[:2] == lines[:2], tool.name
        assert tool("telemetry", "--disable").stdout.startswith("Telemetry disabled "), tool.name
        printed = tool("telemetry", "--print", ok=False)
        assert printed.returncode == 1, tool.name
        assert printed.stderr.startswith("Error: No telemetry payload would be uploaded: ")
    pipeline.peer("telemetry", "--enable")  # on again, then off, as it was
    pipeline.peer("telemetry", "--disable")
    enabled = pipeline.ours("telemetry", "--enable").stdout
    assert enabled == "Telemetry not enabled: roar has no telemetry: it sends nothing, " \
        "so there is nothing to switch on or off.\n"  # fmt: skip


def test_tracer_enable_answers_alike(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        for backend in ("preload", "ptrace"):
            said = tool("tracer", "enable", backend, ok=False)
            assert said.returncode == 2, (tool.name, backend)
            assert said.stderr.splitlines() == [
                f"{backend} works out of the box — no host setup needed.",
                f"Run `roar tracer check {backend}` to verify readiness.",
            ], (tool.name, backend)
        auto = tool("tracer", "enable", "auto", ok=False)
        assert auto.returncode == 2, tool.name
        assert "`auto` is a selection policy, not a tracer — nothing to enable." in auto.stderr
    # roar-cli's `enable ebpf` runs `sudo setcap` on its eBPF binary (observed), so it is
    # not run here; roar's one tracer needs no setup, and enable ebpf says so
    ebpf = pipeline.ours("tracer", "enable", "ebpf").stdout
    assert ebpf.startswith("roar has one tracer (seccomp user notification, ptrace as the")
    pipeline.peer("tracer", "use", "preload")


def test_inputs_takes_roar_cli_target_selectors(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        model = b3(tool.root / "model.pkl")
        by_path = tool("inputs", "model.pkl").stdout
        assert tool("inputs", "--path", "model.pkl").stdout == by_path, tool.name
        assert tool("inputs", "--artifact", model).stdout == by_path, tool.name
        assert tool("inputs", "--job", TRAIN_STEP).stdout == tool("inputs", TRAIN_STEP).stdout
        # a selector names the kind: a job's step refused as an artifact
        wrong = tool("inputs", "--artifact", TRAIN_STEP, ok=False)
        assert wrong.returncode != 0, tool.name


def test_redirected_stdin_is_an_input_and_stdout_no_output_for_both(
    tools: tuple[Tool, Tool],
) -> None:
    # roar-cli records a file on stdin but not one on stdout; so does roar
    # (docs/tracer.md, "Inherited descriptors").
    shown = {}
    for tool in tools:
        (tool.root / "rows.csv").write_text("a\nb\n")
        with (tool.root / ".gitignore").open("a") as ignore:
            ignore.write("count.txt\n")  # the shell creates it before roar-cli checks
        _git(tool.root, "add", "rows.csv", ".gitignore")
        _git(tool.root, "commit", "-qm", "rows")  # roar-cli runs only in a clean tree
        line = f"{shlex.join(tool.argv0)} run -q wc -l < rows.csv > count.txt"
        done = subprocess.run(
            ["bash", "-c", line], cwd=tool.root, env=tool.env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, (tool.name, done.stderr)
        assert (tool.root / "count.txt").read_text() == "2\n", tool.name
        shown[tool.name] = tool("show", "@1").stdout
        assert f"{tool.root}/rows.csv" in shown[tool.name], (tool.name, shown[tool.name])
    for tool in tools:
        assert f"{tool.root}/count.txt" not in shown[tool.name], (tool.name, shown[tool.name])
