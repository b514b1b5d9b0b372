"""The tree-walk vector: a directory fixture plus the entries a walk must not meet.

`tree-walk/` holds the regular files (git keeps them); what git cannot keep
(symlinks, a FIFO, an empty directory, a non-UTF-8 name) is described in
`tree-walk.json` under "make" and created in a copy before the walk. The
Rust side (tracer/tests/tree_walk.rs) builds the same copy from the same file.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

HERE = Path(__file__).parent
FIXTURE = HERE / "tree-walk"
VECTOR = HERE / "tree-walk.json"

MAKE = {
    "symlinks": [["link-to-a", "a.txt"], ["link-to-sub", "sub"], ["dangling", "no-such-file"]],
    "fifos": ["pipe"],
    "empty_dirs": ["empty/inner"],
    "files": [[b"caf\xe9.txt".hex(), b"non-utf8 name\n".hex()]],
}


def materialize(into: Path, make: dict | None = None) -> Path:  # type: ignore[type-arg]
    """Copy the fixture to `into` and add the entries git cannot hold; returns `into`."""
    make = make if make is not None else json.loads(VECTOR.read_text())["make"]
    shutil.copytree(FIXTURE, into, symlinks=True)
    for name, target in make["symlinks"]:
        os.symlink(target, into / name)
    for name in make["fifos"]:
        os.mkfifo(into / name)
    for name in make["empty_dirs"]:
        (into / name).mkdir(parents=True)
    for name_hex, content_hex in make["files"]:
        with open(os.path.join(os.fsencode(into), bytes.fromhex(name_hex)), "wb") as f:
            f.write(bytes.fromhex(content_hex))
    return into
