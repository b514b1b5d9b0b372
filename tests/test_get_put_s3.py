"""`roar get` / `roar put` with s3:// against a real S3 protocol peer on loopback.

moto's server speaks the S3 REST API on 127.0.0.1; roar reaches it through
`s3.endpoint_url`, as it would MinIO or any S3-compatible store.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest

boto3 = pytest.importorskip("boto3", reason="the s3 extra is not installed")
moto_server = pytest.importorskip("moto.server", reason="moto[server] is not installed")

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    for k, v in CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_get_and_put_over_s3_record_boundary_jobs(
    roar_cli, tmp_path: Path, s3_endpoint: str
) -> None:  # type: ignore[no-untyped-def]
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="datasets")
    data = b"id,label\n1,cat\n2,dog\n" * 1000
    client.put_object(Bucket="datasets", Key="v1/train.csv", Body=data)

    assert roar_cli("init", "-n").returncode == 0
    assert roar_cli("config", "set", "s3.endpoint_url", s3_endpoint).returncode == 0
    expected = blake3.blake3(data).hexdigest()
    wrong = roar_cli("get", "s3://datasets/v1/train.csv", "bad.csv", "--hash", "0" * 64)
    assert wrong.returncode == 10 and not (tmp_path / "bad.csv").exists()
    got = roar_cli("get", "s3://datasets/v1/train.csv", "train.csv", "--hash", expected, "--json")
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "train.csv").read_bytes() == data
    assert json.loads(got.stdout)["artifacts"][0]["hash"] == expected

    (tmp_path / "model.pt").write_bytes(b"weights")
    put = roar_cli("put", "model.pt", "s3://datasets/runs/1/", "--no-register")
    assert put.returncode == 0, put.stderr
    assert client.get_object(Bucket="datasets", Key="runs/1/model.pt")["Body"].read() == b"weights"
    log = json.loads(roar_cli("log", "--json").stdout)
    assert [r["command"].split()[:2] for r in log] == [["roar", "put"], ["roar", "get"]]
    nodes = json.loads(roar_cli("dag", "--json").stdout)["nodes"]
    assert nodes[0]["type"] == "get" and nodes[0]["outputs"][0]["hash"] == expected
    assert nodes[1]["type"] == "put" and nodes[1]["outputs"] == []
