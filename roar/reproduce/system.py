"""`roar reproduce --package-sync`: the system packages the steps read, installed with
apt-get on Debian and Ubuntu after they are shown.

What is installed here is asked of dpkg (`dpkg-query`), whether a recorded
version can be had of apt (`apt-cache show NAME=VERSION`): a version apt
still offers is installed exactly, another is installed at apt's version
and said so. Nothing is installed without `-y` or a confirmation on a
terminal; on another system the packages are named and nothing is run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from roar.errors import ReproduceError

# Debian policy: package names are [a-z0-9][a-z0-9+.-]+; versions [epoch:]upstream[-revision].
_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_VERSION = re.compile(r"^[0-9A-Za-z.+~:-]+$")


@dataclass(frozen=True)
class AptPlan:
    installed: list[tuple[str, str, str]]  # (name, recorded version, version here)
    missing: list[tuple[str, str]]  # (name, recorded version): not installed here
    specs: list[str] = field(default_factory=list)  # apt-get arguments: NAME=VERSION or NAME
    other_version: list[str] = field(default_factory=list)  # names apt has at another version

    @property
    def command(self) -> list[str] | None:
        """The command that installs the missing packages; None when nothing is missing."""
        if not self.specs:
            return None
        sudo = ["sudo"] if os.geteuid() != 0 and shutil.which("sudo") else []
        return [*sudo, "apt-get", "install", "-y", "--no-install-recommends", *self.specs]

    def to_json(self) -> dict[str, object]:
        return {
            "installed": [{"name": n, "recorded": r, "here": h} for n, r, h in self.installed],
            "missing": [{"name": n, "version": v} for n, v in self.missing],
            "command": self.command,
        }


def debian_like() -> str | None:
    """None on Debian, Ubuntu and their derivatives with apt-get; else what this is."""
    fields: dict[str, str] = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, _, value = line.strip().partition("=")
                fields[key] = value.strip('"')
    except OSError:
        pass
    family = f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".split()
    if ("debian" in family or "ubuntu" in family) and shutil.which("apt-get"):
        return None
    return fields.get("PRETTY_NAME") or os.uname().sysname


def plan_sync(packages: list[tuple[str, str]]) -> AptPlan:
    """Which of `packages` (dpkg name, recorded version) are installed here, and the
    apt-get arguments that install the others. ReproduceError for a recorded name or
    version that is not one (it would reach apt-get's command line)."""
    from roar.display import printable

    for name, version in packages:
        if not _NAME.match(name) or (version and not _VERSION.match(version)):
            raise ReproduceError(
                f"the recorded system package {printable(name)}={printable(version)} is not a "
                "Debian package name and version; nothing is installed"
            )
    here = _installed([n for n, _ in packages])
    installed = [(n, v, here[n]) for n, v in packages if n in here]
    missing = [(n, v) for n, v in packages if n not in here]
    specs, other = [], []
    for name, version in missing:
        if version and _apt_has(name, version):
            specs.append(f"{name}={version}")
        else:
            specs.append(name)
            other.append(name)
    return AptPlan(installed, missing, specs, other)


def _installed(names: list[str]) -> dict[str, str]:
    """name -> version for those of `names` dpkg has installed."""
    if not names or shutil.which("dpkg-query") is None:
        return {}
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}\t${Version}\t${db:Status-Status}\n", "--", *names],
        capture_output=True, text=True,
    )  # fmt: skip
    out: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] == "installed":
            out[parts[0].split(":", 1)[0]] = parts[1]
    return out


def _apt_has(name: str, version: str) -> bool:
    if shutil.which("apt-cache") is None:
        return False
    proc = subprocess.run(["apt-cache", "show", "--", f"{name}={version}"], capture_output=True)
    return proc.returncode == 0


def sync(plan: AptPlan, *, yes: bool, confirm) -> str:  # type: ignore[no-untyped-def]
    """Install what `plan` lists as missing: with `yes`, or when `confirm()` (asked only
    on a terminal) says so. Returns apt-get's output; ReproduceError when not confirmed,
    on a system without apt, or when apt-get fails (with its reason)."""
    command = plan.command
    if command is None:
        return ""
    other = debian_like()
    if other is not None:
        raise ReproduceError(
            f"--package-sync installs with apt-get on Debian and Ubuntu; this is {other}. "
            f"Install these yourself: {' '.join(plan.specs)}"
        )
    if command[0] == "apt-get" and os.geteuid() != 0:
        raise ReproduceError(
            f"installing system packages needs root (no sudo here): {' '.join(command)}"
        )
    if not yes and not confirm():
        raise ReproduceError(
            "system packages not installed (confirm on a terminal, or pass -y): "
            + " ".join(command)
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        reason = next((ln for ln in lines if ln.startswith("E:")), lines[-1] if lines else "")
        raise ReproduceError(f"apt-get could not install the system packages: {reason}")
    return proc.stdout
