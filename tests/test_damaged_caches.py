"""Damaged local caches (issue #11 item 16): derived data is rebuilt when it cannot be
read, and fsck lists every problem instead of stopping at the first."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import PIPELINE, run_pipeline


def _ok(roar_cli, *args: str):  # type: ignore[no-untyped-def]
    result = roar_cli(*args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def test_fsck_lists_every_problem_with_a_truncated_pack_index(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    # given: a packed store whose index is cut short, plus two other problems
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    _ok(roar_cli, "gc")
    (index,) = (project / ".roar/objects/pack").glob("*.idx")
    index.write_bytes(index.read_bytes()[:100])
    label = project / ".roar/refs/labels" / ("a" * 64)
    label.write_text("not an id\n")
    loose = project / ".roar/objects/ab" / ("c" * 62)
    loose.parent.mkdir()
    loose.write_bytes(b"not a zstd frame")
    # when: fsck runs
    result = roar_cli("fsck", "--json")
    # then: it lists all three and exits 1, not 5
    assert result.returncode == 1, result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert len(problems) == 3, problems
    assert problems[0] == (
        f"pack index {index.name} is damaged (the next command that reads the store "
        "rebuilds it from its pack)"
    )
    assert problems[1] == f"object ab{'c' * 62} is corrupt: not a zstd frame"
    assert problems[2].startswith(f"ref refs/labels/{'a' * 64} is damaged")
    # and the next command rebuilds the index from its pack
    assert [line.split()[1] for line in _ok(roar_cli, "log").stdout.splitlines()[5:]] == [
        "@1", "@2", "@3",
    ]  # fmt: skip
    problems = json.loads(roar_cli("fsck", "--json").stdout)["problems"]
    assert len(problems) == 2 and not any("pack index" in p for p in problems)


def test_a_garbage_session_index_is_rebuilt_and_fsck_reports_it(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    (project / ".roar/index.sqlite").write_bytes(b"garbage, not SQLite" * 100)
    fsck = roar_cli("fsck")
    assert fsck.returncode == 1
    assert (
        "error: derived cache .roar/index.sqlite is unreadable (file is not a database); "
        "the next command that needs it rebuilds it (or delete it)\n"
    ) in fsck.stderr
    log = _ok(roar_cli, "log")
    assert [line.split()[1] for line in log.stdout.splitlines()[5:]] == ["@1", "@2", "@3"]
    shown = json.loads(_ok(roar_cli, "show", "model.pt", "--json").stdout)
    assert shown["produced_by"]["step"] == "@2"
    assert _ok(roar_cli, "fsck").stdout.endswith(": ok\n")


def test_a_garbage_steps_cache_is_rebuilt_from_the_chain(roar_cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    _ok(roar_cli, "init", "-n")
    run_pipeline(roar_cli)
    cache = project / ".roar/cache/steps/refs/sessions/main"
    cache.write_text("roar-steps 1\nhead zzz\n")
    assert "derived cache .roar/cache/steps" not in roar_cli("fsck").stderr  # header is fine
    cache.write_text("garbage")
    assert "derived cache .roar/cache/steps/refs/sessions/main" in roar_cli("fsck").stderr
    # the same command still re-runs its step, and a new one still gets the next number
    assert "(re-run of @2)" in _ok(roar_cli, "run", *PIPELINE[1].split()).stderr
    assert _ok(roar_cli, "run", "python", "-c", "pass").stderr.startswith("roar: @4 ")
    assert _ok(roar_cli, "fsck").returncode == 0
