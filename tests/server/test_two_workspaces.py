"""Issue #16 item 4: two projects of one person register to one registry in the same
scope, anonymous and logged in; both succeed and each is fetchable. A real
glaas-server on 127.0.0.1, the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from glaas_fixtures import record_pipeline

from roar.sessions import history
from roar.workspace import Workspace


def second_workspace(user, name: str):  # type: ignore[no-untyped-def]
    """Another project of the same person: same HOME (key, login), its own workspace."""
    root = user.home / name
    root.mkdir()
    ws, _ = Workspace.create(root)
    ws.config.set("glaas.url", user.ws.config.get("glaas.url"))
    ws.config.set("store.fsync", "false")
    return ws


@pytest.mark.parametrize("login", [False, True], ids=["anonymous", "account"])
def test_two_workspaces_of_one_person_register_and_each_is_fetchable(
    make_user, cli_as, roar_cli, login: bool
):  # type: ignore[no-untyped-def]
    # given: one person (one key; logged in or not), two projects, each with a main session
    alice = make_user("alice", login=login)
    other = second_workspace(alice, "other-project")
    first = record_pipeline(alice.ws)
    second = record_pipeline(other)
    assert alice.ws.refs.head_target() == other.refs.head_target() == "refs/sessions/main"

    # when: both register in the same scope
    one = cli_as(alice, "register", "-y", "--json")
    two = roar_cli("register", "-y", "--json", cwd=other.root, env=alice.env)

    # then: both succeed, under names that tell the workspaces apart
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    one, two = json.loads(one.stdout), json.loads(two.stdout)
    assert one["scope"] == two["scope"] == ("private" if login else "anonymous")
    assert one["ref"] == f"sessions/main-{alice.ws.id[:8]}"
    assert two["ref"] == f"sessions/main-{other.id[:8]}"
    assert one["ref"] != two["ref"]

    # and each is fetchable, whole, by someone else's workspace of the same person
    reader = second_workspace(alice, "reader")
    for out, ws, files in ((one, alice.ws, first), (two, other, second)):
        got = roar_cli("fetch", files["metrics"], "--json", cwd=reader.root, env=alice.env)
        assert got.returncode == 0, got.stderr
        tracking = f"refs/remotes/glaas/{out['ref']}"
        fetched = Workspace(reader.root)  # a new look at the store the CLI wrote
        assert fetched.refs.read(tracking) == out["target"]["hash"]
        assert [s.job for s in history(fetched, ref=tracking)] == [s.job for s in history(ws)]


def test_a_taken_name_is_refused_with_what_to_do_and_as_names_it(make_user, cli_as, roar_cli):  # type: ignore[no-untyped-def]
    # given: two projects of one person, the first registered as "shared"
    alice = make_user("alice")
    other = second_workspace(alice, "other-project")
    record_pipeline(alice.ws)
    record_pipeline(other)
    assert cli_as(alice, "register", "-y", "--as", "shared").returncode == 0

    # when: the second registers under the same name
    taken = roar_cli("register", "-y", "--as", "shared", cwd=other.root, env=alice.env)

    # then: refused before anything moved, and the message says how to go on
    assert taken.returncode != 0
    assert "another workspace registered under that name" in taken.stderr
    assert "roar register --as <name>" in taken.stderr
    assert other.refs.read("refs/remotes/glaas/sessions/shared") is None
    # a free name works, and is kept for the next register of that session
    named = roar_cli("register", "-y", "--as", "mine", "--json", cwd=other.root, env=alice.env)
    assert named.returncode == 0, named.stderr
    assert json.loads(named.stdout)["ref"] == "sessions/mine"
    record_pipeline(other)
    again = roar_cli("register", "-y", "--json", cwd=other.root, env=alice.env)
    assert json.loads(again.stdout)["ref"] == "sessions/mine"


def test_reset_names_a_session(make_user, cli_as):  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    record_pipeline(alice.ws)
    r = cli_as(alice, "reset", "-y", "--name", "sweep-lr")
    assert r.returncode == 0, r.stderr
    assert alice.ws.refs.head_target() == "refs/sessions/sweep-lr"
    taken = cli_as(alice, "reset", "-y", "--name", "main")
    assert taken.returncode != 0 and "already exists" in taken.stderr
    bad = cli_as(alice, "reset", "-y", "--name", "a b")
    assert bad.returncode != 0 and "invalid" in bad.stderr
    assert alice.ws.refs.head_target() == "refs/sessions/sweep-lr"
    record_pipeline(alice.ws)
    out = json.loads(cli_as(alice, "register", "-y", "--json").stdout)
    assert out["ref"] == f"sessions/sweep-lr-{alice.ws.id[:8]}"


def test_workspace_id_is_made_once_and_kept(tmp_path: Path) -> None:
    ws, _ = Workspace.create(tmp_path)
    first = (tmp_path / ".roar" / "id").read_text().strip()
    assert len(first) == 32 and ws.id == first
    assert Workspace(tmp_path).id == first
    (tmp_path / ".roar" / "id").unlink()  # an old workspace: made on first use
    made = Workspace(tmp_path).id
    assert made != first and Workspace(tmp_path).id == made
