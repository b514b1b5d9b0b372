"""What a user's odd input meets: over-long targets, a damaged HEAD, paths outside
the workspace. The CLI as a subprocess, the real tracer."""

from __future__ import annotations

import pytest

NOT_FOUND = "not a path, a step (@N), a session, or a hash known here"


@pytest.mark.parametrize(
    ("command", "target"),
    [
        ("show", "a" * 300),  # one part longer than a file name may be
        ("reproduce", "f" * 5000),  # hex, longer than PATH_MAX
        ("lineage", "x/" * 600),  # many short parts, longer than a ref name may be
        ("show", "@" + "9" * 5000),  # past the bound: nothing is tried
        ("show", "@" + "9" * 50),  # more digits than any step number has
        ("show", "@²"),  # a Unicode digit is not a step number
    ],
    ids=["long-part", "long-hex", "long-name", "long-step", "many-digits", "unicode-digit"],
)
def test_an_over_long_target_is_refused_like_any_unknown_name(  # type: ignore[no-untyped-def]
    roar_cli, command: str, target: str
) -> None:
    assert roar_cli("init", "-n").returncode == 0
    result = roar_cli(command, target)
    assert "Traceback" not in result.stderr and "Errno" not in result.stderr
    if target.startswith("@") and len(target) < 100:
        assert result.returncode == 2 and "not a step" in result.stderr
    else:
        assert result.returncode == 4, result.stderr
        assert NOT_FOUND in result.stderr
    assert len(result.stderr) < 400  # the message quotes a bounded part of the name


def test_a_damaged_head_is_named_by_fsck_and_repaired_by_reset(roar_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # given: a workspace with one step, then HEAD overwritten
    assert roar_cli("init", "-n").returncode == 0
    assert roar_cli("run", "sh", "-c", "echo hi > out.txt").returncode == 0
    (tmp_path / ".roar/HEAD").write_text("garbage\n")
    # then: a command says what is wrong and what fixes it
    log = roar_cli("log")
    assert log.returncode != 0 and "HEAD does not name a ref: 'garbage'" in log.stderr
    assert "`roar reset -y`" in log.stderr and "Traceback" not in log.stderr
    # fsck names the problem, not only how many there are
    checked = roar_cli("fsck")
    assert checked.returncode == 1
    assert "error: HEAD does not name a ref: 'garbage'; `roar reset -y`" in checked.stderr
    assert checked.stdout.endswith("1 problem(s)\n")
    # when: the user runs what it says
    reset = roar_cli("reset", "-y")
    # then: HEAD names a new session, the old one is kept, and commands work again
    assert reset.returncode == 0, reset.stderr
    assert "previous: none: HEAD was damaged" in reset.stdout
    assert (tmp_path / ".roar/HEAD").read_text().startswith("ref: refs/sessions/s-")
    assert (tmp_path / ".roar/refs/sessions/main").is_file()
    assert roar_cli("fsck").returncode == 0
    assert roar_cli("log").stdout == "No log entries found.\n"
    assert roar_cli("run", "true").returncode == 0


def test_show_of_a_directory_above_the_workspace_is_refused_before_reading_it(  # type: ignore[no-untyped-def]
    roar_cli, tmp_path
) -> None:
    assert roar_cli("init", "-n").returncode == 0
    for target in ("/", ".."):
        shown = roar_cli("show", target)
        assert shown.returncode == 2, shown.stderr
        assert "a directory above the workspace" in shown.stderr
        assert "None" not in shown.stderr and "Traceback" not in shown.stderr


def test_show_of_a_file_no_job_recorded_gives_its_size_and_says_so(roar_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ws, outside = tmp_path / "ws", tmp_path / "elsewhere.txt"
    ws.mkdir()
    outside.write_bytes(b"x" * 1234)
    assert roar_cli("init", "-n", cwd=ws).returncode == 0
    shown = roar_cli("show", "../elsewhere.txt", cwd=ws)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "Size:       1.2KB" in lines, lines
    assert f"Path:       {outside}" in lines
    assert "Produced by: none (no recorded job read or wrote these bytes)" in lines


def test_an_interrupted_run_is_intr_in_log_show_and_dag(roar_cli, roar_exe, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import signal
    import subprocess
    import time

    assert roar_cli("init", "-n").returncode == 0
    env = {k: v for k, v in os.environ.items() if k != "ROAR_WORKSPACE"}
    # given: a run the user interrupts (Ctrl-C reaches roar run)
    proc = subprocess.Popen(
        [roar_exe, "run", "sleep", "30"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert " interrupted " in err, err
    # then: every view says so: log's STATUS (roar-cli's column, not FAIL), --json, show, dag
    row = roar_cli("log").stdout.splitlines()[5]
    assert row[49:57] == "INTR    " and row[57:] == "sleep 30", row
    assert json.loads(roar_cli("log", "--json").stdout)[0]["interrupted"] is True
    job_line = roar_cli("show", "@1").stdout.splitlines()[0]
    assert "(interrupted)" in job_line, job_line
    node = json.loads(roar_cli("dag", "--json").stdout)["nodes"][0]
    assert node["interrupted"] is True
    assert "INTR    sleep 30" in roar_cli("show", "--session").stdout


def test_init_at_a_path_that_cannot_be_made_says_why(roar_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = roar_cli("init", "--path", str(tmp_path / ("a" * 300)))
    assert result.returncode == 2, result.stderr
    assert "cannot create it (File name too long)" in result.stderr
    assert "Traceback" not in result.stderr


def test_tracer_check_command_escapes_once_bounds_names_and_reads_a_bare_shebang(  # type: ignore[no-untyped-def]
    roar_cli, tmp_path
) -> None:
    import json

    assert roar_cli("init", "-n").returncode == 0
    # given: a program whose name holds an escape sequence, a `#!` line with no newline
    red = tmp_path / "a\x1b[31mred"
    red.write_text("#!/bin/sh\n")
    bare = tmp_path / "bare.sh"
    bare.write_text("#!/bin/sh")  # valid for the kernel: the whole buffer is the line
    for p in (red, bare):
        p.chmod(0o755)
    # then: the text escapes every line one way (printable: `\e`), never Rust's `\u{1b}`
    text = roar_cli("tracer", "check", "--command", str(red))
    shown = text.stdout + text.stderr
    assert "\x1b" not in shown and "\\u{1b}" not in shown and "a\\e[31mred" in shown, shown
    # and --json carries the name as it is (JSON escapes it), escaped nowhere twice
    report = json.loads(roar_cli("tracer", "check", "--command", str(red), "--json").stdout)
    assert report["command_checked"] == str(red)
    assert any(str(red) in c["detail"] for c in report["checks"]), report["checks"]
    assert not any("\\u{1b}" in c["detail"] for c in report["checks"])
    # and a bare `#!/bin/sh` script runs, so its check passes
    ok = roar_cli("tracer", "check", "--command", str(bare))
    assert ok.returncode == 0, ok.stderr
    # and a program name longer than exec accepts is refused before anything is examined
    long = roar_cli("tracer", "check", "--command", "x" * 5000)
    assert long.returncode == 2 and len(long.stderr) < 400, long.stderr
