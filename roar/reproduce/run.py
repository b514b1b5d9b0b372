"""Running a plan: clone, prepare, place inputs, re-run each step under `roar run`, verify.

The reproduction lives in its own directory with its own workspace, so the
new jobs are recorded there and compared, artifact by artifact, with the
recorded ones. Anything that stops a reproduction before its steps ran
removes the directory; a failed step leaves it, named as incomplete.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roar.display import printable
from roar.errors import ReproduceError
from roar.objects.blob import Blob
from roar.objects.job import Job
from roar.objects.session import Session
from roar.reproduce import checkout, environment
from roar.reproduce.plan import Plan, PlannedStep, RootInput
from roar.workspace import Workspace


@dataclass(frozen=True)
class ArtifactCheck:
    step: str
    path: str  # in the reproduction directory
    expected: str
    actual: str | None  # None: the step did not write it

    @property
    def identical(self) -> bool:
        return self.actual == self.expected


@dataclass
class Result:
    directory: Path
    env: environment.Prepared
    checks: list[ArtifactCheck] = field(default_factory=list)
    first_divergence: PlannedStep | None = None
    seconds: float = 0.0

    @property
    def identical(self) -> bool:
        return all(c.identical for c in self.checks)

    def to_json(self) -> dict[str, object]:
        d = self.first_divergence
        return {
            "directory": str(self.directory),
            "identical": self.identical,
            "environment": {"mode": self.env.mode, "note": self.env.note},
            "artifacts": [
                {"step": c.step, "path": c.path, "expected": c.expected, "actual": c.actual,
                 "identical": c.identical}
                for c in self.checks
            ],
            "first_divergence": None if d is None else {"step": d.label, "job": d.job,
                                                        "command": d.command},
            "seconds": round(self.seconds, 3),
        }  # fmt: skip


class Relocation:
    """Recorded paths under the recorded repository, moved into the new directory."""

    def __init__(self, old_root: str | None, new_root: Path):
        self.old = os.fsencode(old_root.rstrip("/")) if old_root else None
        self.new = os.fsencode(new_root)

    def path(self, recorded: bytes) -> bytes:
        if self.old and (recorded == self.old or recorded.startswith(self.old + b"/")):
            return self.new + recorded[len(self.old) :]
        return recorded

    def inside(self, recorded: bytes) -> Path:
        """Where reproduce may write `recorded`: inside the new directory, or ReproduceError."""
        from roar.reproduce.containment import safe_path, under

        rel = under(os.fsdecode(self.old), recorded) if self.old else None
        if rel is None:
            raise ReproduceError(
                f"refused: {printable(recorded)} is outside the repository and the directory"
            )
        return safe_path(Path(os.fsdecode(self.new)), rel)

    def arg(self, arg: bytes) -> bytes:
        # Absolute paths into the old work tree, alone or in --k=/path, must not
        # make a reproduction read or overwrite the original files.
        return arg.replace(self.old + b"/", self.new + b"/") if self.old else arg


RESUME = " (the same command resumes it; --clean starts over)"
MARKER = "reproduce.json"  # in <dir>/.roar/: what this directory is a reproduction of


def reproduce(
    ws: Workspace,
    plan: Plan,
    directory: Path,
    *,
    any_version: bool = False,
    package_sync: bool = False,
    say: Callable[[str], None] = lambda _: None,
    step_timeout: float | None = None,
    clean: bool = False,
) -> Result:
    """Run `plan` in `directory`. A directory a failed reproduction of the same plan
    left is resumed (steps that finished are not run again); `clean` starts it over."""
    started = time.monotonic()
    _refuse_unrunnable(plan, directory, package_sync)
    done = _resumable(plan, directory, clean, say)
    relocate = Relocation(plan.source.repo if plan.source else None, directory)
    try:
        prepared = _set_up(ws, plan, directory, relocate, any_version, say, done is not None)
    except BaseException:
        if done is None:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    done = done or {}
    result = Result(directory, prepared)
    env = _step_env(prepared)
    new_ws = Workspace(directory)
    for step in plan.steps:
        if step.job in done and new_ws.objects.contains(done[step.job]):
            say(f"== {step.label} done before: not run again")
            job = new_ws.objects.read_kind(done[step.job], Job)
        else:
            say(f"== {step.label} {step.command}")
            job = _run_step(step, relocate, env, new_ws, step_timeout, prepared)
            done[step.job] = _job_id(new_ws)
            _write_marker(plan, directory, done)
        checks = _compare(step, job, relocate, directory)
        result.checks.extend(checks)
        if result.first_divergence is None and not all(c.identical for c in checks):
            result.first_divergence = step
    result.seconds = time.monotonic() - started
    return result


def _refuse_unrunnable(plan: Plan, directory: Path, package_sync: bool) -> None:
    if plan.outside:
        raise ReproduceError(
            f"refused: the plan would not stay inside {directory}: " + "; ".join(plan.outside)
        )
    if plan.missing:
        listed = ", ".join(f"{os.fsdecode(i.path)} ({i.hash[:12]})" for i in plan.missing)
        raise ReproduceError(
            f"missing input{'s' if len(plan.missing) > 1 else ''}: {listed}; put a copy anywhere "
            "in this workspace (or pass --inputs DIR) and run again"
        )
    if plan.source is None and plan.steps:
        raise ReproduceError("the steps were not recorded in a git repository; nothing to clone")
    if not plan.steps:
        raise ReproduceError("no run or build step wrote this artifact; nothing to re-run")
    if package_sync:
        missing = environment.missing_system_files([p for s in plan.steps for p in s.filtered])
        if missing:
            raise ReproduceError(
                "system files the steps read are missing here (install the packages that provide "
                f"them): {', '.join(missing)}"
            )


def _marker_value(plan: Plan) -> dict[str, object]:
    assert plan.source is not None
    return {"target": plan.target, "commit": plan.source.commit,
            "patch": plan.source.patch, "steps": [s.job for s in plan.steps]}  # fmt: skip


def _write_marker(plan: Plan, directory: Path, done: dict[str, str]) -> None:
    import json

    from roar.atomic import write_atomic

    value = {**_marker_value(plan), "done": done}
    write_atomic(directory / ".roar" / MARKER, json.dumps(value, indent=1).encode())


def _resumable(
    plan: Plan, directory: Path, clean: bool, say: Callable[[str], None]
) -> dict[str, str] | None:
    """None: start in a new (or empty) directory. Else the steps a failed reproduction
    of this same plan finished there ({recorded job: new job}), to resume from."""
    import json

    if not directory.exists() or not any(directory.iterdir()):
        return None
    try:
        marker = json.loads((directory / ".roar" / MARKER).read_text())
    except (OSError, ValueError):
        marker = None
    if not isinstance(marker, dict):
        raise ReproduceError(
            f"{directory} already exists and is not a reproduction roar started; pass another --dir"
        )
    if clean:
        say(f"== --clean: removing {directory}")
        shutil.rmtree(directory)
        return None
    if {k: marker.get(k) for k in _marker_value(plan)} != _marker_value(plan):
        raise ReproduceError(
            f"{directory} holds a reproduction of another plan; pass --clean to start over "
            "there, or another --dir"
        )
    done = marker.get("done")
    done = {k: v for k, v in done.items() if isinstance(k, str) and isinstance(v, str)} if (
        isinstance(done, dict)) else {}  # fmt: skip
    say(f"== resuming the reproduction in {directory} ({len(done)} step(s) done before)")
    return done


def _job_id(ws: Workspace) -> str:
    from roar import sessions

    head = ws.refs.read(sessions.active_ref(ws))
    assert head is not None
    return ws.objects.read_kind(head, Session).job


def _set_up(
    ws: Workspace,
    plan: Plan,
    directory: Path,
    relocate: Relocation,
    any_version: bool,
    say: Callable[[str], None],
    resume: bool = False,
) -> environment.Prepared:
    assert plan.source is not None
    if not resume:
        say(f"== clone {plan.source.url} at {plan.source.commit[:12]} into {directory}")
        checkout.clone_at(plan.source.url, plan.source.commit, directory)
        if plan.source.patch:
            blob = ws.objects.read_kind(plan.source.patch, Blob)
            changed = checkout.apply_patch(directory, blob.data)
            say(f"== applied the recorded patch to {', '.join(changed)}")
        Workspace.create(directory)
        _keep_roar_out_of_git(directory)
        _write_marker(plan, directory, {})
    _place_inputs(plan.inputs, relocate, directory, say)
    prepared = environment.prepare(
        plan.python, plan.packages, directory, any_version=any_version,
        log=directory / ".roar" / "reproduce-setup.log",
    )  # fmt: skip
    say(f"== environment: {prepared.note}")
    return prepared


def _keep_roar_out_of_git(directory: Path) -> None:
    # The new .roar/ and .venv/ must not count as changes to the checked-out commit.
    exclude = directory / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with open(exclude, "a") as f:
        f.write("\n.roar/\n.venv/\n")


def _place_inputs(
    inputs: list[RootInput], relocate: Relocation, directory: Path, say: Callable[[str], None]
) -> None:
    from roar.hashing import hash_matches

    fetched: set[str] = set()
    for ri in inputs:
        dest = Path(os.fsdecode(relocate.path(ri.path)))
        if hash_matches(dest, ri.hash):
            continue
        dest = relocate.inside(ri.path)
        if ri.status == "repository":
            raise ReproduceError(
                f"input {os.fsdecode(ri.path)} ({ri.hash[:12]}) is not in the repository at the "
                "commit (an untracked file?); put a copy in this workspace and run again"
            )
        if ri.status == "available" and ri.found is not None:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ri.found, dest)
            say(f"== placed {ri.found} -> {dest.relative_to(directory)}")
        elif ri.status == "obtainable" and ri.getter is not None:
            if ri.getter.job in fetched:
                continue
            fetched.add(ri.getter.job)
            where = os.fsdecode(relocate.inside(ri.getter.path))
            say(f"== roar get {ri.getter.url}")
            proc = subprocess.run(
                [sys.executable, "-m", "roar", "get", "-q", ri.getter.url, where,
                 "--hash", ri.getter.hash],
                cwd=directory, capture_output=True, text=True,
            )  # fmt: skip
            if proc.returncode != 0:
                raise ReproduceError(
                    f"cannot obtain input {os.fsdecode(ri.path)}: {proc.stderr.strip()}"
                )
        else:
            raise ReproduceError(f"input {os.fsdecode(ri.path)} ({ri.hash[:12]}) is missing")


def _step_env(prepared: environment.Prepared) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ROAR_WORKSPACE", "VIRTUAL_ENV")}
    if prepared.bin_dir is not None:
        env["PATH"] = f"{prepared.bin_dir}{os.pathsep}{env.get('PATH', '')}"
        if prepared.mode == "venv":
            env["VIRTUAL_ENV"] = str(prepared.bin_dir.parent)
    return env


def _run_step(
    step: PlannedStep,
    relocate: Relocation,
    env: dict[str, str],
    ws: Workspace,
    timeout: float | None = None,
    prepared: environment.Prepared | None = None,
) -> Job:
    from roar import sessions

    argv = [relocate.arg(a) for a in step.argv]
    if prepared is not None:
        mapped = environment.interpreter_argv(list(step.argv), step.cwd, step.python, prepared)
        if mapped[:1] != list(step.argv[:1]):
            argv[0] = mapped[0]
    cwd = Path(os.fsdecode(relocate.path(step.cwd)))
    before = ws.refs.read(sessions.active_ref(ws))
    # With a timeout the step gets its own process group, so that every
    # process it started can be killed together when time is up.
    proc = subprocess.Popen(
        [os.fsencode(sys.executable), b"-m", b"roar", step.type.encode(), b"-q", *argv],
        cwd=cwd, env=env, stdout=sys.stderr.fileno(), start_new_session=timeout is not None,
    )  # fmt: skip
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        import signal

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise ReproduceError(
            f"step {step.label} ({step.command}) ran past --step-timeout {timeout:g}s and was "
            f"killed with its processes; {ws.root} is incomplete and is not a reproduction"
            f"{RESUME}"
        ) from None
    head = ws.refs.read(sessions.active_ref(ws))
    if proc.returncode != 0 or head == before or head is None:
        raise ReproduceError(
            f"step {step.label} ({step.command}) exited with code {proc.returncode}; "
            f"{ws.root} is incomplete and is not a reproduction{RESUME}"
        )
    return ws.objects.read_kind(ws.objects.read_kind(head, Session).job, Job)


def _compare(step: PlannedStep, job: Job, relocate: Relocation, root: Path) -> list[ArtifactCheck]:
    produced = {a.path: a.hash for a in job.outputs}
    checks = []
    for art in step.outputs:
        path = relocate.path(art.path)
        shown = os.fsdecode(path)
        if shown.startswith(str(root) + "/"):
            shown = shown[len(str(root)) + 1 :]
        checks.append(ArtifactCheck(step.label, shown, art.hash, produced.get(path)))
    return checks
