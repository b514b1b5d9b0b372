"""Sessions and the inferred DAG, on jobs written through the object API.

(The same commands over real traced runs are tested in tests/test_run.py.)
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from roar import sessions
from roar.lineage.chain import find_step
from roar.objects.job import ArtifactRef, Job
from roar.objects.tree import Tree, TreeEntry
from roar.workspace import Workspace

RAW, CLEAN, FEATS, MODEL, METRICS = ("1" * 64, "2" * 64, "3" * 64, "4" * 64, "5" * 64)


def _art(name: str, digest: str) -> ArtifactRef:
    return ArtifactRef(f"/w/{name}".encode(), digest, 10)


def record(ws: Workspace, argv: str, ins: list[ArtifactRef], outs: list[ArtifactRef], **kw) -> str:  # type: ignore[no-untyped-def]
    job = Job(
        type="run",
        argv=tuple(a.encode() for a in argv.split()),
        cwd=b"/w",
        started_ns=0,
        ended_ns=1,
        exit_code=0,
        inputs=tuple(sorted(ins, key=lambda a: a.path)),
        outputs=tuple(sorted(outs, key=lambda a: a.path)),
    )
    oid = ws.objects.write(job)
    sessions.append(ws, oid, "run", **kw)
    return oid


def diamond(ws: Workspace) -> None:
    record(ws, "python prep.py", [_art("raw.csv", RAW)], [_art("clean.csv", CLEAN)])
    record(ws, "python features.py", [_art("clean.csv", CLEAN)], [_art("feats.npy", FEATS)])
    record(
        ws,
        "python train.py",
        [_art("clean.csv", CLEAN), _art("feats.npy", FEATS)],
        [_art("model.pt", MODEL)],
    )
    record(ws, "python eval.py", [_art("model.pt", MODEL)], [_art("metrics.json", METRICS)])


def test_diamond_dag_has_the_right_edges(workspace: Workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    out = roar_cli("dag", "--json")
    assert out.returncode == 0, out.stderr
    nodes = json.loads(out.stdout)["nodes"]
    assert [(n["step"], n["depends_on"]) for n in nodes] == [
        ("@1", []),
        ("@2", ["@1"]),
        ("@3", ["@1", "@2"]),
        ("@4", ["@3"]),
    ]
    assert not any(n["stale"] for n in nodes)


def test_rerun_supersedes_and_marks_downstream_stale(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    old = find_step(sessions.history(workspace), "@2").job
    record(
        workspace,
        "python features.py --k=5",
        [_art("clean.csv", CLEAN)],
        [_art("feats.npy", "6" * 64)],
        step=2,
        supersedes=old,
    )
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    # In dependency order, not recording order; @3 read the features @2 no longer writes.
    assert [(n["step"], n["stale"]) for n in nodes] == [
        ("@1", False),
        ("@2", False),
        ("@3", True),
        ("@4", True),
    ]
    expanded = json.loads(roar_cli("dag", "--json", "--expanded").stdout)["nodes"]
    assert [(n["step"], n["superseded"]) for n in expanded] == [
        ("@1", False),
        ("@2", True),
        ("@2", False),
        ("@3", False),
        ("@4", False),
    ]


def test_lineage_walks_upstream_only(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    data = json.loads(roar_cli("lineage", MODEL[:10]).stdout)
    assert sorted(j["step"] for j in data["jobs"]) == ["@1", "@2", "@3"]
    assert sorted(a["hash"] for a in data["artifacts"]) == sorted([MODEL, CLEAN, FEATS, RAW])
    roots = json.loads(roar_cli("inputs", "--json").stdout)["inputs"]
    assert [r["hash"] for r in roots] == [RAW]


def test_pop_and_reset(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    popped = roar_cli("pop", "-y")
    assert popped.returncode == 0 and "Removed job" in popped.stdout
    assert popped.stdout.startswith("Step 4: python eval.py (exit 0)")
    assert [r["step"] for r in json.loads(roar_cli("log", "--json").stdout)] == ["@3", "@2", "@1"]
    assert roar_cli("reset", "-y").returncode == 0
    status = json.loads(roar_cli("status", "--json").stdout)
    assert status["steps"] == 0 and status["session"].startswith("s-")
    assert workspace.refs.read("refs/sessions/main") is not None  # the old session is kept


def test_show_step_job_and_unknown(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    step = json.loads(roar_cli("show", "@3", "--json").stdout)
    assert step["argv"] == ["python", "train.py"] and step["command"] == "python train.py"
    by_id = json.loads(roar_cli("show", step["id"][:10], "--json").stdout)
    assert by_id["step"] == "@3"
    art = json.loads(roar_cli("show", MODEL[:8], "--json").stdout)
    assert art["produced_by"]["step"] == "@3" and art["consumed_by"] == ["@4"]
    missing = roar_cli("show", "@9")
    assert missing.returncode == 4 and "no step @9" in missing.stderr


def test_labels_keep_their_history(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    assert roar_cli("label", "set", MODEL[:8], "accuracy=0.93", "epochs=10").returncode == 0
    assert roar_cli("label", "set", "@3", "owner=ana").returncode == 0
    assert roar_cli("label", "set", MODEL[:8], "approved=true").returncode == 0
    assert roar_cli("label", "unset", MODEL[:8], "epochs").returncode == 0
    shown = json.loads(roar_cli("label", "show", MODEL[:8], "--json").stdout)
    assert shown == {"target": MODEL, "labels": {"accuracy": "0.93", "approved": True}}
    history = json.loads(roar_cli("label", "history", MODEL[:8], "--json").stdout)
    assert [h["labels"] for h in history] == [
        {"accuracy": "0.93", "approved": True},
        {"accuracy": "0.93", "epochs": 10, "approved": True},
        {"accuracy": "0.93", "epochs": 10},
    ]
    assert json.loads(roar_cli("label", "show", "@3", "--json").stdout)["labels"] == {
        "owner": "ana"
    }


def test_unknown_targets_say_what_was_tried(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    diamond(workspace)
    tried = (
        "not a path, a step (@N), a session, or a hash known here (objects and recorded artifacts)"
    )
    for argv in (["show", "nothere.txt"], ["diff", "nothere.txt", "@1"], ["label", "show", "zz"]):
        result = roar_cli(*argv)
        assert result.returncode == 4
        assert result.stderr == f"error: {argv[-1] if argv[0] != 'diff' else argv[1]}: {tried}\n"
    assert roar_cli("show", "beefbeef").stderr == f"error: beefbeef: {tried}\n"
    short = roar_cli("show", "beef")
    assert short.returncode == 4
    assert short.stderr == f"error: beef: {tried} (a hash prefix needs at least 8 hex digits)\n"


def test_dag_text_follows_the_session_as_it_moves(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    # What the pipeline ends in is kept in the index per head: a new step, and a
    # `pop` back, must each show the outputs of the session as it is now.
    def ends() -> list[str]:
        out = roar_cli("dag")
        assert out.returncode == 0, out.stderr
        return [line.split("└──> ")[1] for line in out.stdout.splitlines() if "└──> (" in line]

    record(workspace, "python prep.py", [_art("raw.csv", RAW)], [_art("clean.csv", CLEAN)])
    assert ends() == ["(clean.csv)"]
    record(workspace, "python train.py", [_art("clean.csv", CLEAN)], [_art("model.pt", MODEL)])
    assert ends() == ["(model.pt)"]
    assert roar_cli("pop", "-y").returncode == 0
    assert ends() == ["(clean.csv)"]
    log = roar_cli("log", "-n", "1").stdout.splitlines()
    assert log[1] == "Job Log (1 jobs)" and log[-1].endswith("python prep.py")


def test_dag_answers_kept_per_head_show_every_change(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    # The plain `dag` and `dag --json` are kept in the index per head, width and label
    # state: asked twice they agree, and a label, a width or a new step shows at once.
    def kept() -> int:
        with sqlite3.connect(workspace.dir / "index.sqlite") as db:
            return int(db.execute("SELECT count(*) FROM answers").fetchone()[0])

    diamond(workspace)
    first = roar_cli("dag", env={"COLUMNS": "100"}).stdout
    assert kept() == 1
    assert roar_cli("dag", env={"COLUMNS": "100"}).stdout == first
    line = first.splitlines()[2]
    assert line.startswith("@1 python prep.py") and len(line) == 97
    wide = roar_cli("dag", env={"COLUMNS": "120"}).stdout
    assert len(wide.splitlines()[2]) == 117 and kept() == 2
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert kept() == 3 and nodes[0]["step_name"] is None
    assert roar_cli("label", "set", "@1", "name=prepare").returncode == 0
    assert roar_cli("dag", env={"COLUMNS": "100"}).stdout.splitlines()[2].startswith("@1 prepare")
    assert json.loads(roar_cli("dag", "--json").stdout)["nodes"][0]["step_name"] == "prepare"
    record(workspace, "python report.py", [_art("metrics.json", METRICS)], [_art("r.md", "7" * 64)])
    text = roar_cli("dag", env={"COLUMNS": "100"}).stdout
    assert text.startswith("Pipeline: 5 steps")
    assert "(r.md)" in text and "(metrics.json)" not in text
    assert [n["step"] for n in json.loads(roar_cli("dag", "--json").stdout)["nodes"]][-1] == "@5"


def test_no_dag_answer_kept_while_a_composite_is_missing(workspace: Workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    # A step wrote a directory whose tree object is not here yet (fetched lineage, say):
    # its members could still add edges when it arrives, so no answer is final.
    def kept() -> int:
        with sqlite3.connect(workspace.dir / "index.sqlite") as db:
            return int(db.execute("SELECT count(*) FROM answers").fetchone()[0])

    tree = Tree.of([TreeEntry(b"a.bin", FEATS, 10)])
    out = ArtifactRef(b"/w/feats", tree.id, 10, "tree")
    record(workspace, "python prep.py", [_art("raw.csv", RAW)], [out])
    record(workspace, "python train.py", [_art("feats/a.bin", FEATS)], [_art("m.pt", MODEL)])
    first = roar_cli("dag", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["nodes"][1]["depends_on"] == []
    assert kept() == 0
    workspace.objects.write(tree)
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert nodes[1]["depends_on"] == ["@1"] and kept() == 1
