"""roar-cli 0.4.7's invocations that roar accepts (docs/roar-cli-compat.md).

Each test runs the real CLI as a subprocess; the comparison with roar-cli
itself, side by side, is tests/compat/test_differential.py.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

WRITE = "python -c open('{path}','w').write('{text}')"


def _run(roar_cli, *args: str, cwd: Path | None = None):  # type: ignore[no-untyped-def]
    result = roar_cli(*args, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    "args, message",
    [
        (["-n"], "needs a value"),
        (["--hash", "crc32", "ls"], "--hash takes one of"),
        (["--tracer=strace", "ls"], "--tracer takes one of"),
        (["--add-tag", "license=MIT", "ls"], "compliance tags"),
        (["-n", " ", "ls"], "non-empty"),
        (["--bogus", "ls"], "unknown option '--bogus'"),
        (["-q"], "needs a command"),
    ],
)
def test_run_options_refused_say_why(roar_cli, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    # The options are the Rust front end's (tracer/src/front.rs, where their
    # accepted spellings are tested); refused before anything else is looked at.
    refused = roar_cli("run", *args)
    assert refused.returncode == 2 and message in refused.stderr, refused.stderr


def test_run_name_labels_the_job(workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ran = roar_cli(
        "run", "-n", "prep", "--hash", "sha256", *WRITE.format(path="a.txt", text="a").split()
    )
    assert ran.returncode == 0, ran.stderr
    written = json.loads(_run(roar_cli, "show", "@1", "--json").stdout)["outputs"][0]
    assert written["digests"] == {"sha256": hashlib.sha256(b"a").hexdigest()}  # recorded
    labels = json.loads(_run(roar_cli, "label", "show", "job", "@1", "--json").stdout)["labels"]
    assert labels == {"name": "prep"}


def test_label_set_takes_roar_cli_kind_first(workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _run(roar_cli, "run", *WRITE.format(path="model.pkl", text="m").split())
    out = _run(roar_cli, "label", "set", "artifact", "model.pkl", "accuracy=0.93", "owner=al")
    assert out.stdout.splitlines() == [
        "Updated labels (version 1):",
        "  accuracy=0.93",
        "  owner=al",
    ]
    _run(roar_cli, "label", "set", "model.pkl", "epochs=3")  # roar's own form still works
    _run(roar_cli, "label", "unset", "artifact", "model.pkl", "owner")
    assert _run(roar_cli, "label", "show", "artifact", "model.pkl").stdout.splitlines() == [
        "accuracy=0.93",
        "epochs=3",
    ]
    _run(roar_cli, "label", "set", "dag", "current", "team=ml")
    assert _run(roar_cli, "label", "show", "session").stdout == "team=ml\n"
    wrong = roar_cli("label", "set", "job", "model.pkl", "x=1")
    assert wrong.returncode != 0


def test_pop_asks_and_reads_the_answer_from_a_pipe(workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _run(roar_cli, "run", *WRITE.format(path="out.txt", text="1").split())
    no_answer = roar_cli("pop")  # stdin is empty: roar-cli aborts with exit 1
    assert no_answer.returncode == 1 and "Remove this job? [Y/n]" in no_answer.stdout
    declined = roar_cli("pop", input="n\n")
    assert declined.returncode == 0 and "Aborted." in declined.stdout
    assert (tmp_path / "out.txt").exists()
    accepted = roar_cli("pop", input="y\n")
    assert accepted.returncode == 0 and "Deleted 1 output file(s)." in accepted.stdout
    assert not (tmp_path / "out.txt").exists()


def test_pop_keeps_a_file_an_earlier_step_also_wrote(workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _run(roar_cli, "run", *WRITE.format(path="shared.txt", text="first").split())
    _run(roar_cli, "run", *WRITE.format(path="shared.txt", text="second").split())
    popped = _run(roar_cli, "pop", "-y")
    assert "Kept " in popped.stdout and "an earlier step also wrote it" in popped.stdout
    assert (tmp_path / "shared.txt").read_text() == "second"


def test_pop_keeps_an_output_changed_since(workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _run(roar_cli, "run", *WRITE.format(path="notes.txt", text="made").split())
    (tmp_path / "notes.txt").write_text("edited by hand")
    popped = _run(roar_cli, "pop", "-y")
    assert "it changed since the step wrote it" in popped.stdout
    assert (tmp_path / "notes.txt").read_text() == "edited by hand"


def test_reset_asks_like_roar_cli(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    refused = roar_cli("reset")
    assert refused.returncode == 1 and "Start a new session? [Y/n]" in refused.stdout
    assert json.loads(roar_cli("status", "--json").stdout)["session"] == "main"
    accepted = roar_cli("reset", input="\n")  # Enter takes the default, yes
    assert accepted.returncode == 0
    assert json.loads(roar_cli("status", "--json").stdout)["session"] != "main"


@pytest.mark.parametrize("name", ["auto", "ebpf", "preload", "ptrace"])
def test_tracer_use_takes_roar_cli_backend_names(workspace, roar_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    used = roar_cli("tracer", "use", name)
    assert used.returncode == 0 and "one tracer" in used.stdout
    assert roar_cli("config", "get", "tracer.path").stdout == "\n"  # nothing stored
    assert roar_cli("tracer", "use", "bogus").returncode == 2


def test_get_takes_output_dry_run_force_message_and_name(
    workspace, roar_cli, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "remote" / "data.csv"
    source.parent.mkdir()
    source.write_text("a,b\n")
    url = source.as_uri()
    dry = _run(roar_cli, "get", url, "--dry-run", "-o", "in/data.csv")
    assert dry.stdout.splitlines()[:2] == [
        "Dry run - would download:",
        f"  {url} -> {tmp_path / 'in/data.csv'}",
    ]
    assert not (tmp_path / "in").exists()
    _run(roar_cli, "get", url, "-o", "in/data.csv", "-m", "first download", "-n", "fetch")
    labels = json.loads(_run(roar_cli, "label", "show", "@1", "--json").stdout)["labels"]
    assert labels == {"name": "fetch", "message": "first download"}
    again = roar_cli("get", url, "-o", "in/data.csv")
    assert again.returncode == 2 and "--force" in again.stderr
    source.write_text("a,b\n1,2\n")
    _run(roar_cli, "get", url, "-o", "in/data.csv", "--force")
    assert (tmp_path / "in/data.csv").read_text() == "a,b\n1,2\n"


def test_put_takes_a_message(workspace, roar_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "model.pkl").write_text("m")
    dest = tmp_path / "bucket"
    _run(roar_cli, "put", "model.pkl", dest.as_uri() + "/", "-m", "v1.0", "--no-register")
    labels = json.loads(_run(roar_cli, "label", "show", "@1", "--json").stdout)["labels"]
    assert labels == {"message": "v1.0"}
