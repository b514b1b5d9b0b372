"""Issue #12 item 5: a file whose name holds a byte that is not UTF-8, a newline and
an escape sequence, recorded by a real `roar run`, registered to a real
glaas-server (SQLite and PostgreSQL), keeps its exact name in the registry's
index: `roar remote lookup` and the web pages show it escaped the one way
(display.printable), search by its bytes finds it, and a fetch into a second
workspace brings back the exact bytes."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys

import blake3
import pytest
import requests
import sqlalchemy

from roar.objects.job import ArtifactRef, Job
from roar.objects.tree import Tree, TreeEntry
from roar.pathjson import from_json
from roar.sessions import append

# The name as the kernel holds it, and as a terminal and a page must show it.
NAME = b"odd\xff\n\x1b[31mred.csv"
SHOWN = r"odd\xff\n\e[31mred.csv"
CONTENT = b"red\n"


def test_an_odd_name_is_kept_shown_escaped_found_and_fetched_exactly(make_user, cli_as, glaas):  # type: ignore[no-untyped-def]
    # given: alice records a job that writes the odd name, and registers it
    alice = make_user("alice")
    root = str(alice.ws.root)
    path = os.fsencode(root) + b"/" + NAME
    run = cli_as(alice, "run", "python", "-c", f"open({path!r}, 'wb').write({CONTENT!r})")
    assert run.returncode == 0, run.stderr
    assert open(path, "rb").read() == CONTENT
    assert cli_as(alice, "register", "-y").returncode == 0
    job = json.loads(cli_as(alice, "log", "--json").stdout)[0]["job"]
    digest = blake3.blake3(CONTENT).hexdigest()

    # when: she looks the file up on the registry
    looked = cli_as(alice, "remote", "lookup", digest)
    as_json = cli_as(alice, "remote", "lookup", digest, "--json")

    # then: the terminal shows the name escaped, nothing raw reaches it
    assert looked.returncode == 0, looked.stderr
    assert f"  written by job {job[:12]} as {root}/{SHOWN}\n" in looked.stdout
    assert "\x1b" not in looked.stdout and "\udcff" not in looked.stdout
    # and the JSON holds the exact bytes, in the one path form (hex: not UTF-8)
    writers = json.loads(as_json.stdout)["artifact"]["produced_by"]
    assert [w["path"] for w in writers] == [{"hex": path.hex()}]
    assert from_json(writers[0]["path"]) == path

    # and the job's index row keeps it too
    twin = requests.get(f"{glaas.url}/api/v1/lookup/{job}", timeout=10).json()
    assert [from_json(p) for p, _ in twin["job"]["outputs"]] == [path]

    # and the web pages show it escaped as the terminal does, never raw
    for page in (f"/artifacts/{digest}", f"/jobs/{job}"):
        got = requests.get(f"{glaas.url}{page}", timeout=10)
        assert got.status_code == 200
        assert html.escape(f"{root}/{SHOWN}") in got.text
        assert "\x1b" not in got.text
    artifact_twin = requests.get(f"{glaas.url}/api/v1/artifacts/{digest}", timeout=10).json()
    assert [from_json(p) for p in artifact_twin["paths"]] == [path]

    # and search by the name's bytes finds the job, the escaped text does not
    found = cli_as(alice, "remote", "search", "--file", os.fsdecode(b"\xff\n\x1b[31m"), "--json")
    assert found.returncode == 0, found.stderr
    assert job in [j["job"] for j in json.loads(found.stdout)]
    escaped = cli_as(alice, "remote", "search", "--file", r"\xff", "--json")
    assert job not in [j["job"] for j in json.loads(escaped.stdout)]
    by_type = cli_as(alice, "remote", "search", "--file-type", "csv", "--json")
    assert job in [j["job"] for j in json.loads(by_type.stdout)]

    # and bob's fetch brings the exact name into his workspace
    bob = make_user("bob")
    fetched = cli_as(bob, "fetch", digest)
    assert fetched.returncode == 0, fetched.stderr
    shown = json.loads(cli_as(bob, "show", "--job", job, "--json").stdout)
    assert [from_json(o["path"]) for o in shown["outputs"]] == [path]


def test_a_member_of_a_composite_with_an_odd_name_is_found_by_its_exact_path(
    make_user, cli_as, glaas
):  # type: ignore[no-untyped-def]
    # given: a composite whose one file has the odd name, registered
    alice = make_user("alice")
    root = bytes(alice.ws.root)
    member = blake3.blake3(b"member" + root).hexdigest()
    tree = alice.ws.objects.write(Tree.of([TreeEntry(NAME, member, 6)]))
    writer = alice.ws.objects.write(
        Job(
            "run",
            (b"python", b"shard.py"),
            root,
            1,
            2,
            0,
            outputs=(ArtifactRef(root + b"/shards", tree, 6, "tree"),),
        )  # fmt: skip
    )
    append(alice.ws, writer, "run")
    assert cli_as(alice, "register", "-y").returncode == 0

    # when: the member is looked up
    looked = cli_as(alice, "remote", "lookup", member, "--json")
    text = cli_as(alice, "remote", "lookup", member)

    # then: it is written by the composite's writer, as the composite's path and its own
    assert looked.returncode == 0, looked.stderr
    writers = json.loads(looked.stdout)["artifact"]["produced_by"]
    assert [(w["job"], from_json(w["path"])) for w in writers] == [
        (writer, root + b"/shards/" + NAME)
    ]
    assert f"as {alice.ws.root}/shards/{SHOWN}\n" in text.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_whose_index_holds_paths_as_text_is_refused_in_one_line(
    backend: str, tmp_path, request
):  # type: ignore[no-untyped-def]
    # given: a registry database made before paths were bytes (artifact_jobs.path TEXT)
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_cluster").new_database()
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE artifact_jobs (hash VARCHAR(64), job_id VARCHAR(64), role VARCHAR(3),"
            " path TEXT, size BIGINT, kind VARCHAR(8), ns VARCHAR(200), public BOOLEAN)"
        )
    engine.dispose()

    # when: the server (or an operator command) opens it
    opened = subprocess.run(
        [sys.executable, "-m", "roar.server", "admin", "stats", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )

    # then: refused with what to do, not a traceback, and nothing was created in it
    assert opened.returncode == 1
    assert "start the server on a new database" in opened.stderr
    assert "Traceback" not in opened.stderr
    engine = sqlalchemy.create_engine(url)
    tables = sqlalchemy.inspect(engine).get_table_names()
    engine.dispose()
    assert tables == ["artifact_jobs"]
