"""Register a recorded pipeline, fetch it into a fresh workspace, get the same lineage."""

from __future__ import annotations

import json

from roar.sessions import history


def test_register_then_fetch_reproduces_session_and_lineage(make_user, cli_as, glaas):
    # given: alice recorded a 3-step diamond pipeline
    alice = make_user("alice")
    files = record_pipeline_into(alice)
    # when: she registers the session, and bob fetches the model's lineage
    reg = cli_as(alice, "register", "-y", "--json")
    assert reg.returncode == 0, reg.stderr
    out = json.loads(reg.stdout)
    assert out["sent"] == out["objects"] == 6  # 3 jobs + 3 session objects
    assert out["reproduce"] == f"roar reproduce {out['target']['hash']}"
    assert out["url"].endswith(f"/sessions/{out['target']['hash']}")
    bob = make_user("bob")
    got = cli_as(bob, "fetch", files["model"], "--json")
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["objects"] == 6
    # then: bob has alice's session, step for step, as a remote-tracking session (as
    # git fetch does): under the workspace-qualified name she registered it as, never
    # as his own main
    assert out["ref"] == f"sessions/main-{alice.ws.id[:8]}"
    tracking = f"refs/remotes/glaas/{out['ref']}"
    assert bob.ws.refs.read(tracking) == out["target"]["hash"]
    assert [s.job for s in history(bob.ws, ref=tracking)] == [s.job for s in history(alice.ws)]
    assert bob.ws.refs.read("refs/sessions/main") is None
    assert bob.ws.refs.head_target() == "refs/sessions/main"
    for args in (("lineage", files["metrics"]), ("show", files["metrics"], "--json")):
        a, b = cli_as(alice, *args), cli_as(bob, *args)
        assert a.returncode == 0 and b.returncode == 0, (a.stderr, b.stderr)
        # the same lineage; only the session's name says whose it is
        assert a.stdout == b.stdout.replace(f'"glaas/{out["ref"]}"', '"main"'), args


def test_second_register_sends_nothing_and_fetch_sends_only_what_is_missing(make_user, cli_as):
    alice = make_user("alice")
    record_pipeline_into(alice)
    assert cli_as(alice, "register", "-y").returncode == 0
    again = json.loads(cli_as(alice, "register", "-y", "--json").stdout)
    assert again["sent"] == 0 and again["pack_bytes"] == 0
    head = alice.ws.refs.read("refs/sessions/main")
    refetch = json.loads(cli_as(alice, "fetch", head, "--json").stdout)
    assert refetch["objects"] == 0


def test_register_an_artifact_sends_its_upstream_jobs_only(make_user, cli_as):
    alice = make_user("alice")
    files = record_pipeline_into(alice)
    out = json.loads(cli_as(alice, "register", "-y", files["model"], "--json").stdout)
    assert out["target"]["kind"] == "artifact"
    assert out["objects"] == 2  # prep and train; eval is downstream
    assert out["url"].endswith(f"/artifacts/{files['model']}")
    look = json.loads(cli_as(alice, "remote", "lookup", files["model"], "--json").stdout)
    assert [p["path"].endswith("model.pt") for p in look["artifact"]["produced_by"]] == [True]
    shown = json.loads(cli_as(alice, "show", files["model"], "--remote", "--json").stdout)
    assert shown == look


def test_dry_run_sends_nothing(make_user, cli_as, glaas):
    alice = make_user("alice")
    record_pipeline_into(alice)
    before = glaas.stats()
    out = json.loads(cli_as(alice, "register", "--dry-run", "--json").stdout)
    assert out["would_send"] == 6 and out["objects"] == {"job": 3, "session": 3}
    assert glaas.stats() == before


def test_session_grows_and_register_fast_forwards_the_remote_ref(make_user, cli_as):
    alice = make_user("alice")
    record_pipeline_into(alice)
    assert cli_as(alice, "register", "-y").returncode == 0
    record_pipeline_into(alice)  # three more steps on the same session
    out = json.loads(cli_as(alice, "register", "-y", "--json").stdout)
    assert out["sent"] == 6
    assert alice.ws.refs.read(f"refs/remotes/glaas/{out['ref']}") == alice.ws.refs.read(
        "refs/sessions/main"
    )


def test_secrets_in_argv_are_refused_then_sent_redacted_with_yes(make_user, cli_as, glaas):
    from roar.objects.job import Job
    from roar.sessions import append

    alice = make_user("alice")
    token = "ghp_" + "a1" * 20
    job = Job("run", (b"curl", b"--token=" + token.encode()), bytes(alice.ws.root), 1, 2, 0)
    append(alice.ws, alice.ws.objects.write(job), "run")
    refused = cli_as(alice, "register")
    assert refused.returncode == 9 and "argv[1]" in refused.stderr
    assert cli_as(alice, "register", "-y").returncode == 0
    head = alice.ws.refs.read("refs/sessions/main")
    sent = alice.ws.objects.read(alice.ws.objects.read(head).job)
    assert sent.argv == (b"curl", b"--token=<redacted>")
    bob = make_user("bob")
    assert cli_as(bob, "fetch", head).returncode == 0
    assert token.encode() not in b"".join(
        bob.ws.objects.read_raw(i) for i in bob.ws.objects.all_ids()
    )


def record_pipeline_into(user):  # type: ignore[no-untyped-def]
    from glaas_fixtures import record_pipeline

    return record_pipeline(user.ws)


def test_register_an_artifact_follows_reads_of_a_file_inside_a_composite(make_user, cli_as):
    from glaas_fixtures import record_composite_pipeline

    alice = make_user("alice")
    model = record_composite_pipeline(alice.ws)["model"]
    out = json.loads(cli_as(alice, "register", model, "--dry-run", "--json").stdout)
    assert out["objects"]["job"] == 2  # the composite's producer is upstream too


def test_remote_lookup_takes_a_prefix_as_fetch_does(make_user, cli_as):
    # given: alice registered the model's lineage
    alice = make_user("alice")
    files = record_pipeline_into(alice)
    assert cli_as(alice, "register", "-y", files["model"]).returncode == 0
    full = json.loads(cli_as(alice, "remote", "lookup", files["model"], "--json").stdout)
    # when: she looks it up by the 12 digits roar prints
    short = cli_as(alice, "remote", "lookup", files["model"][:12], "--json")
    # then: the registry's resolver names the hash, and the lookup is the full one's
    assert short.returncode == 0, short.stderr
    assert json.loads(short.stdout) == full
    text = cli_as(alice, "remote", "lookup", files["model"][:12])
    assert text.returncode == 0 and text.stdout.startswith(files["model"])
    # a prefix the registry does not know is not found (exit 4), not a bad request
    unknown = cli_as(alice, "remote", "lookup", "0123456789ab")
    assert unknown.returncode == 4 and "is not known to" in unknown.stderr
    short_text = cli_as(alice, "remote", "lookup", "abc")
    assert short_text.returncode == 2 and "prefix of 8+ hex digits" in short_text.stderr
