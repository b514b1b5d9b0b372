"""Identities that cannot be borrowed (issue #11, items 1-6), on SQLite and PostgreSQL.

Each attack is tried as an attacker would, against the real server; each
test asserts the refusal (its status) and that nothing was stored.
"""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
import requests
from glaas_fixtures import (
    assert_refused,
    browser_login,
    get_signed,
    pack_of,
    post,
    post_json,
    record_pipeline,
    signed,
)

from roar.objects.base import object_id
from roar.objects.job import ArtifactRef, Job
from roar.objects.label import Label
from roar.objects.session import Session


def whoami(glaas, user):  # type: ignore[no-untyped-def]
    return get_signed(glaas, user, "/api/v1/whoami").json()["account"]


# -- 1. adding a key proves possession -----------------------------------------


def test_a_public_key_alone_cannot_be_added_to_another_account(glaas, make_user, cli_as):
    # given: alice has an account; vicky's key (public, like ~/.ssh/id_ed25519.pub) has none
    alice = make_user("alice", login=True)
    mallory = make_user("mallory", login=True)
    vicky = make_user("vicky")
    before = glaas.stats()
    for victim in (alice, vicky):
        body = {"public_key": victim.key().public.openssh}
        # when: mallory adds the victim's public key to his own account
        r = post_json(glaas, mallory, f"/api/v1/accounts/{mallory.name}/keys", body)
        # then: refused, and the key is still the victim's (or nobody's)
        assert_refused(glaas, r, 403, before)
        assert "must sign this request too" in r.json()["detail"]
    # a proof made with mallory's own key is no proof of vicky's
    url, headers = signed(
        glaas, mallory, f"/api/v1/accounts/{mallory.name}/keys",
        json.dumps({"public_key": vicky.key().public.openssh}).encode(),
        scope="private", cosigner=mallory.key(),
    )  # fmt: skip
    body = json.dumps({"public_key": vicky.key().public.openssh}).encode()
    assert_refused(glaas, requests.post(url, data=body, headers=headers, timeout=30), 403, before)
    assert whoami(glaas, alice) == alice.name
    assert whoami(glaas, vicky) is None
    # and vicky's own sign-up is hers
    name = f"vicky-{time.time_ns() % 10**6}"
    r = cli_as(vicky, "login", "--name", name)
    assert r.returncode == 0 and f"logged in to {glaas.url} as {name}" in r.stdout


def test_a_key_is_added_when_it_signs_the_request_itself(glaas, make_user):
    from roar.remote.client import RemoteClient

    alice = make_user("alice", login=True)
    laptop = make_user("alice-laptop")  # another key of alice's
    client = RemoteClient(glaas.url, alice.key(), "private")
    out = client.add_key(alice.name, laptop.key())
    assert out == {"account": alice.name, "fingerprint": laptop.key().public.fingerprint}
    assert whoami(glaas, laptop) == alice.name


def test_login_with_a_name_refuses_a_key_that_belongs_to_another_account(make_user, cli_as):
    alice = make_user("alice", login=True)
    r = cli_as(alice, "login", "--name", "somebody-else")
    assert r.returncode == 8
    assert f"belongs to account {alice.name}" in r.stderr
    status = json.loads(cli_as(alice, "auth", "status", "--json").stdout)
    assert [lg["account"] for lg in status["logins"]] == [alice.name]


# -- 2. a deleted account's name is never taken again ---------------------------


def test_a_deleted_account_name_cannot_be_taken_and_its_cookie_dies(glaas, make_user, cli_as):
    # given: alice registered privately, owns a project, and is signed in in a browser
    alice = make_user("alice", login=True)
    record_pipeline(alice.ws)
    session = json.loads(cli_as(alice, "register", "--json").stdout)["target"]["hash"]
    assert post_json(glaas, alice, "/api/v1/projects", {"name": "vision"}).status_code == 201
    browser = browser_login(glaas, alice)
    assert browser.get(f"{glaas.url}/api/v1/sessions/{session}", timeout=30).status_code == 200
    # when: the operator deletes her account, and mallory signs up with her name
    assert glaas.admin("delete-account", alice.name).returncode == 0
    mallory = make_user("mallory")
    before = glaas.stats()
    r = post_json(
        glaas, mallory, "/api/v1/accounts",
        {"name": alice.name, "public_key": mallory.key().public.openssh},
    )  # fmt: skip
    # then: the name is taken for good; nothing of alice's is his
    assert_refused(glaas, r, 409, before)
    assert "never reused" in r.json()["detail"]
    assert cli_as(mallory, "login", "--name", alice.name).returncode == 8
    (mallory.home / "k.pub").write_text(mallory.key().public.openssh)
    again = glaas.admin("create-account", alice.name, str(mallory.home / "k.pub"))
    assert again.returncode != 0 and "never reused" in again.stderr
    # and alice's browser cookie reads as nobody
    assert browser.get(f"{glaas.url}/api/v1/sessions/{session}", timeout=30).status_code == 404
    assert "anonymous" in browser.get(f"{glaas.url}/", timeout=30).text
    accounts = json.loads(glaas.admin("accounts").stdout)
    assert {"name": alice.name, "keys": 0, "deleted": True} in accounts


