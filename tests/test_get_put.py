"""`roar get` and `roar put`: boundary jobs over real HTTP, file:// and the store."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

from roar.objects.job import Job
from roar.objects.tree import Tree
from roar.sessions import history
from roar.workspace import Workspace

DATA = bytes(range(256)) * 4096  # 1 MiB: big enough to arrive in several chunks

if TYPE_CHECKING:
    from transfer_fixtures import FileServer

pytest_plugins = ["transfer_fixtures"]


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def ws(roar_cli, tmp_path: Path) -> Workspace:  # type: ignore[no-untyped-def]
    assert roar_cli("init", "-n").returncode == 0
    return Workspace(tmp_path)


def last_job(ws: Workspace) -> Job:
    job = ws.objects.read(history(ws)[-1].job)
    assert isinstance(job, Job)
    return job


def test_get_over_http_records_a_get_job_whose_output_is_the_file(
    roar_cli,
    ws: Workspace,
    file_server: FileServer,
) -> None:  # type: ignore[no-untyped-def]
    (file_server.root / "data.bin").write_bytes(DATA)

    result = roar_cli("get", f"{file_server.url}/data.bin", "--json")

    assert result.returncode == 0, result.stderr
    assert (ws.root / "data.bin").read_bytes() == DATA
    job = last_job(ws)
    assert job.type == "get" and job.inputs == ()
    [out] = job.outputs
    assert (out.path, out.hash, out.size, out.kind) == (
        os.fsencode(ws.root / "data.bin"), b3(DATA), len(DATA), "file",
    )  # fmt: skip
    assert job.context["url"] == f"{file_server.url}/data.bin"
    assert json.loads(result.stdout)["artifacts"][0]["hash"] == b3(DATA)
    assert [line.split()[1] for line in roar_cli("log").stdout.splitlines()[5:]] == ["@1"]


def test_get_with_the_wrong_hash_keeps_nothing_and_records_nothing(
    roar_cli,
    ws: Workspace,
    file_server: FileServer,
) -> None:  # type: ignore[no-untyped-def]
    (file_server.root / "data.bin").write_bytes(DATA)

    result = roar_cli("get", f"{file_server.url}/data.bin", "--hash", b3(b"other bytes"))

    assert result.returncode == 10
    assert "not the expected" in result.stderr and "nothing was saved" in result.stderr
    assert sorted(p.name for p in ws.root.iterdir()) == [".roar"]
    assert history(ws) == []


def test_interrupted_download_never_shows_under_its_name_and_resumes(
    roar_cli,
    ws: Workspace,
    file_server: FileServer,
) -> None:  # type: ignore[no-untyped-def]
    (file_server.root / "data.bin").write_bytes(DATA)
    file_server.cut_after = 300_000

    first = roar_cli("get", f"{file_server.url}/data.bin")

    assert first.returncode == 10 and "resume" in first.stderr
    assert not (ws.root / "data.bin").exists()
    partial = (ws.root / "data.bin.roar-part").stat().st_size
    assert 0 < partial <= 300_000

    second = roar_cli("get", f"{file_server.url}/data.bin", "--hash", b3(DATA))

    assert second.returncode == 0, second.stderr
    assert (ws.root / "data.bin").read_bytes() == DATA
    assert not (ws.root / "data.bin.roar-part").exists()
    assert file_server.requests[-1] == ("GET", "/data.bin", f"bytes={partial}-")


def test_get_of_a_directory_records_one_composite_artifact(
    roar_cli, ws: Workspace, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path.parent / f"{tmp_path.name}-dataset"
    (source / "shards").mkdir(parents=True)
    (source / "labels.csv").write_text("a,1\n")
    (source / "shards" / "0.bin").write_bytes(b"\x00" * 10)

    result = roar_cli("get", source.as_uri(), "dataset")

    assert result.returncode == 0, result.stderr
    [out] = last_job(ws).outputs
    tree = ws.objects.read(out.hash)
    assert isinstance(tree, Tree) and out.kind == "tree" and out.size == 14
    assert [(e.path, e.hash) for e in tree.entries] == [
        (b"labels.csv", b3(b"a,1\n")),
        (b"shards/0.bin", b3(b"\x00" * 10)),
    ]
    assert (ws.root / "dataset" / "shards" / "0.bin").read_bytes() == b"\x00" * 10


def test_put_uploads_and_records_a_put_job_reading_the_artifacts(
    roar_cli,
    ws: Workspace,
    file_server: FileServer,
) -> None:  # type: ignore[no-untyped-def]
    (ws.root / "model.pt").write_bytes(DATA)
    (ws.root / "eval").mkdir()
    (ws.root / "eval" / "metrics.json").write_text('{"acc": 1}')

    dry = roar_cli("put", "model.pt", "eval", f"{file_server.url}/runs/1/", "--dry-run")
    assert dry.returncode == 0 and "would put" in dry.stdout
    assert not (file_server.root / "runs").exists() and history(ws) == []

    result = roar_cli("put", "model.pt", "eval", f"{file_server.url}/runs/1/")

    assert result.returncode == 0, result.stderr
    assert (file_server.root / "runs/1/model.pt").read_bytes() == DATA
    assert (file_server.root / "runs/1/eval/metrics.json").read_text() == '{"acc": 1}'
    job = last_job(ws)
    assert job.type == "put" and job.outputs == ()
    assert [(a.path, a.kind) for a in job.inputs] == [
        (os.fsencode(ws.root / "eval"), "tree"),
        (os.fsencode(ws.root / "model.pt"), "file"),
    ]
    assert job.inputs[1].hash == b3(DATA)


def test_put_to_a_file_url_replaces_the_target_whole(
    roar_cli, ws: Workspace, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (ws.root / "model.pt").write_bytes(DATA)
    target = tmp_path.parent / f"{tmp_path.name}-bucket" / "model.pt"

    result = roar_cli("put", "model.pt", target.as_uri())

    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == DATA
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.pt"]


def test_credentials_in_a_url_are_not_recorded(
    roar_cli,
    ws: Workspace,
    file_server: FileServer,
) -> None:  # type: ignore[no-untyped-def]
    (file_server.root / "data.bin").write_bytes(b"x")
    host = file_server.url.split("://", 1)[1]

    result = roar_cli("get", f"http://alice:hunter2@{host}/data.bin?X-Amz-Signature=abc&v=1")

    assert result.returncode == 0, result.stderr
    job = last_job(ws)
    assert b"hunter2" not in job.serialize() and b"X-Amz-Signature=abc" not in job.serialize()
    assert job.context["url"].endswith("/data.bin?X-Amz-Signature=<redacted>&v=1")


def test_get_and_put_show_control_characters_in_names_escaped(
    roar_cli, ws: Workspace, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A name that carries a terminal escape (here: clear screen, then a bell) is shown
    as visible text, never sent raw to the terminal."""
    src = tmp_path.parent / f"{tmp_path.name}-src"
    src.mkdir()
    evil = "x\x1b[2Jy\x07.bin"
    (src / evil).write_bytes(b"payload")

    got = roar_cli("get", (src / evil).as_uri(), "--dry-run")
    assert got.returncode == 0, got.stderr
    assert "\x1b" not in got.stdout and "\x07" not in got.stdout
    assert "\\e[2Jy\\x07.bin" in got.stdout

    got = roar_cli("get", (src / evil).as_uri(), "out.bin")
    assert got.returncode == 0, got.stderr
    (ws.root / evil).write_bytes(b"payload")
    dest = tmp_path.parent / f"{tmp_path.name}-dest"
    dest.mkdir()
    put = roar_cli("put", evil, dest.as_uri() + "/", "--dry-run")
    assert put.returncode == 0, put.stderr
    assert "\x1b" not in put.stdout and "\x07" not in put.stdout
    assert "\\e[2Jy\\x07.bin" in put.stdout
