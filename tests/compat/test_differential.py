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
import shutil
import sqlite3
from pathlib import Path

import blake3
import pytest

from .conftest import PHASE2, Pipeline, Tool, train_step

phase2 = pytest.mark.xfail(strict=True, reason=PHASE2)


def shape(
    value: object, path: str = "$", out: dict[str, set[str]] | None = None
) -> dict[str, set[str]]:
    """Every key path of a JSON document with the types seen there; arrays merged."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(type(value).__name__ if value is not None else "null")
    if isinstance(value, dict):
        for k, v in value.items():
            shape(v, f"{path}.{k}", out)
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
        shown = logged(tool, "label", "show", "job", train_step(tool)).stdout.splitlines()
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


# --- phase 2: the shapes built on the lineage core --------------------------------


@phase2
@pytest.mark.parametrize(
    "args",
    [
        ("dag", "--json"),
        ("dag", "--json", "--expanded"),
        ("lineage", "model.pkl"),
        ("inputs", "--json", "model.pkl"),
        ("diff", "--json", "model.pkl", "metrics.json"),
        ("tracer", "check", "--json"),
    ],
    ids=lambda args: " ".join(args),
)
def test_json_has_roar_cli_keys_and_types(pipeline: Pipeline, args: tuple[str, ...]) -> None:
    assert_shape_covers(
        json.loads(pipeline.ours(*args, ok=False).stdout or "null"),
        json.loads(pipeline.peer(*args).stdout),
    )


@phase2
def test_dag_header_and_legend_lines(pipeline: Pipeline) -> None:
    header = re.compile(r"Pipeline: \d+ steps \(\d+ stale steps, \d+ stale artifacts\)")
    for tool in (pipeline.peer, pipeline.ours):
        lines = tool("dag", "--no-color").stdout.splitlines()
        assert header.fullmatch(lines[0]), (tool.name, lines[0])
        assert any(ln.startswith("Legend: * = stale") for ln in lines), tool.name
        assert any(re.search(r"in:\d+ out:\d+ cons:\d+ \*$", ln) for ln in lines), tool.name


@phase2
def test_empty_session_dag(pipeline: Pipeline) -> None:
    assert pipeline.empty["roar dag"].stdout.splitlines()[0] == "Pipeline: 0 steps"
    assert_shape_covers(
        json.loads(pipeline.empty["roar dag --json"].stdout),
        json.loads(pipeline.empty["roar-cli dag --json"].stdout),
    )


@phase2
def test_log_table_with_duration_and_status(pipeline: Pipeline) -> None:
    header = "UID       STEP   TIMESTAMP             DURATION  STATUS  COMMAND"
    assert header in pipeline.peer("log").stdout.splitlines()
    assert header in pipeline.ours("log").stdout.splitlines()


@phase2
def test_show_artifact_names_its_hash_like_b3sum(pipeline: Pipeline) -> None:
    for tool in (pipeline.peer, pipeline.ours):
        lines = tool("show", "model.pkl").stdout.splitlines()
        assert lines[0] == f"Hash (blake3):  {b3(tool.root / 'model.pkl')}", tool.name
