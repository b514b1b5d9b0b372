"""One question, one answer: `roar show` locally, `roar show --remote` / `roar remote
lookup`, the API twin and the web page name the same producer, the same upstream
jobs, the same step edges and staleness (issue #14). Real CLI and tracer, a real
glaas-server on loopback over SQLite and PostgreSQL; the right answers are
written in each test."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid

import requests
from pipeline import EVALUATE, PREPROCESS, b3
from pipeline import TRAIN as PIPELINE_TRAIN

from roar.objects.job import ArtifactRef, Job
from roar.sessions import append

# The pipeline's training with a learning rate to re-run it with: `roar run @2 --lr=0.5`.
TRAIN = PIPELINE_TRAIN.replace("epochs", "lr")
CONTINUE = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("--from-checkpoint"); p.add_argument("--output")
a = p.parse_args()
open(a.output, "w").write("continued from " + open(a.from_checkpoint).read())
"""
READ_ONE = """
import sys
open(sys.argv[2], "w").write(open(sys.argv[1]).read()[::-1])
"""


def ok(cli_as, user, *args: str):  # type: ignore[no-untyped-def]
    r = cli_as(user, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def as_json(cli_as, user, *args: str):  # type: ignore[no-untyped-def]
    return json.loads(ok(cli_as, user, *args).stdout)


def api(glaas, path: str):  # type: ignore[no-untyped-def]
    r = requests.get(f"{glaas.url}/api/v1/{path}", timeout=30)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def page(glaas, path: str) -> str:  # type: ignore[no-untyped-def]
    r = requests.get(f"{glaas.url}/{path}", timeout=30)
    assert r.status_code == 200, (path, r.text)
    return r.text


def producer_on_page(html: str) -> str:
    """The job the artifact page's Producer section links."""
    block = html.split('id="producer"', 1)[1].split("</div>", 1)[0]
    return re.search(r'href="/jobs/([0-9a-f]{64})"', block).group(1)  # type: ignore[union-attr]


def job_nodes(dag: dict) -> set[str]:  # type: ignore[type-arg]
    return {n["hash"] for n in dag["nodes"] if n["kind"] == "job"}


def record_rerun(cli_as, user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """prep -> train -> eval with `roar run`, then `roar run @2 --lr=0.5`."""
    root = user.ws.root
    for name, text in (("prep.py", PREPROCESS), ("train.py", TRAIN), ("eval.py", EVALUATE)):
        (root / name).write_text(text)
    (root / "data.csv").write_text(f"a,b\n1,{uuid.uuid4().hex}\n")  # tests share a registry
    ok(cli_as, user, "run", "python", "prep.py", "--input", "data.csv", "--output", "features.csv")
    ok(cli_as, user, "run", "python", "train.py", "--data", "features.csv", "--output", "model.pt")
    ok(cli_as, user, "run", "python", "eval.py", "--model", "model.pt", "--output", "metrics.json")
    first_model = b3(root / "model.pt")
    ok(cli_as, user, "run", "@2", "--lr=0.5")
    rows = as_json(cli_as, user, "log", "--json")
    steps = {r["step"]: r["job"] for r in rows if not r["superseded"]}
    return {"model_1": first_model, "model_2": b3(root / "model.pt"), **steps}


def test_after_a_rerun_the_old_model_has_the_superseded_producer_everywhere(
    make_user, cli_as, glaas
) -> None:  # type: ignore[no-untyped-def]
    # given: alice re-ran @2 with --lr=0.5 and registered the session
    alice = make_user("alice")
    made = record_rerun(cli_as, alice)
    local = as_json(cli_as, alice, "show", made["model_1"], "--json")["produced_by"]
    old_train = local["id"]
    assert (local["step"], local["superseded"]) == ("@2", True)
    assert old_train != made["@2"]  # the live @2 is the re-run
    reg = as_json(cli_as, alice, "register", "-y", "--json")
    head = reg["target"]["hash"]

    # then: the registry names the same superseded job, by every route
    for args in (("remote", "lookup", made["model_1"]), ("show", "--remote", made["model_1"])):
        found = as_json(cli_as, alice, *args, "--json")["artifact"]["producer"]
        assert (found["job"], found["step"], found["superseded"]) == (old_train, "@2", True)
    # and `show --remote` prints what `show` prints here, in roar-cli's layout for an
    # artifact found on GLaaS: its one producer on top, and where it came from
    here = ok(cli_as, alice, "show", made["model_1"]).stdout.splitlines()
    there = ok(cli_as, alice, "show", "--remote", made["model_1"]).stdout.splitlines()
    assert "Source:     GLaaS" in there
    train = "python train.py --data features.csv --output model.pt"
    producer_row = f"  {old_train[:8]}  {train}  (@2, superseded)"
    assert there.index("Produced by (1 job):") + 1 == there.index(producer_row)
    registered = [line for line in there if line.startswith("First seen: ")]
    assert len(registered) == 1  # when it was registered, where `show` says when recorded
    assert [x for x in there if x not in ("Source:     GLaaS", registered[0])] == [
        x for x in here if not x.startswith("First seen: ")
    ]
    twin = api(glaas, f"artifacts/{made['model_1']}")
    assert (twin["producer"]["job"], twin["producer"]["superseded"]) == (old_train, True)
    assert producer_on_page(page(glaas, f"artifacts/{made['model_1']}")) == old_train
    assert api(glaas, f"artifacts/{made['model_2']}")["producer"]["job"] == made["@2"]

    # the same upstream jobs: the old training and the preparation
    lineage = as_json(cli_as, alice, "lineage", made["model_1"])
    assert [j["id"] for j in lineage["jobs"]] == [made["@1"], old_train]  # oldest first
    assert job_nodes(api(glaas, f"dag/{made['model_1']}")["dag"]) == {old_train, made["@1"]}
    assert job_nodes(twin["dag"]) == {old_train, made["@1"]}

    # the same step edges and staleness: @3 read the old model, so it is stale
    expected = [("@1", [], False), ("@2", ["@1"], False), ("@3", ["@2"], True)]
    dag = as_json(cli_as, alice, "dag", "--json")["nodes"]
    assert [(n["step"], n["depends_on"], n["stale"]) for n in dag] == expected
    session = api(glaas, f"sessions/{head}")
    live = [s for s in session["steps"] if not s["superseded"]]
    assert [(s["step"], s["depends_on"], s["stale"]) for s in live] == expected
    assert session["stale_steps"] == ["@3"] and session["superseded_steps"] == ["@2"]
    html = page(glaas, f"sessions/{head}")
    assert html.count('class=" stale"') == 1 and html.count('class="superseded "') == 1


def test_a_step_that_reads_one_file_of_a_composite_depends_on_its_writer(
    make_user, cli_as, glaas, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    # given: @1 gets a directory (one composite artifact), @2 reads one file of it
    alice = make_user("alice")
    source = tmp_path / f"dataset-{uuid.uuid4().hex[:8]}"
    (source / "shards").mkdir(parents=True)
    (source / "shards" / "0.bin").write_text(uuid.uuid4().hex)
    (source / "shards" / "1.bin").write_text("other shard")
    (alice.ws.root / "read_one.py").write_text(READ_ONE)
    ok(cli_as, alice, "get", source.as_uri(), "dataset")
    ok(cli_as, alice, "run", "python", "read_one.py", "dataset/shards/0.bin", "out.txt")
    shard = b3(alice.ws.root / "dataset" / "shards" / "0.bin")
    steps = {r["step"]: r["job"] for r in as_json(cli_as, alice, "log", "--json")}
    assert len(steps) == 2
    get_job, reader = steps["@1"], steps["@2"]
    head = as_json(cli_as, alice, "register", "-y", "--json")["target"]["hash"]

    # then: the member's producer is the get job, locally and on the registry
    assert as_json(cli_as, alice, "show", shard, "--json")["produced_by"]["id"] == get_job
    assert (
        as_json(cli_as, alice, "remote", "lookup", shard, "--json")["artifact"]["producer"]["job"]
        == get_job
    )
    assert api(glaas, f"artifacts/{shard}")["producer"]["job"] == get_job
    assert producer_on_page(page(glaas, f"artifacts/{shard}")) == get_job
    # the edge @2 <- @1, in `roar dag` and on the registry's session page and DAG
    dag = as_json(cli_as, alice, "dag", "--json")["nodes"]
    assert [(n["step"], n["depends_on"]) for n in dag] == [("@1", []), ("@2", ["@1"])]
    session = api(glaas, f"sessions/{head}")
    assert [(s["step"], s["depends_on"]) for s in session["steps"]] == [("@1", []), ("@2", ["@1"])]
    assert session["dag"]["edges"] == [{"source": f"job:{get_job}", "target": f"job:{reader}"}]
    out = b3(alice.ws.root / "out.txt")
    assert job_nodes(api(glaas, f"dag/{out}")["dag"]) == {get_job, reader}


def test_a_teammates_checkpoint_walks_back_into_her_lineage_on_the_web(
    make_user, cli_as, glaas
) -> None:  # type: ignore[no-untyped-def]
    # given: alice registered her model; bob fetched it, continued from it as
    # checkpoint.pt in his own workspace and session, and registered his result
    alice = make_user("alice")
    made = record_rerun(cli_as, alice)
    ok(cli_as, alice, "register", "-y")  # her session, then the model
    ok(cli_as, alice, "register", "-y", "model.pt")
    bob = make_user("bob")
    ok(cli_as, bob, "fetch", made["model_2"])
    shutil.copy(alice.ws.root / "model.pt", bob.ws.root / "checkpoint.pt")
    (bob.ws.root / "continue.py").write_text(CONTINUE)
    ok(cli_as, bob, "run", "python", "continue.py", "--from-checkpoint", "checkpoint.pt",
       "--output", "continued.pt")  # fmt: skip
    bob_job = as_json(cli_as, bob, "log", "--json")[0]["job"]
    continued = b3(bob.ws.root / "continued.pt")
    ok(cli_as, bob, "register", "-y", "continued.pt")

    # then: bob's lineage runs through alice's live training and preparation, the
    # same locally, in the API and on the page
    upstream = [bob_job, made["@2"], made["@1"]]
    lineage = as_json(cli_as, bob, "lineage", "continued.pt")
    assert [j["id"] for j in lineage["jobs"]] == upstream[::-1]  # oldest first
    twin = api(glaas, f"artifacts/{continued}")
    assert twin["producer"]["job"] == bob_job
    assert job_nodes(twin["dag"]) == set(upstream)
    html = page(glaas, f"artifacts/{continued}")
    assert all(f'"/jobs/{j}"' in html for j in upstream)  # links of the page's DAG nodes
    # the checkpoint's page names alice's job, pushed in her session, as its producer
    checkpoint = api(glaas, f"artifacts/{made['model_2']}")
    assert (checkpoint["producer"]["job"], checkpoint["producer"]["step"]) == (made["@2"], "@2")
    assert (
        as_json(cli_as, bob, "show", "checkpoint.pt", "--json")["produced_by"]["id"] == made["@2"]
    )


def test_a_session_hash_pasted_in_the_search_box_opens_that_session(
    make_user, cli_as, glaas
) -> None:  # type: ignore[no-untyped-def]
    # given: a registered session of three steps, then a re-run of @2
    alice = make_user("alice")
    made = record_rerun(cli_as, alice)
    head = as_json(cli_as, alice, "register", "-y", "--json")["target"]["hash"]
    assert as_json(cli_as, alice, "show", "HEAD", "--json")["head"] == head
    # the session object that recorded @3, before the re-run
    steps = api(glaas, f"sessions/{head}")["steps"]
    as_of_3 = next(s["session_object"] for s in steps if s["step"] == "@3")

    # when: each is pasted (12 digits, as roar prints) into the search box
    for pasted, steps in ((head, 4), (as_of_3, 3)):
        r = requests.get(f"{glaas.url}/", params={"q": pasted[:12]}, timeout=30,
                         allow_redirects=False)  # fmt: skip
        # then: the page of that session, as of that step
        assert r.status_code == 303 and r.headers["location"] == f"/sessions/{pasted}"
        assert len(api(glaas, f"sessions/{pasted}")["steps"]) == steps
        assert api(glaas, f"resolve/{pasted[:12]}")["matches"] == [
            {"hash": pasted, "kind": "session", "object_kind": None}
        ]
    # the session as of @3 has no re-run yet: nothing superseded, nothing stale
    as_of = api(glaas, f"sessions/{as_of_3}")
    assert (as_of["superseded_steps"], as_of["stale_steps"]) == ([], [])
    local = as_json(cli_as, alice, "show", as_of_3, "--json")
    assert [s["job"] for s in local["steps"]] == [s["job"] for s in as_of["steps"]]
    assert made["model_1"] != made["model_2"]


def test_an_ambiguous_prefix_lists_the_candidates_everywhere(make_user, cli_as, glaas) -> None:  # type: ignore[no-untyped-def]
    # given: a job that read two artifacts whose hashes share their first 8 digits
    alice = make_user("alice")
    prefix = uuid.uuid4().hex[:8]
    twins = [prefix + "1" * 56, prefix + "2" * 56]
    root = bytes(alice.ws.root)
    now = time.time_ns()
    job = Job("run", (b"python", b"compare.py"), root, now, now + 1, 0,
              inputs=tuple(ArtifactRef(root + f"/{i}.bin".encode(), d, 1)
                           for i, d in enumerate(twins)))  # fmt: skip
    append(alice.ws, alice.ws.objects.write(job), "run")
    ok(cli_as, alice, "register", "-y")
    said = (
        f"{prefix} names more than one thing: artifact {twins[0][:12]}, "
        f"artifact {twins[1][:12]}; give more digits"
    )

    # then: the local resolver, the registry's and the web page refuse it alike
    local = cli_as(alice, "show", prefix)
    assert local.returncode == 4 and said in local.stderr
    resolved = api(glaas, f"resolve/{prefix}")
    assert [m["hash"] for m in resolved["matches"]] == twins and resolved["message"] == said
    html = page(glaas, f"?q={prefix}")
    assert said in html and all(f'href="/artifacts/{t}"' in html for t in twins)
    reproduce = cli_as(alice, "reproduce", prefix, "--remote", glaas.url)
    assert reproduce.returncode == 4 and twins[0][:12] in reproduce.stderr
    # one more digit names one; an unknown prefix says what was tried
    assert api(glaas, f"resolve/{prefix}2")["matches"][0]["hash"] == twins[1]
    unknown = api(glaas, "resolve/00000000deadbeef")
    assert unknown == {
        "matches": [],
        "message": "00000000deadbeef: not a hash known here (objects and recorded artifacts)",
    }
    short = requests.get(f"{glaas.url}/api/v1/resolve/{prefix[:4]}", timeout=30)
    assert short.status_code == 400 and "at least 8 hex digits" in short.json()["detail"]
