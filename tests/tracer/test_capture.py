"""roar-tracer seen from Python, as roar's CLI will call it: a representative
subset of the capture cases (ground truth written in each test), and the job
object decoded from the store with nothing but blake3, zstandard and cbor2."""

from __future__ import annotations

import subprocess

import blake3
import cbor2
import zstandard


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def test_read_then_write_records_input_and_output(workspace):
    data = workspace.write("data.csv", b"a,b\n1,2\n")
    result = workspace.python("open('out.txt','w').write(open('data.csv').read().upper())")
    assert result.returncode == 0
    assert result.stdout == b""
    assert result.artifacts("inputs") == {str(data): b3(b"a,b\n1,2\n")}
    assert result.artifacts("outputs") == {str(workspace.root / "out.txt"): b3(b"A,B\n1,2\n")}


def test_file_changed_in_place_is_input_before_and_output_after(workspace):
    path = workspace.write("counter", b"0001")
    result = workspace.python("f = open('counter', 'r+b'); f.seek(3); f.write(b'2'); f.close()")
    assert result.artifacts("inputs") == {str(path): b3(b"0001")}
    assert result.artifacts("outputs") == {str(path): b3(b"0002")}


def test_temp_then_rename_and_deleted_temp(workspace):
    code = (
        "import os\n"
        "open('ckpt.tmp','wb').write(b'w'); os.replace('ckpt.tmp','ckpt.pt')\n"
        "open('scratch','w').write('x'); os.remove('scratch')\n"
    )
    result = workspace.python(code)
    assert result.artifacts("inputs") == {}
    assert result.artifacts("outputs") == {str(workspace.root / "ckpt.pt"): b3(b"w")}


def test_shell_pipeline(workspace):
    words = workspace.write("words", b"b\na\n")
    result = workspace.run("/bin/sh", "-c", "sort words | tr a-z A-Z > sorted")
    assert result.artifacts("inputs") == {str(words): b3(b"b\na\n")}
    assert result.artifacts("outputs") == {str(workspace.root / "sorted"): b3(b"A\nB\n")}


def test_dataset_directory_is_one_tree(workspace):
    result = workspace.python(
        "import os\nos.mkdir('ds')\nfor i in range(3): open(f'ds/{i}.bin','wb').write(bytes([i]))\n"
    )
    outputs = result.report["outputs"]
    assert [(o["path"], o["kind"], o["size"]) for o in outputs] == [
        (str(workspace.root / "ds"), "tree", 3)
    ]
    tree_id = outputs[0]["hash"]
    assert result.report["trees"] == [tree_id]
    raw = zstandard.ZstdDecompressor().decompress(
        (workspace.store / "objects" / tree_id[:2] / tree_id[2:]).read_bytes()
    )
    assert b3(raw) == tree_id
    body = cbor2.loads(raw[raw.index(b"\0") + 1 :])
    assert body == {"entries": [[f"{i}.bin".encode(), b3(bytes([i])), 1] for i in range(3)]}


def test_exit_code_and_not_found(workspace):
    assert workspace.run("/bin/sh", "-c", "exit 5").returncode == 5
    missing = workspace.run("roar-no-such-command")
    assert missing.returncode == 127
    assert b"command not found" in missing.stderr
    assert missing.report is None


def test_job_object_on_disk_matches_header_id_and_report(workspace):
    source = workspace.write("in.txt", b"hello")
    context = cbor2.dumps({"session": "main", "step": 1}, canonical=True)
    ctx = workspace.store.parent / "ctx.cbor"
    ctx.parent.mkdir(parents=True, exist_ok=True)
    ctx.write_bytes(context)
    result = workspace.run(
        "/bin/cp", "in.txt", "out.txt", extra=("--context", str(ctx), "--type", "build")
    )
    job_id = result.report["job"]
    frame = (workspace.store / "objects" / job_id[:2] / job_id[2:]).read_bytes()
    assert zstandard.get_frame_parameters(frame).content_size > 0
    raw = zstandard.ZstdDecompressor().decompress(frame)
    assert b3(raw) == job_id
    header, body = raw.split(b"\0", 1)
    assert header == b"job %d" % len(body)
    job = cbor2.loads(body)
    assert cbor2.dumps(job, canonical=True) == body, "the body is canonical CBOR"
    assert job["type"] == "build"
    assert job["argv"] == [b"/bin/cp", b"in.txt", b"out.txt"]
    assert job["cwd"] == str(workspace.root).encode()
    assert job["exit_code"] == 0 and job["signal"] is None and job["interrupted"] is False
    assert job["context"] == {"session": "main", "step": 1}
    assert job["inputs"] == [
        {"path": str(source).encode(), "hash": b3(b"hello"), "size": 5, "kind": "file"}
    ]
    assert job["outputs"] == [
        {
            "path": str(workspace.root / "out.txt").encode(),
            "hash": b3(b"hello"),
            "size": 5,
            "kind": "file",
        }
    ]
    assert (
        job["started_ns"]
        == result.report["started_ns"]
        <= job["ended_ns"]
        == result.report["ended_ns"]
    )


def test_preflight_json(tracer_binary):
    import json

    done = subprocess.run([str(tracer_binary), "--preflight", "--json"], capture_output=True)
    info = json.loads(done.stdout)
    assert set(info) == {
        "ready",
        "mechanism",
        "notify",
        "ptrace",
        "seccomp",
        "privileged",
        "debuggers",
        "setuid",
        "kernel",
        "arch",
        "problems",
    }
    assert done.returncode == (0 if info["ready"] else 1)
    fallback = "ptrace" if info["ready"] else None
    assert info["mechanism"] == ("notify" if info["notify"] else fallback)
