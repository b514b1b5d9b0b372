"""Issue #14's examples that involve a registry: a real glaas-server on 127.0.0.1,
two people with their own home directories and workspaces, the real CLI and tracer."""

from __future__ import annotations

import io
import json
import shlex
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from pipeline import EVALUATE, PREPROCESS, TRAIN, b3, run_pipeline

pytest_plugins = ["reproduce_fixtures"]

CONTINUE = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("--from-checkpoint"); p.add_argument("--output")
a = p.parse_args()
open(a.output, "w").write("continued from " + open(a.from_checkpoint).read())
"""


@dataclass
class Person:
    root: Path  # their workspace
    env: dict[str, str]  # their own HOME, XDG config and cache


@pytest.fixture
def person(tmp_path: Path, roar_cli, glaas_url: str):  # type: ignore[no-untyped-def]
    def make(name: str, *, workspace: bool = True) -> Person:
        home = tmp_path / f"home-{name}"
        root = home / "work"
        root.mkdir(parents=True)
        env = {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
        p = Person(root, env)
        if workspace:
            ok(roar_cli, p, "init", "-n")
            ok(roar_cli, p, "config", "set", "glaas.url", glaas_url)
            ok(roar_cli, p, "config", "set", "store.fsync", "false")
        return p

    return make


def ok(roar_cli, who: Person, *args: str):  # type: ignore[no-untyped-def]
    result = roar_cli(*args, cwd=who.root, env=who.env)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def alice_pipeline(roar_cli, alice: Person, *, git: bool = False) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The three-step pipeline on data of its own (tests share one registry); with `git`,
    in a git repository with an origin, so that a reproduction can clone it."""
    data = f"a,b\n1,{uuid.uuid4().hex}\n"
    files = {"preprocess.py": PREPROCESS, "train.py": TRAIN, "evaluate.py": EVALUATE,
             "data.csv": data}  # fmt: skip
    if git:
        from dulwich import porcelain

        origin = alice.root.parent / "origin.git"
        porcelain.init(str(alice.root))
        porcelain.init(str(origin), bare=True)
        with porcelain.open_repo_closing(str(alice.root)) as repo:
            config = repo.get_config()
            config.set((b"remote", b"origin"), b"url", str(origin).encode())
            config.write_to_path()
        files[".gitignore"] = ".roar/\nfeatures.parquet\nmodel.pt\nmetrics.json\n"
    for name, text in files.items():
        (alice.root / name).write_text(text)
    if git:
        porcelain.add(str(alice.root), [str(alice.root / n) for n in files])
        porcelain.commit(str(alice.root), message=b"pipeline", author=b"A <a@example.com>",
                         committer=b"A <a@example.com>")  # fmt: skip
        porcelain.push(str(alice.root), str(origin), b"master", errstream=io.BytesIO())
    run_pipeline(lambda *a: roar_cli(*a, cwd=alice.root, env=alice.env))
    rows = json.loads(ok(roar_cli, alice, "log", "--json").stdout)
    return {r["step"]: r["job"] for r in rows}


def test_register_prints_a_reproduce_command_that_works(roar_cli, person) -> None:  # type: ignore[no-untyped-def]
    # (in git: a plan without a repository to clone is refused, issue #11's containment)
    alice = person("alice")
    jobs = alice_pipeline(roar_cli, alice, git=True)
    out = ok(roar_cli, alice, "register", "-y").stdout
    line = next(x for x in out.splitlines() if x.startswith("reproduce: "))
    argv = shlex.split(line.removeprefix("reproduce: "))
    assert argv[:2] == ["roar", "reproduce"]
    session = argv[2]
    plan = ok(roar_cli, alice, *argv[1:]).stdout
    assert plan.startswith(f"reproduce session {session}\n")
    assert "refused" not in plan and "MISSING" not in plan
    planned = json.loads(ok(roar_cli, alice, *argv[1:], "--json").stdout)
    assert [s["job"] for s in planned["steps"]] == [jobs["@1"], jobs["@2"], jobs["@3"]]
    shown = json.loads(ok(roar_cli, alice, "show", session, "--json").stdout)
    assert (shown["session"], shown["head"]) == ("main", session)
    assert [s["job"] for s in shown["steps"]] == [jobs["@1"], jobs["@2"], jobs["@3"]]


def test_a_teammates_checkpoint_keeps_its_lineage(roar_cli, person) -> None:  # type: ignore[no-untyped-def]
    # given: alice trained a model and registered it
    alice = person("alice")
    jobs = alice_pipeline(roar_cli, alice)
    model = b3(alice.root / "model.pt")
    ok(roar_cli, alice, "register", "model.pt", "-y")
    # when: bob fetches its lineage, takes the bytes as checkpoint.pt and continues
    bob = person("bob")
    ok(roar_cli, bob, "fetch", model)
    shutil.copy(alice.root / "model.pt", bob.root / "checkpoint.pt")
    (bob.root / "continue.py").write_text(CONTINUE)
    ok(roar_cli, bob, "run", "python", "continue.py", "--from-checkpoint", "checkpoint.pt",
       "--output", "continued.pt")  # fmt: skip
    # then: the checkpoint is alice's model, and the lineage walks back through her work
    shown = json.loads(ok(roar_cli, bob, "show", "checkpoint.pt", "--json").stdout)
    assert shown["produced_by"]["id"] == jobs["@2"]
    assert "root input" not in ok(roar_cli, bob, "show", "checkpoint.pt").stdout
    lineage = json.loads(ok(roar_cli, bob, "lineage", "continued.pt").stdout)
    assert [j["id"] for j in lineage["jobs"]][:2] == [jobs["@1"], jobs["@2"]]  # oldest first
    assert [j["argv"][1] for j in lineage["jobs"]] == ["preprocess.py", "train.py",
                                                         "continue.py"]  # fmt: skip
    dag = ok(roar_cli, bob, "dag", "--show-artifacts").stdout
    assert f"<- {model[:12]} {bob.root}/checkpoint.pt (from job {jobs['@2'][:12]}" in dag
    plan = json.loads(ok(roar_cli, bob, "reproduce", "continued.pt", "--json").stdout)
    assert [s["job"] for s in plan["steps"]][:2] == [jobs["@1"], jobs["@2"]]


