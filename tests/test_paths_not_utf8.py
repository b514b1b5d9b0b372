"""A path that is not UTF-8 is bytes end to end on the command line: every
`--json` writes it as {"hex": ...}, which any JSON reader takes back to the
exact bytes, and text views show its odd bytes instead of failing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from roar.pathjson import from_json, jsonable, to_json

NAME = b"caf\xe9.csv"


def test_the_one_json_form_round_trips_any_path() -> None:
    for path in (b"/data/train.csv", "/données/é.csv".encode(), b"/x/\xff\xfe", b""):
        assert from_json(json.loads(json.dumps(to_json(path)))) == path
    assert to_json(b"/a/caf\xe9") == {"hex": "2f612f636166e9"}
    assert jsonable({"p": os.fsdecode(b"/caf\xe9"), "q": [b"ok"]}) == {
        "p": {"hex": "2f636166e9"},
        "q": ["ok"],
    }


def test_show_and_inputs_json_give_the_exact_bytes(roar_cli, roar_exe: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roar_cli("init", "-n")
    path = os.fsencode(tmp_path) + b"/" + NAME
    with open(path, "wb") as f:
        f.write(b"a,b\n")
    code = f"open({path!r}, 'rb').read(); open({path + b'.out'!r}, 'wb').write(b'x')"
    assert roar_cli("run", "python", "-c", code).returncode == 0
    shown = json.loads(roar_cli("show", "@1", "--json").stdout)
    assert [from_json(a["path"]) for a in shown["inputs"]] == [path]
    assert [from_json(a["path"]) for a in shown["outputs"]] == [path + b".out"]
    assert shown["inputs"][0]["path"] == {"hex": path.hex()}
    (root,) = json.loads(roar_cli("inputs", "--json").stdout)
    assert from_json(root["path"]) == path

    # The text view shows the odd byte escaped, never raw.
    text = subprocess.run([roar_exe, "show", "@1"], cwd=tmp_path, capture_output=True)
    assert text.returncode == 0 and b"caf\\xe9.csv" in text.stdout  # roar/display.py
