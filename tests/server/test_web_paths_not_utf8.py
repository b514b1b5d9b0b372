"""A job whose files are named in Latin-1, registered: its page renders
(the odd bytes shown as \\xNN) and its JSON twin gives the exact bytes."""

from __future__ import annotations

import json
import os

import requests

from roar.pathjson import from_json


def test_a_non_utf8_path_renders_and_its_json_twin_has_the_bytes(make_user, cli_as, glaas):  # type: ignore[no-untyped-def]
    alice = make_user("alice")
    path = os.fsencode(alice.ws.root) + b"/caf\xe9.csv"
    with open(path, "wb") as f:
        f.write(b"a,b\n")
    run = cli_as(alice, "run", "python", "-c", f"open({path!r}, 'rb').read()")
    assert run.returncode == 0, run.stderr
    assert cli_as(alice, "register", "-y").returncode == 0
    job = json.loads(cli_as(alice, "log", "--json").stdout)[0]["job"]
    twin = requests.get(f"{glaas.url}/api/v1/jobs/{job}", timeout=10)
    assert twin.status_code == 200
    assert [from_json(a["path"]) for a in twin.json()["inputs"]] == [path]
    page = requests.get(f"{glaas.url}/jobs/{job}", timeout=10)
    assert page.status_code == 200
    assert "caf\\xe9.csv" in page.text
