"""roar-cli 0.4.7's register/auth invocations against a real glaas-server on loopback:
--public/--private/--anonymous, the question before publishing anonymously, auth
register/test (docs/roar-cli-compat.md)."""

from __future__ import annotations

import json

from glaas_fixtures import record_pipeline


def test_anonymous_publishing_asks_first(make_user, cli_as, glaas):  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    record_pipeline(alice.ws)
    before = glaas.stats()
    silent = cli_as(alice, "register")  # a script with no answer: nothing is sent
    assert silent.returncode == 2 and "Publish anonymously? [y/N]" in silent.stderr
    declined = cli_as(alice, "register", input="n\n")
    assert declined.returncode == 2 and glaas.stats() == before
    accepted = cli_as(alice, "register", "--json", input="y\n")
    assert accepted.returncode == 0 and json.loads(accepted.stdout)["scope"] == "anonymous"


def test_public_private_anonymous_choose_the_scope(make_user, cli_as):  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice", login=True), make_user("bob")
    record_pipeline(alice.ws)
    record_pipeline(bob.ws)

    def scope(user, *flags: str) -> str:  # type: ignore[no-untyped-def]
        out = cli_as(user, "register", "--dry-run", "--json", *flags)
        assert out.returncode == 0, out.stderr
        return str(json.loads(out.stdout)["scope"])

    assert scope(alice) == "private" and scope(alice, "--public") == "public"
    assert scope(alice, "--anonymous") == "anonymous" and scope(bob, "--public") == "anonymous"
    private = cli_as(bob, "register", "--private", "-y")
    assert private.returncode == 2 and "needs a login" in private.stderr
    pushed = cli_as(alice, "register", "--public", "--json")
    assert json.loads(pushed.stdout)["scope"] == "public"


def test_dry_run_is_offline_and_lists_the_checklist(make_user, cli_as, tmp_path):  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    record_pipeline(alice.ws)
    alice.ws.config.set("glaas.url", "http://127.0.0.1:9")  # nothing listens there
    out = cli_as(alice, "register", "--dry-run", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    names = [c["check"] for c in report["checklist"]]
    assert names == [
        "git remote known",
        "commit reachable on a remote",
        "code committed to git",
        "all inputs sourced",
        "runtime captured (interpreter + packages)",
        "no secrets in published lineage",
    ]
    assert report["would_send"] == sum(report["objects"].values())


def test_auth_register_prints_the_key_and_auth_test_reaches_the_server(make_user, cli_as, glaas):  # type: ignore[no-untyped-def]
    alice, bob = make_user("alice", login=True), make_user("bob")
    assert cli_as(alice, "auth", "register").stdout == cli_as(alice, "auth", "key").stdout
    tested = json.loads(cli_as(alice, "auth", "test", "--json").stdout)
    assert tested["reachable"] is True and tested["account"] == alice.name
    assert "no account yet" in cli_as(bob, "auth", "test").stdout
    bob.ws.config.set("glaas.url", "http://127.0.0.1:9")
    down = cli_as(bob, "auth", "test")
    assert down.returncode == 8