# -- 3. anonymous work is not linkable to a key -----------------------------------


def test_anonymous_pushes_do_not_show_the_pushers_key(glaas, make_user, cli_as):
    anna = make_user("anna")  # no account: registers anonymously
    files = record_pipeline(anna.ws)
    assert cli_as(anna, "register", "-y").returncode == 0
    fingerprint = anna.key().public.fingerprint
    recent = requests.get(f"{glaas.url}/api/v1/sessions", timeout=30)
    home = requests.get(f"{glaas.url}/", timeout=30)
    fetched = requests.post(
        f"{glaas.url}/api/v1/fetch", json={"want": files["model"], "have": []}, timeout=30
    )
    assert fetched.status_code == 200
    refs = json.loads(fetched.headers["roar-refs"])
    assert refs and {r["namespace"] for r in refs} == {"anon"}
    shown = {s["namespace"] for s in recent.json()["recent_sessions"]}
    assert "anon" in shown and not any(n.startswith("anon:") for n in shown)
    # the pages and lookups that say where a job is a step name the ref's namespace too
    artifact = requests.get(f"{glaas.url}/api/v1/artifacts/{files['model']}", timeout=30)
    producer = artifact.json()["producer"]
    assert (producer["namespace"], producer["ref"], producer["step"]) == (
        "anon",
        f"sessions/main-{anna.ws.id[:8]}",  # a random workspace id, nothing of the key
        "@2",
    )
    pages = [artifact.text]
    for path in (f"artifacts/{files['model']}", f"jobs/{producer['job']}"):
        pages += [requests.get(f"{glaas.url}/{path}", timeout=30).text,
                  requests.get(f"{glaas.url}/api/v1/{path}", timeout=30).text]  # fmt: skip
    pages.append(requests.get(f"{glaas.url}/api/v1/lookup/{files['model']}", timeout=30).text)
    for text in (recent.text, home.text, fetched.headers["roar-refs"], *pages):
        assert fingerprint not in text
        assert fingerprint.removeprefix("SHA256:") not in text


# -- 4. a duplicated signed header is refused ---------------------------------------


@pytest.mark.parametrize("first", ["public", "private"])
def test_a_duplicated_scope_header_is_refused(glaas, make_user, first):
    # given: alice signs a private push; someone adds a second Roar-Scope
    alice = make_user("alice", login=True)
    body = pack_of(Job("run", (b"secret-step", str(time.time_ns()).encode()), b"/w", 1, 2, 0)
                   .serialize())  # fmt: skip
    _, headers = signed(glaas, alice, "/api/v1/push", body, scope="private")
    other = "public" if first == "private" else "private"
    before = glaas.stats()
    conn = http.client.HTTPConnection(urlsplit(glaas.url).netloc, timeout=30)
    conn.putrequest("POST", "/api/v1/push")
    for name, value in headers.items():
        if name == "Roar-Scope":
            conn.putheader(name, first)
            conn.putheader(name, other)
        else:
            conn.putheader(name, value)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    # then: 401, nothing stored
    assert resp.status == 401, resp.read()
    assert "more than once" in json.loads(resp.read())["detail"]
    assert glaas.stats() == before


# -- 5. labels only by the owner, with time_ns validated ------------------------------


def _public_job(glaas, owner, tag: str) -> str:  # type: ignore[no-untyped-def]
    raw = Job("run", (b"python", b"eval.py", tag.encode()), b"/w", 1, 2, 0).serialize()
    r = post(glaas, owner, "/api/v1/push", pack_of(raw), scope="public")
    assert r.status_code == 200, r.text
    return object_id(raw)