def test_the_plan_does_not_depend_on_what_was_fetched(roar_cli, person) -> None:  # type: ignore[no-untyped-def]
    # given: alice and bob each made the same bytes with different commands
    alice = person("alice")
    alice_jobs = alice_pipeline(roar_cli, alice)
    features = b3(alice.root / "features.parquet")
    ok(roar_cli, alice, "register", "features.parquet", "-y")
    bob = person("bob")
    (bob.root / "make.py").write_text(
        f"open('features.parquet', 'wb').write({(alice.root / 'features.parquet').read_bytes()!r})"
    )
    ok(roar_cli, bob, "run", "python", "make.py")
    bob_job = json.loads(ok(roar_cli, bob, "log", "--json").stdout)[0]["job"]
    before = json.loads(ok(roar_cli, bob, "reproduce", features, "--json").stdout)
    # when: bob fetches alice's lineage of the same hash
    ok(roar_cli, bob, "fetch", features)
    after = json.loads(ok(roar_cli, bob, "reproduce", features, "--json").stdout)
    # then: his live step is still the producer, and the plan is the same plan
    assert [s["job"] for s in before["steps"]] == [bob_job]
    assert {k: v for k, v in after.items() if k != "fetched"} == {
        k: v for k, v in before.items() if k != "fetched"
    }
    assert (
        json.loads(ok(roar_cli, bob, "show", features, "--json").stdout)["produced_by"]["id"]
        == bob_job
    )
    assert alice_jobs["@1"] != bob_job


def test_reproduce_from_a_directory_that_is_not_a_workspace(roar_cli, person, glaas_url) -> None:  # type: ignore[no-untyped-def]
    alice = person("alice")
    jobs = alice_pipeline(roar_cli, alice)
    model = b3(alice.root / "model.pt")
    ok(roar_cli, alice, "register", "model.pt", "-y")
    # someone sent carol the hash: a fresh machine, no workspace, a global remote
    carol = person("carol", workspace=False)
    ok(roar_cli, carol, "config", "set", "--global", "glaas.url", glaas_url)
    plan = json.loads(ok(roar_cli, carol, "reproduce", model[:12], "--json").stdout)
    assert [s["job"] for s in plan["steps"]] == [jobs["@1"], jobs["@2"]]
    assert plan["fetched"] > 0
    assert not (carol.root / ".roar").exists()
    # dave has no configuration at all: --remote names the registry
    dave = person("dave", workspace=False)
    plan = json.loads(
        ok(roar_cli, dave, "reproduce", model, "--remote", glaas_url, "--json").stdout
    )
    assert [s["job"] for s in plan["steps"]] == [jobs["@1"], jobs["@2"]]
    nothing = roar_cli("reproduce", "0" * 64, cwd=dave.root, env=dave.env)
    assert nothing.returncode == 4


def test_a_session_rerun_with_an_override_reproduces_from_what_register_prints(
    roar_cli, person, glaas_url, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # given: alice's pipeline, then step 2 re-run with an override (other model bytes),
    # so that the live @3 read the model of the superseded @2 (docs/lineage.md §4, §5)
    alice = person("alice")
    jobs = alice_pipeline(roar_cli, alice, git=True)
    old_model = b3(alice.root / "model.pt")
    ok(roar_cli, alice, "run", "@2", "--epochs=2")
    rows = json.loads(ok(roar_cli, alice, "log", "--json").stdout)
    rerun = next(r["job"] for r in rows if r["step"] == "@2" and not r["superseded"])
    assert rerun != jobs["@2"]
    assert b3(alice.root / "model.pt") != old_model
    # the checklist finds the model's producer, as `reproduce metrics.json` does
    dry = json.loads(ok(roar_cli, alice, "register", "--dry-run", "--json").stdout)
    sourced = next(c for c in dry["checklist"] if c["check"] == "all inputs sourced")
    assert sourced["ok"] is True, sourced
    out = ok(roar_cli, alice, "register", "-y").stdout
    line = next(x for x in out.splitlines() if x.startswith("reproduce: "))
    argv = shlex.split(line.removeprefix("reproduce: "))
    # when: someone with nothing but the registry plans and runs that command
    dave = person("dave", workspace=False)
    plan = json.loads(ok(roar_cli, dave, *argv[1:], "--remote", glaas_url, "--json").stdout)
    # then: each step after what it read; the superseded @2 makes the model @3 read
    assert [s["job"] for s in plan["steps"]] == [jobs["@1"], jobs["@2"], jobs["@3"], rerun]
    assert plan["inputs"] and all(i["status"] != "missing" for i in plan["inputs"])
    assert any("@3 is stale" in w for w in plan["warnings"]), plan["warnings"]
    shown = ok(roar_cli, dave, *argv[1:], "--remote", glaas_url)
    assert "MISSING" not in shown.stdout and "@3 is stale" in shown.stdout + shown.stderr
    where = tmp_path / "again"
    done = roar_cli(*argv[1:], "--remote", glaas_url, "--run", "-y", "--dir", str(where),
                    cwd=dave.root, env=dave.env)  # fmt: skip
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert b3(where / "model.pt") == b3(alice.root / "model.pt")
    assert b3(where / "metrics.json") == b3(alice.root / "metrics.json")
