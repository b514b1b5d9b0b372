"""The resolver (docs/lineage.md §7) over every LineageSource: what each name means,
and what it says when a name means several things or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from worlds import SourceMaker, World, h

from roar.errors import Ambiguous, NotFound
from roar.lineage.resolve import Resolver
from roar.objects.job import ArtifactRef, Job

MAIN = "refs/sessions/main"


def _resolver(source_of: SourceMaker, w: World) -> Resolver:
    return Resolver(source_of(w), MAIN, w.refs.get)


def _world() -> tuple[World, dict[str, str]]:
    w = World()
    jobs = {
        "prep": w.job("python prep.py", ["data"], ["features"]),
        "train": w.job("python train.py", ["features"], ["model"]),
    }
    w.step(jobs["prep"], 1)
    jobs["head"] = w.step(jobs["train"], 2)
    return w, jobs


def test_steps_head_sessions_and_hashes(source_of: SourceMaker) -> None:
    w, jobs = _world()
    r = _resolver(source_of, w)
    step = r.resolve("@2")
    assert (step.kind, step.id, step.ref, step.step.label if step.step else None) == (
        "step", jobs["train"], MAIN, "@2",
    )  # fmt: skip
    assert r.resolve("HEAD")[:2] == ("session", jobs["head"])
    assert r.resolve("main")[:4] == ("session", jobs["head"], "main", MAIN)
    assert r.resolve(MAIN)[:2] == ("session", jobs["head"])
    assert r.resolve(jobs["train"][:8])[:2] == ("job", jobs["train"])
    assert r.resolve(jobs["head"][:12].upper())[:2] == ("session", jobs["head"])
    assert r.resolve(h("model")[:10])[:2] == ("artifact", h("model"))
    assert r.resolve(h("data"))[:2] == ("artifact", h("data"))


def test_a_path_names_the_artifact_its_bytes_are(
    source_of: SourceMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, _ = _world()
    r = _resolver(source_of, w)
    monkeypatch.chdir(tmp_path)
    Path("model.pt").write_text("model")
    assert r.resolve("model.pt")[:2] == ("artifact", h("model"))
    Path("main").write_text("a file named like the session")
    with pytest.raises(Ambiguous, match="'main' is both a path and session .*write ./main"):
        r.resolve("main")
    assert r.resolve("./main")[:2] == ("artifact", h("a file named like the session"))


def test_an_ambiguous_prefix_lists_the_candidates(source_of: SourceMaker) -> None:
    w = World()
    twins = ["abcdef01" + "1" * 56, "abcdef01" + "2" * 56]
    w.add(
        Job(
            type="run", argv=(b"true",), cwd=b"/", started_ns=0, ended_ns=1, exit_code=0,
            inputs=tuple(ArtifactRef(f"/{i}".encode(), d, 1) for i, d in enumerate(twins)),
        )
    )  # fmt: skip
    r = _resolver(source_of, w)
    with pytest.raises(Ambiguous) as e:
        r.resolve("abcdef01")
    assert str(e.value) == (
        "abcdef01 names more than one thing: artifact abcdef011111, artifact abcdef012222; "
        "give more digits"
    )
    assert r.resolve("abcdef012")[:2] == ("artifact", twins[1])


def test_unknown_names_say_what_was_tried(
    source_of: SourceMaker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, _ = _world()
    r = _resolver(source_of, w)
    monkeypatch.chdir(tmp_path)
    tried = (
        "not a path, a step (@N), a session, or a hash known here (objects and recorded artifacts)"
    )
    with pytest.raises(NotFound) as e:
        r.resolve("nothere.txt")
    assert str(e.value) == f"nothere.txt: {tried}"
    with pytest.raises(NotFound) as e:
        r.resolve("beef")
    assert str(e.value) == f"beef: {tried} (a hash prefix needs at least 8 hex digits)"
    with pytest.raises(NotFound, match="no step @7"):
        r.resolve("@7")


def _digest_world() -> tuple[World, dict[str, str]]:
    """A model written with its md5 and sha256 recorded, and a dataset read with its
    sha512: hashlib's digests of the named contents are the ground truth."""
    import hashlib

    w = World()
    model, data = b"model", b"data"
    d = {
        "md5": hashlib.md5(model).hexdigest(),
        "sha256": hashlib.sha256(model).hexdigest(),
        "sha512": hashlib.sha512(data).hexdigest(),
    }
    w.add(
        Job(
            type="run", argv=(b"python", b"train.py"), cwd=b"/w", started_ns=0, ended_ns=1,
            exit_code=0,
            inputs=(ArtifactRef(b"/w/data", h("data"), 4, digests=(("sha512", d["sha512"]),)),),
            outputs=(
                ArtifactRef(
                    b"/w/model", h("model"), 5,
                    digests=(("md5", d["md5"]), ("sha256", d["sha256"])),
                ),
            ),
        )
    )  # fmt: skip
    return w, d


def test_a_file_is_named_by_the_sha256_or_md5_a_user_holds(source_of: SourceMaker) -> None:
    w, d = _digest_world()
    r = _resolver(source_of, w)
    sha = d["sha256"]
    for text in (sha, sha.upper(), f"sha256:{sha}", f"SHA256:{sha[:10]}"):
        t = r.resolve(text)
        assert (t.kind, t.id, t.algorithm) == ("artifact", h("model"), "sha256"), text
    for text in (d["md5"], f"md5:{d['md5']}", f"md5:{d['md5'][:8]}"):
        assert r.resolve(text)[:2] == ("artifact", h("model")), text
    assert r.resolve(d["sha512"])[:2] == ("artifact", h("data"))
    assert r.resolve(f"blake3:{h('model')[:9]}")[:2] == ("artifact", h("model"))
    assert r.resolve_hash(f"sha256:{d['sha256']}").describe() == (
        f"artifact {h('model')[:12]} (by its sha256)"
    )
    # A digest prefix without its algorithm is not looked up (only BLAKE3 and ids are).
    with pytest.raises(NotFound):
        r.resolve(d["sha256"][:20])
    # The algorithm's own digest only: the model's md5 is not a sha256.
    with pytest.raises(NotFound, match="not a hash known here"):
        r.resolve_hash(f"sha256:{d['md5']}")
    with pytest.raises(NotFound, match="sha256:<hex>"):
        r.resolve_hash("sha256:xyz")
