"""Every object kind round-trips, and malformed bodies are refused."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roar.errors import CorruptObject
from roar.objects import base, encoding
from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.objects.label import Label
from roar.objects.session import Session
from roar.objects.tree import Tree, TreeEntry

ids = st.text("0123456789abcdef", min_size=64, max_size=64)
paths = st.binary(min_size=1, max_size=40)  # any bytes, non-UTF-8 included
u64 = st.integers(0, 2**64 - 1)
scalars = st.none() | st.booleans() | st.integers(-(2**64), 2**64 - 1) | st.text() | st.binary()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
rel_paths = st.lists(
    st.binary(min_size=1, max_size=8).filter(lambda b: b"/" not in b and b not in (b".", b"..")),
    min_size=1,
    max_size=3,
).map(b"/".join)

artifacts = st.builds(ArtifactRef, paths, ids, u64, st.sampled_from(["file", "tree"]))
jobs = st.builds(
    Job,
    type=st.sampled_from(["run", "build", "get", "put"]),
    argv=st.lists(st.binary(max_size=20), max_size=5).map(tuple),
    cwd=paths,
    started_ns=u64,
    ended_ns=u64,
    exit_code=st.integers(-255, 255),
    signal=st.none() | st.integers(1, 64),
    interrupted=st.booleans(),
    inputs=st.lists(artifacts, max_size=4).map(lambda a: tuple(sorted(a, key=lambda x: x.path))),
    outputs=st.lists(artifacts, max_size=4).map(lambda a: tuple(sorted(a, key=lambda x: x.path))),
    filtered=st.lists(paths, max_size=3).map(tuple),
    context=st.dictionaries(st.text(max_size=8), values, max_size=5),
)
trees = st.dictionaries(rel_paths, st.tuples(ids, u64), max_size=6).map(
    lambda d: Tree.of([TreeEntry(p, h, s) for p, (h, s) in d.items()])
)
sessions = st.builds(
    Session,
    st.none() | ids,
    ids,
    st.integers(1, 10**6),
    st.sampled_from(["run", "build"]),
    u64,
    st.none() | ids,
)
labels = st.builds(
    Label,
    ids,
    st.dictionaries(st.text(max_size=10), st.text() | st.integers(-5, 5) | st.booleans()),
    st.none() | ids,
    u64,
)
envs = st.builds(
    Env,
    os=st.dictionaries(st.text(max_size=8), st.text(max_size=8)),
    cpu=st.fixed_dictionaries({"model": st.text(), "cores": st.integers(1, 256)}),
    memory=u64,
    gpus=st.lists(
        st.fixed_dictionaries({"name": st.text(), "memory": st.none() | u64}), max_size=2
    ).map(tuple),
    python=st.none() | st.fixed_dictionaries({"version": st.text(), "executable": paths}),
    packages=st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=10)).map(
        lambda d: tuple(sorted(d.items()))
    ),
)
blobs = st.builds(Blob, st.binary())


@settings(max_examples=150)
@given(st.one_of(jobs, trees, sessions, labels, envs, blobs))
def test_every_kind_round_trips_byte_for_byte(obj: base.RoarObject) -> None:
    raw = obj.serialize()
    again = base.parse(raw)
    assert again == obj
    assert again.serialize() == raw
    assert again.id == obj.id == base.object_id(raw)


@given(jobs)
def test_job_round_trips_through_a_store(
    job: Job,
) -> None:
    assert base.parse(job.serialize()).context == job.context


def test_non_utf8_paths_round_trip() -> None:
    job = Job(
        type="run",
        argv=(b"cat", b"\xff\xfe"),
        cwd=b"/d\xe9j\xe0",
        started_ns=1,
        ended_ns=2,
        exit_code=0,
    )
    again = base.parse(job.serialize())
    assert again.argv == (b"cat", b"\xff\xfe") and again.cwd == b"/d\xe9j\xe0"


@pytest.mark.parametrize(
    "bad",
    [
        1.5,
        {1: "integer key"},
        2**64,
        -(2**64) - 1,
        {"set": {1, 2}},
    ],
)
def test_values_outside_the_subset_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        encoding.encode(bad)


@pytest.mark.parametrize(
    "body_hex, why",
    [
        ("a2616202616101", "keys out of order"),
        ("a161611801", "integer not in shortest form"),
        ("a16161f93c00", "a float"),
        ("a161619f01ff", "indefinite-length array"),
        ("a1616101ff", "trailing byte"),
        ("c1a0", "a tag"),
    ],
)
def test_non_canonical_bodies_are_refused(body_hex: str, why: str) -> None:
    with pytest.raises(CorruptObject):
        encoding.decode(bytes.fromhex(body_hex))


@pytest.mark.parametrize(
    "raw",
    [
        b"job 3\0abc\0",
        b"job 03\0\xa0\xa0\xa0",
        b"nope 1\0\xa0",
        b"job1\0\xa0",
        b"job 2\0\xa0",
        b"no header at all",
    ],
)
def test_malformed_headers_are_refused(raw: bytes) -> None:
    with pytest.raises(CorruptObject):
        base.parse(raw)


def test_schema_violations_are_corrupt_not_crashes() -> None:
    body = encoding.encode(
        {
            "parent": None,
            "job": "not-an-id",
            "step": 1,
            "step_kind": "run",
            "supersedes": None,
            "time_ns": 0,
        }
    )
    with pytest.raises(CorruptObject, match="session"):
        base.parse(base.header("session", len(body)) + body)
