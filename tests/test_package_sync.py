"""`roar reproduce --package-sync` (issue #16 item 2): the system packages the steps
read, shown, then installed with apt-get only with -y or a confirmation.

Real dpkg and apt-get, never a stand-in: installed packages are asked of dpkg,
and the install itself runs the real apt-get, configured (APT_CONFIG, apt's
own switch) to simulate, so a test never changes the machine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import blake3
import pytest

from roar.errors import ReproduceError
from roar.reproduce.system import plan_sync, sync

if TYPE_CHECKING:
    from reproduce_fixtures import GitProject

pytest_plugins = ["reproduce_fixtures"]
ABSENT = "sl"  # in Debian's archive, installed by nothing the project needs


def installed_version(name: str) -> str | None:
    proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version} ${db:Status-Status}", name],
                          capture_output=True, text=True)  # fmt: skip
    version, _, status = proc.stdout.partition(" ")
    return version if proc.returncode == 0 and status == "installed" else None


@pytest.fixture
def simulating_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """apt-get as it is, told by its own configuration to simulate installs."""
    conf = tmp_path / "apt.conf"
    conf.write_text('APT::Get::Simulate "true";\n')
    monkeypatch.setenv("APT_CONFIG", str(conf))


def test_the_plan_splits_installed_from_missing_and_names_the_command() -> None:
    assert installed_version(ABSENT) is None, f"{ABSENT} is installed here"
    dpkg = installed_version("dpkg")
    assert dpkg is not None
    plan = plan_sync([("dpkg", dpkg), (ABSENT, "5.02-1+b1")])
    assert plan.installed == [("dpkg", dpkg, dpkg)]
    assert plan.missing == [(ABSENT, "5.02-1+b1")]
    assert plan.command is not None
    assert plan.command[-5:-1] == ["apt-get", "install", "-y", "--no-install-recommends"]
    assert plan.command[-1] in (f"{ABSENT}=5.02-1+b1", ABSENT)
    nothing = plan_sync([("dpkg", dpkg)])
    assert nothing.command is None and sync(nothing, yes=False, confirm=lambda: False) == ""


def test_nothing_is_installed_without_yes_or_a_confirmation(simulating_apt) -> None:  # type: ignore[no-untyped-def]
    plan = plan_sync([(ABSENT, "")])
    asked = []
    with pytest.raises(ReproduceError, match="not installed \\(confirm on a terminal, or pass -y"):
        sync(plan, yes=False, confirm=lambda: asked.append(1) or False)
    assert asked == [1] and installed_version(ABSENT) is None


@pytest.mark.parametrize("how", ["yes", "confirmed"])
def test_yes_or_a_confirmation_runs_apt_get(simulating_apt, how: str) -> None:  # type: ignore[no-untyped-def]
    plan = plan_sync([(ABSENT, "")])
    out = sync(plan, yes=how == "yes", confirm=lambda: how == "confirmed")
    assert f"Inst {ABSENT} " in out  # apt-get's own report of the install
    assert installed_version(ABSENT) is None  # simulated: the machine is unchanged


def test_a_recorded_name_that_is_an_option_is_refused() -> None:
    for name, version in (("--allow-downgrades", ""), ("libc6", "1; rm -rf /")):
        with pytest.raises(ReproduceError, match="not a Debian package name"):
            plan_sync([(name, version)])


def test_package_sync_shows_the_system_packages_a_step_read(
    roar_cli, git_project: GitProject
) -> None:  # type: ignore[no-untyped-def]
    # given: a step that ran Python (which reads the C library)
    git_project.commit({"step.py": "open('out.txt', 'w').write('x')\n"})
    root = git_project.root
    assert roar_cli("init", "-n", cwd=root).returncode == 0
    assert roar_cli("run", "python", "step.py", cwd=root).returncode == 0
    made = blake3.blake3((root / "out.txt").read_bytes()).hexdigest()
    # when: the plan with --package-sync, here where they are installed
    r = roar_cli("reproduce", made, "--package-sync", cwd=root)
    # then: they are listed as installed, and nothing is asked or run
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("system packages read"))
    total, here = line.split(": ", 1)[1].split(", ")
    assert int(total) >= 1 and here == f"{total} installed here"
    assert "nothing to install" in r.stdout
    listed = roar_cli("reproduce", made, "--package-sync", "--json", cwd=root)
    sync_json = json.loads(listed.stdout)["system_sync"]
    assert "libc6" in {p["name"] for p in sync_json["installed"]}
    assert sync_json["missing"] == [] and sync_json["command"] is None
