"""The interpreter a reproduction runs its steps with.

Decision (docs/reproduce.md): when an interpreter of the recorded version
already has every recorded package at its recorded version, it is reused
as is; installing the same versions into a new venv would give the same
bytes, only slower. Otherwise a venv is created with that interpreter and
the packages are installed at their exact versions (`--pip-any-version`
relaxes that). Steps find the chosen interpreter first on PATH, as in an
activated venv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from roar.errors import ReproduceError
from roar.reproduce.plan import Interpreter

# Tools of the venv itself: a venv always has its own, and reinstalling them
# at another version is never what made an artifact differ.
VENV_TOOLS = {"pip", "setuptools", "wheel"}
# Recorded names and versions reach pip's command line: a name like
# a leading `--` would make it an option to pip, so only what PEP 508 / PEP 440
# allow passes.
_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_PYTHON_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)(\.[0-9]+)?[A-Za-z0-9.+-]*$")


def check_requirement(name: str, version: str) -> None:
    """Refuse (ReproduceError) a recorded package that is not a package name and version."""
    if not _NAME.match(name) or not _VERSION.match(version):
        from roar.display import printable

        raise ReproduceError(
            f"the recorded package {printable(name)}=={printable(version)} is not a package "
            "name and version; it is not installed"
        )


def python_command(version: str) -> str:
    """`pythonX.Y` for a recorded interpreter version; ReproduceError when it is not one."""
    m = _PYTHON_VERSION.match(version)
    if m is None:
        from roar.display import printable

        raise ReproduceError(f"the recorded Python version {printable(version)!r} is not a version")
    return f"python{m.group(1)}.{m.group(2)}"


@dataclass(frozen=True)
class Prepared:
    mode: str  # "none" (no Python recorded) | "reuse" | "venv"
    python: Path | None
    bin_dir: Path | None  # goes first on the steps' PATH
    note: str


def probe(python: Path) -> dict | None:  # type: ignore[type-arg]
    """What `python` says of itself and has installed (`version`, `packages`...),
    asked the way `roar run` asks it (`roar-tracer python-env`); None if it
    cannot be run."""
    from roar.capture.tracer import TracerFailed, ask

    try:
        return ask(["python-env", str(python)], timeout=60)  # type: ignore[no-any-return]
    except TracerFailed:
        return None


def installed(python: Path) -> dict[str, str]:
    info = probe(python)
    if info is None:
        return {}
    return {name: version for name, version in info["packages"]}


def find_interpreter(recorded: Interpreter) -> tuple[Path | None, str]:
    """An interpreter of the recorded version: the recorded one, else one on PATH."""
    command = python_command(recorded.version)
    major_minor = command.removeprefix("python")
    candidates = [Path(recorded.executable)]
    for name in (command, "python3", "python"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    fallback = None
    for c in candidates:
        info = probe(c) if c.exists() else None
        if info is None:
            continue
        if info["version"] == recorded.version:
            return c, f"Python {recorded.version} at {c}"
        if fallback is None and info["version"].startswith(major_minor + "."):
            fallback = (c, f"Python {info['version']} at {c} (recorded {recorded.version})")
    if fallback is not None:
        return fallback
    return None, f"no Python {major_minor} on this machine (recorded {recorded.version})"


def unsatisfied(python: Path, packages: list[tuple[str, str]]) -> list[tuple[str, str]]:
    have = installed(python)
    return [(n, v) for n, v in packages if have.get(n) != v and n not in VENV_TOOLS]


def prepare(
    recorded: Interpreter | None,
    packages: list[tuple[str, str]],
    directory: Path,
    *,
    any_version: bool = False,
    log: Path | None = None,
) -> Prepared:
    if recorded is None:
        return Prepared("none", None, None, "no Python recorded: steps use this machine's tools")
    python, found = find_interpreter(recorded)
    if python is None:
        raise ReproduceError(f"{found}; install it (e.g. with pyenv or uv) and run again")
    if not unsatisfied(python, packages):
        return Prepared("reuse", python, python.parent, f"reusing {found}: all "
                        f"{len(packages)} recorded packages are installed there")  # fmt: skip
    venv = directory / ".venv"
    if (venv / "bin" / "python").exists() and not unsatisfied(venv / "bin" / "python", packages):
        # A resumed reproduction: the venv it made before has everything.
        return Prepared("venv", venv / "bin" / "python", venv / "bin", f"reusing {venv}")
    _run([str(python), "-m", "venv", str(venv)], "create a virtual environment", log)
    wanted = [(n, v) for n, v in packages if n not in VENV_TOOLS]
    for n, v in wanted:
        check_requirement(n, v)
    specs = [n if any_version else f"{n}=={v}" for n, v in wanted]
    if specs:
        _run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
             "--no-input", "-q", *specs],
            "install the recorded packages", log,
        )  # fmt: skip
    note = f"new venv {venv} with {found}, {len(specs)} packages installed"
    return Prepared("venv", venv / "bin" / "python", venv / "bin", note)


_PYTHON_NAME = re.compile(rb"^python([0-9](\.[0-9]+)?)?$")


def interpreter_argv(
    argv: list[bytes], cwd: bytes, recorded: str | None, prepared: Prepared
) -> list[bytes]:
    """`argv` with the recorded interpreter replaced by the reproduction's.

    The step ran `recorded` (its env's python.executable) however it was typed:
    `.venv/bin/python` or `../.venv-ml/bin/python` relative to the recorded `cwd`,
    an absolute path, or `python` found on PATH. Inside the reproduction that
    path names nothing (the venv is elsewhere, or gone), so it runs the prepared
    interpreter instead. Any other command is left as it is.
    """
    if not argv or recorded is None or prepared.python is None:
        return argv
    first = argv[0]
    if b"/" in first:
        typed = os.path.normpath(os.path.join(os.fsdecode(cwd), os.fsdecode(first)))
        base = os.fsdecode(cwd) if not os.path.isabs(recorded) else ""
        if typed != os.path.normpath(os.path.join(base, recorded)):
            return argv
    elif not _PYTHON_NAME.match(first):
        return argv
    return [os.fsencode(prepared.python), *argv[1:]]


def _run(argv: list[str], what: str, log: Path | None) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ})
    if log is not None:
        with open(log, "a") as f:
            f.write(f"$ {' '.join(argv)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "No matching distribution" in ln), None)
        reason = reason or next((ln for ln in reversed(lines) if ln.startswith("ERROR")), None)
        raise ReproduceError(
            f"cannot {what}: {reason or (lines[-1] if lines else f'exit {proc.returncode}')}"
            " (use --pip-any-version to accept other versions)"
        )


def system_packages(filtered: list[bytes]) -> list[tuple[str, str]]:
    """The dpkg packages owning the system files the steps read, as known here."""
    from roar.capture.packages import dpkg_packages_read

    return dpkg_packages_read(filtered)


def missing_system_files(filtered: list[bytes]) -> list[str]:
    """System files the steps read that this machine lacks (a system package is missing)."""
    prefixes = (b"/usr/", b"/lib/", b"/lib64/", b"/bin/", b"/sbin/", b"/opt/")
    return sorted(
        os.fsdecode(p) for p in set(filtered) if p.startswith(prefixes) and not os.path.exists(p)
    )