def test_a_label_cannot_be_pushed_onto_someone_elses_job(glaas, make_user):
    alice, mallory = make_user("alice", login=True), make_user("mallory", login=True)
    tag = f"acc{time.time_ns()}"
    job = _public_job(glaas, alice, tag)
    forged = Label(job, {tag: "0.99"}, None, time.time_ns()).serialize()
    before = glaas.stats()
    for scope in ("public", "anonymous"):
        r = post(glaas, mallory, "/api/v1/push", pack_of(forged), scope=scope)
        assert_refused(glaas, r, 403, before)
    found = requests.get(f"{glaas.url}/api/v1/search", params={"label": tag}, timeout=30)
    assert found.json()["jobs"] == []
    assert requests.get(f"{glaas.url}/api/v1/lookup/{job}", timeout=30).json()["labels"] == {}
    # the owner may, with a time that is not in the future
    far = Label(job, {tag: "0.5"}, None, 2**63 - 1).serialize()
    assert_refused(glaas, post(glaas, alice, "/api/v1/push", pack_of(far), scope="public"),
                   400, before)  # fmt: skip
    mine = Label(job, {tag: "0.5"}, None, time.time_ns()).serialize()
    assert post(glaas, alice, "/api/v1/push", pack_of(mine), scope="public").status_code == 200
    found = requests.get(f"{glaas.url}/api/v1/search", params={"label": f"{tag}=0.5"}, timeout=30)
    assert [j["job"] for j in found.json()["jobs"]] == [job]


def test_anonymous_labels_only_on_what_the_pushers_own_refs_hold(glaas, make_user):
    anna, mallory = make_user("anna"), make_user("mallory")
    raw = Job("run", (b"python", b"a.py", str(time.time_ns()).encode()), b"/w", 1, 2, 0)
    job = raw.id
    step = Session(None, job, 1, "run", time.time_ns())
    params = {"ref": "sessions/main", "new": step.id}
    r = post(glaas, anna, "/api/v1/push", pack_of(raw.serialize(), step.serialize()),
             params=params)  # fmt: skip
    assert r.status_code == 200, r.text
    before = glaas.stats()
    label = Label(job, {"note": "forged"}, None, time.time_ns()).serialize()
    assert_refused(glaas, post(glaas, mallory, "/api/v1/push", pack_of(label)), 403, before)
    assert post(glaas, anna, "/api/v1/push", pack_of(label)).status_code == 200


def test_project_members_may_label_the_projects_jobs(glaas, make_user):
    alice, bob = make_user("alice", login=True), make_user("bob", login=True)
    assert post_json(glaas, alice, "/api/v1/projects", {"name": "vision"}).status_code == 201
    members = f"/api/v1/projects/{alice.name}/vision/members"
    assert post_json(glaas, alice, members, {"account": bob.name}).status_code == 200
    scope = f"{alice.name}/vision"
    job = Job("run", (b"train", str(time.time_ns()).encode()), b"/w", 1, 2, 0)
    root = bytes(alice.ws.root)
    art = ArtifactRef(root + b"/m.pt", object_id(str(time.time_ns()).encode()), 3)
    writer = Job("run", (b"write",), b"/w", 1, 2, 0, outputs=(art,))
    r = post(glaas, alice, "/api/v1/push", pack_of(job.serialize(), writer.serialize()),
             scope=scope)  # fmt: skip
    assert r.status_code == 200, r.text
    for target in (job.id, art.hash):
        label = Label(target, {"reviewed": True}, None, time.time_ns()).serialize()
        assert post(glaas, bob, "/api/v1/push", pack_of(label), scope=scope).status_code == 200


# -- 6. the project list shows only the caller's projects -------------------------------


def test_projects_lists_only_the_callers_projects(glaas, make_user):
    alice, carol = make_user("alice", login=True), make_user("carol", login=True)
    bob, dave = make_user("bob", login=True), make_user("dave", login=True)
    for owner, project, member in (
        (alice, "p1", bob), (carol, "p2", bob), (alice, "p2", dave), (carol, "p1", dave)
    ):  # fmt: skip
        assert post_json(glaas, owner, "/api/v1/projects", {"name": project}).status_code == 201
        path = f"/api/v1/projects/{owner.name}/{project}/members"
        assert post_json(glaas, owner, path, {"account": member.name}).status_code == 200
    listed = get_signed(glaas, bob, "/api/v1/projects").json()["projects"]
    assert listed == sorted(
        [
            {"project": f"{alice.name}/p1", "members": sorted([alice.name, bob.name])},
            {"project": f"{carol.name}/p2", "members": sorted([bob.name, carol.name])},
        ],
        key=lambda p: p["project"],
    )
