"""Scopes: an artifact's existence is global, what is attached to it is not."""

from __future__ import annotations

import json
import time

from glaas_fixtures import record_pipeline, start_server, stop

from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.sessions import append


def lookup(cli_as, user, digest):  # type: ignore[no-untyped-def]
    r = cli_as(user, "remote", "lookup", digest, "--json")
    return r.returncode, (json.loads(r.stdout) if r.returncode == 0 else r.stderr)


def test_two_owners_of_one_artifact_each_see_only_their_own_lineage(make_user, cli_as):
    # given: alice and bob both privately register pipelines that wrote the same model
    alice, bob = make_user("alice", login=True), make_user("bob", login=True)
    shared = record_pipeline(alice.ws, tag="same-bytes")
    record_pipeline(bob.ws, tag="same-bytes")
    for u in (alice, bob):
        out = cli_as(u, "register", "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["namespace"] == f"private:{u.name}"
    # then: each sees one producing job, their own; an anonymous reader sees none
    alice_job = alice.ws.objects.read(alice.ws.refs.read("refs/sessions/main"))
    seen = {}
    for u in (alice, bob):
        code, found = lookup(cli_as, u, shared["model"])
        assert code == 0
        seen[u.name] = [p["job"] for p in found["artifact"]["produced_by"]]
        assert len(seen[u.name]) == 1
    assert seen[alice.name] != seen[bob.name]
    carol = make_user("carol")
    code, found = lookup(cli_as, carol, shared["model"])
    assert code == 0 and found["artifact"]["produced_by"] == []
    # and nobody else can read, or fetch, alice's private job
    code, err = lookup(cli_as, bob, alice_job.job)
    assert code == 8 and "404" in err
    assert cli_as(carol, "fetch", alice_job.job).returncode == 8


def test_project_members_share_a_scope_outsiders_do_not(make_user, cli_as):
    alice, bob = make_user("alice", login=True), make_user("bob", login=True)
    carol = make_user("carol", login=True)
    from roar.identity.keys import load_key  # noqa: F401 - key comes from the user's HOME

    client = _client(alice)
    client.create_project("vision")
    client.add_member(f"{alice.name}/vision", bob.name)
    files = record_pipeline(alice.ws)
    assert cli_as(alice, "scope", "use", f"{alice.name}/vision").returncode == 0
    out = cli_as(alice, "register", "--json")
    assert json.loads(out.stdout)["namespace"] == f"project:{alice.name}/vision"
    assert cli_as(bob, "fetch", files["metrics"]).returncode == 0
    assert len(bob.ws.objects.all_ids()) == 6
    assert cli_as(carol, "fetch", files["metrics"]).returncode == 8
    # carol cannot push into it either
    assert cli_as(carol, "scope", "use", f"{alice.name}/vision").returncode == 0
    record_pipeline(carol.ws)
    refused = cli_as(carol, "register")
    assert refused.returncode == 8 and "403" in refused.stderr


def test_logout_makes_requests_anonymous(make_user, cli_as):
    alice = make_user("alice", login=True)
    status = json.loads(cli_as(alice, "scope", "status", "--json").stdout)
    assert status["scope"] == "private" and status["account"] == alice.name
    assert json.loads(cli_as(alice, "whoami", "--json").stdout)["account"] == alice.name
    assert cli_as(alice, "logout").returncode == 0
    assert json.loads(cli_as(alice, "scope", "status", "--json").stdout)["scope"] == "anonymous"
    assert json.loads(cli_as(alice, "whoami", "--json").stdout)["account"] is None
    # logging back in finds the account by key, without signing up again
    assert cli_as(alice, "login").returncode == 0


def test_search_filters(make_user, cli_as, glaas):
    alice = make_user("alice", login=True)
    tag = f"srch{time.time_ns()}"
    files = record_pipeline(alice.ws, tag=tag)
    env = alice.ws.objects.write(
        Env(os={"system": "Linux"}, cpu={"model": "x", "cores": 2}, memory=1,
            gpus=[{"name": "NVIDIA A100", "memory": None}])
    )  # fmt: skip
    root = bytes(alice.ws.root)
    gpu_job = Job("run", (b"python", b"finetune.py", tag.encode()), root, 5, 6, 0,
                  inputs=(ArtifactRef(root + b"/model.pt", files["model"], 100),),
                  context={"env": env})  # fmt: skip
    append(alice.ws, alice.ws.objects.write(gpu_job), "run")
    assert cli_as(alice, "register").returncode == 0

    def search(*args: str) -> list[str]:
        r = cli_as(alice, "remote", "search", *args, "--json")
        assert r.returncode == 0, r.stderr
        return [j["command"] for j in json.loads(r.stdout)]

    assert sorted(search("--command", tag)) == [
        f"python finetune.py {tag}",
        f"python prep.py {tag}",
    ]
    assert search("--command", tag, "--gpu", "A100") == [f"python finetune.py {tag}"]
    assert search("--command", tag, "--gpu", "false") == [f"python prep.py {tag}"]
    assert search("--command", "eval.py", "--owner", alice.name, "--file-type", "json") == [
        "python eval.py"
    ]
    assert search("--command", tag, "--until", "6") == [f"python finetune.py {tag}"]
    assert search("--command", tag, "--since", "7") == [f"python prep.py {tag}"]
    carol = make_user("carol")
    r = cli_as(carol, "remote", "search", "--command", tag, "--json")
    assert json.loads(r.stdout) == []  # private to alice


def test_auth_key_is_created_once_and_reported(make_user, cli_as):
    alice = make_user("alice")
    first = cli_as(alice, "auth", "key").stdout
    assert first.startswith("ssh-ed25519 ") and cli_as(alice, "auth", "key").stdout == first
    key_file = alice.home / ".config" / "roar" / "id_ed25519"
    assert key_file.stat().st_mode & 0o777 == 0o600
    status = json.loads(cli_as(alice, "auth", "status", "--json").stdout)
    assert status["key"] == str(key_file) and status["logins"] == []


def test_remote_add_list_remove(make_user, cli_as, glaas):
    alice = make_user("alice")
    assert cli_as(alice, "remote", "add", "origin", glaas.url).returncode == 0
    listed = json.loads(cli_as(alice, "remote", "list", "--json").stdout)
    assert listed == [{"name": "origin", "url": glaas.url, "default": True}]
    record_pipeline(alice.ws)
    assert cli_as(alice, "register", "-y").returncode == 0
    assert alice.ws.refs.read(f"refs/remotes/origin/sessions/main-{alice.ws.id[:8]}")
    assert cli_as(alice, "remote", "remove", "origin").returncode == 0
    assert alice.ws.refs.list("refs/remotes/") == {}


def test_two_server_processes_share_one_database(make_user, cli_as, glaas, tmp_path):
    # given: a second process over the same database (PostgreSQL is the multi-node set-up)
    url2, proc = start_server(glaas.database_url, tmp_path / "second.log")
    try:
        alice, bob = make_user("alice"), make_user("bob")
        files = record_pipeline(alice.ws)
        assert cli_as(alice, "register", "-y").returncode == 0
        # when: bob fetches from the other process
        bob.ws.config.set("glaas.url", url2)
        got = cli_as(bob, "fetch", files["model"], "--json")
        # then: it sees everything the first stored
        assert got.returncode == 0, got.stderr
        assert json.loads(got.stdout)["objects"] == 6
    finally:
        stop([proc])


def _client(user):  # type: ignore[no-untyped-def]
    from roar.remote.client import RemoteClient

    return RemoteClient(user.ws.config.get("glaas.url"), user.key(), "private")
