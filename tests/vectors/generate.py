"""Regenerate objects.json from the Python implementation.

Run only when the format changes on purpose; the file is the shared
ground truth that the Python and Rust tests check, and any change to it is
a format change that docs/object-format.md must describe.
"""

from __future__ import annotations

import json
from pathlib import Path

from roar.objects import encoding
from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.objects.label import Label
from roar.objects.session import Session
from roar.objects.tree import Tree, TreeEntry

H1 = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"  # b3sum of empty
H2 = "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"  # b3sum of "hello"

OBJECTS = {
    "blob-empty": Blob(b""),
    "blob-patch": Blob(b"diff --git a/x b/x\n+\xff non-utf8 byte\n"),
    "tree-two-files": Tree.of(
        [TreeEntry(b"shard-1.bin", H2, 5), TreeEntry(b"nested/shard-0.bin", H1, 0)]
    ),
    "tree-non-utf8-path": Tree.of([TreeEntry(b"caf\xe9.csv", H2, 5)]),
    "job-minimal": Job(
        type="run",
        argv=(b"true",),
        cwd=b"/",
        started_ns=0,
        ended_ns=0,
        exit_code=0,
    ),
    "job-full": Job(
        type="run",
        argv=(b"python3", b"train.py", b"--lr", b"0.001", b"caf\xe9"),
        cwd=b"/home/ml/project",
        started_ns=1_763_900_000_123_456_789,
        ended_ns=1_763_900_042_987_654_321,
        exit_code=130,
        signal=2,
        interrupted=True,
        inputs=(
            ArtifactRef(b"/home/ml/project/data.csv", H2, 5),
            ArtifactRef(b"/home/ml/project/shards", "1" * 64, 1 << 40, "tree"),
        ),
        outputs=(ArtifactRef(b"/home/ml/project/model.pt", H1, 0),),
        filtered=(b"/usr/lib/python3.11/os.py",),
        context={
            "git": {
                "repo": "/home/ml/project",
                "remote": None,
                "branch": "main",
                "commit": "0123456789abcdef0123456789abcdef01234567",
                "dirty": False,
                "patch": None,
            },
            "env": "2" * 64,
            "env_vars": [[b"HOME", b"/home/ml"], [b"TOKEN", b"<redacted>"]],
            "session": "refs/sessions/main",
            "step": 3,
            "params": None,
        },
    ),
    "job-with-digests": Job(
        type="run",
        argv=(b"sha256sum", b"model.bin"),
        cwd=b"/home/ml/project",
        started_ns=1,
        ended_ns=2,
        exit_code=0,
        inputs=(
            ArtifactRef(
                b"/home/ml/project/model.bin",
                H2,
                5,
                digests=(
                    ("md5", "5d41402abc4b2a76b9719d911017c592"),  # md5sum of "hello"
                    (
                        "sha256",  # sha256sum of "hello"
                        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
                    ),
                ),
            ),
        ),
    ),
    "job-negative-and-large-ints": Job(
        type="build",
        argv=(),
        cwd=b"/",
        started_ns=2**63,
        ended_ns=2**64 - 1,
        exit_code=-1,
        context={"a": -(2**64), "bb": 23, "c": 24, "dd": 255, "e": 256, "ff": 65536, "g": -25},
    ),
    "session-first": Session(None, "3" * 64, 1, "run", 1_763_900_000_000_000_000),
    "session-rerun": Session("4" * 64, "5" * 64, 2, "run", 7, supersedes="6" * 64),
    "label": Label("7" * 64, {"accuracy": "0.93", "epochs": 10, "approved": True}, None, 9),
    "env": Env(
        os={"system": "Linux", "release": "6.1.0", "distro": "Debian 12"},
        cpu={"model": "Example CPU", "cores": 2},
        memory=24 * 2**30,
        gpus=({"name": "Example GPU", "memory": None},),
        python={"version": "3.11.7", "executable": b"/usr/bin/python3"},
        packages=(("numpy", "2.1.0"), ("torch", "2.5.1")),
    ),
}


def to_json(value):  # type: ignore[no-untyped-def]
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    return value


def main() -> None:
    vectors = []
    for name, obj in OBJECTS.items():
        raw = obj.serialize()
        body = obj.body()
        entry = {"name": name, "kind": obj.kind, "id": obj.id, "object_hex": raw.hex()}
        if obj.kind == "blob":
            entry["value"] = {"$bytes": body.hex()}
        else:
            entry["value"] = to_json(encoding.decode(body))
        vectors.append(entry)
    out = Path(__file__).with_name("objects.json")
    out.write_text(json.dumps({"version": 1, "vectors": vectors}, indent=2) + "\n")
    tree_walk()


def tree_walk() -> None:
    """tree-walk.json: what the walk rule (docs/lineage.md §8) finds in the fixture."""
    import tempfile

    from tree_walk import MAKE, VECTOR, materialize

    from roar.hashing import tree_of

    with tempfile.TemporaryDirectory() as tmp:
        tree = tree_of(materialize(Path(tmp) / "tree-walk", MAKE))
    VECTOR.write_text(
        json.dumps(
            {
                "make": MAKE,
                "entries": [
                    {"path": {"$bytes": e.path.hex()}, "hash": e.hash, "size": e.size}
                    for e in tree.entries
                ],
                "tree": tree.id,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
