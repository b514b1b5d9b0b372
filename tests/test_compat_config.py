"""Every key `roar config list` shows takes effect; roar-cli 0.4.7's keys that mean
nothing here are refused with the reason (docs/roar-cli-compat.md, config)."""

from __future__ import annotations

import json
import subprocess

import pytest

from roar.config import OPTIONS

AWS_KEY = "AKIA" + "ABCDEFGHIJKLMNOP"  # the shape of an AWS access key id


@pytest.mark.parametrize(
    "key, value, reason",
    [
        ("output.verbosity", "quiet", "output.quiet"),
        ("tracer.default", "preload", "one tracer"),
        ("telemetry.enabled", "false", "no telemetry"),
        ("k8s.enabled", "true", "Kubernetes"),
        ("hash.run", "sha256", "hash.also"),
    ],
)
def test_roar_cli_keys_are_refused_with_the_reason(workspace, roar_cli, key, value, reason):  # type: ignore[no-untyped-def]
    refused = roar_cli("config", "set", key, value)
    assert refused.returncode == 2
    assert "roar-cli setting with no meaning in roar" in refused.stderr and reason in refused.stderr


def test_a_roar_cli_config_file_key_is_refused_on_get_too(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    text = workspace.config_path.read_text()  # as roar-cli's config.toml has it
    workspace.config_path.write_text(text.replace("[tracer]\n", '[tracer]\ndefault = "preload"\n'))
    got = roar_cli("config", "get", "tracer.default")
    assert got.returncode == 2 and "one tracer" in got.stderr
    assert roar_cli("config", "get", "no.such").stderr.startswith("error: unknown config key")


def test_hash_primary_is_blake3_and_says_why(workspace, roar_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    refused = roar_cli("config", "set", "hash.primary", "sha256")
    assert refused.returncode == 2 and "b3sum" in refused.stderr
    assert roar_cli("config", "set", "hash.primary", "blake3").returncode == 0
    text = workspace.config_path.read_text()  # a hand-edited (or roar-cli's) file
    workspace.config_path.write_text(text.replace('primary = "blake3"', 'primary = "md5"'))
    ran = roar_cli("run", "python", "-c", "pass")
    assert ran.returncode == 2 and "hash.primary = md5" in ran.stderr


def test_logging_level_debug_shows_the_tracer_run(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    assert "DEBUG" not in roar_cli("run", "python", "-c", "pass").stderr
    assert roar_cli("config", "set", "logging.level", "debug").returncode == 0
    ran = roar_cli("run", "python", "-c", "pass")
    assert ran.returncode == 0 and "roar: DEBUG roar: tracer " in ran.stderr
    assert roar_cli("config", "set", "logging.level", "loud").returncode == 2


def test_registration_omit_enabled_switches_secret_filtering(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    assert roar_cli("run", "python", "-c", "pass", f"--key={AWS_KEY}").returncode == 0
    on = json.loads(roar_cli("register", "--dry-run", "--json").stdout)
    assert on["secrets"] and not on["checklist"][-1]["ok"]
    assert roar_cli("config", "set", "registration.omit.enabled", "false").returncode == 0
    off = roar_cli("register", "--dry-run")
    assert "secret filtering is off" in off.stderr


def test_every_listed_key_is_documented_as_taking_effect() -> None:
    # The keys `roar config list` shows; each has a test above or its own feature's tests.
    assert {o.key for o in OPTIONS} == {
        "output.quiet", "output.track_repo_files", "filters.ignore_system_reads",
        "filters.ignore_package_reads", "filters.ignore_torch_cache", "filters.ignore_tmp_files",
        "filters.ignore_patterns",
        "glaas.url", "glaas.web_url", "scope.current", "registration.omit.enabled",
        "hash.primary", "hash.also", "logging.level", "run.require_clean", "s3.endpoint_url",
        "s3.region", "tracer.path", "store.fsync",
    }  # fmt: skip


def test_track_repo_files_lists_the_repositorys_files_a_job_read(workspace, roar_cli) -> None:  # type: ignore[no-untyped-def]
    # roar-cli 0.4.7: "Include list of repo files read in provenance output" (default
    # false). roar records every input either way; the key adds `repo_files`.
    root = workspace.root
    (root / "train.py").write_text("print(open('data.txt').read())\n")
    (root / "data.txt").write_text("not tracked by git\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for cmd in (["init", "-q"], ["add", "train.py"], ["commit", "-qm", "code"]):
        subprocess.run([*git, *cmd], cwd=root, check=True, capture_output=True)
    assert roar_cli("run", "python", "train.py").returncode == 0
    off = json.loads(roar_cli("show", "@1", "--json").stdout)
    assert "repo_files" not in off and len(off["inputs"]) == 2
    assert roar_cli("config", "set", "output.track_repo_files", "true").returncode == 0
    on = json.loads(roar_cli("show", "@1", "--json").stdout)
    assert on["repo_files"] == ["train.py"] and on["inputs"] == off["inputs"]
    assert "Repo files (1):\n  train.py\n" in roar_cli("show", "@1").stdout
