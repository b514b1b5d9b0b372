"""Get and put jobs: data entering or leaving the workspace, in the lineage.

Written by Python through the object API (no tracer: roar itself is the
command and knows exactly what it read and wrote). A get job has no inputs
and the downloaded artifact as its output; a put job has the uploaded
artifacts as inputs and no outputs. The URL is kept in `context.url`.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from roar import sessions
from roar.errors import TransferError, UsageError
from roar.hashing import artifact_of
from roar.objects.job import ArtifactRef, Job
from roar.transfer import Progress, backend_for, location
from roar.workspace import Workspace

STAGING_SUFFIX = ".roar-part"


@dataclass(frozen=True)
class Moved:
    """One artifact that crossed the boundary."""

    path: Path
    hash: str
    size: int
    kind: str  # "file" | "tree"
    url: str
    digests: tuple[tuple[str, str], ...] = ()  # hash.also's, for a file

    def ref(self) -> ArtifactRef:
        return ArtifactRef(os.fsencode(self.path), self.hash, self.size, self.kind, self.digests)


@dataclass(frozen=True)
class Recorded:
    job: str | None  # None on a dry run
    step: str | None
    artifacts: list[Moved]


def artifact_at(path: Path, ws: Workspace | None) -> tuple[str, int, str]:
    """(hash, size, kind) of a file or a directory; a directory's tree is stored in `ws`."""
    found = artifact_of(path)
    if found.tree is not None and ws is not None:
        ws.objects.write(found.tree)
    return found.hash, found.size, found.kind


def _digests(ws: Workspace, path: Path, kind: str) -> tuple[tuple[str, str], ...]:
    """The digests `hash.also` asks for beside BLAKE3, of a file (none for a tree)."""
    from roar.config import extra_digests
    from roar.hashing import file_digests

    return file_digests(path, extra_digests(ws.config)) if kind == "file" else ()


def destination(url: str, dest: str | None) -> Path:
    name = location.basename(url)
    if dest is None:
        if not name:
            raise UsageError(f"cannot name a file after {url}; give a destination")
        return Path.cwd() / name
    path = Path(dest).absolute()
    if path.is_dir() and name:
        return path / name
    return path


def get(
    ws: Workspace,
    url: str,
    dest: str | None = None,
    *,
    expected: str | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> Recorded:
    """Download `url`, check it against `expected`, put it in place, record a get job.

    An existing destination is refused unless `force`; then it is replaced
    only once the new content is downloaded and checked.
    """
    target = destination(url, dest)
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; remove it, give another destination or --force")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(target.name + STAGING_SUFFIX)
    started = time.time_ns()
    backend_for(url, ws.config).download(url, staging, progress)
    if not staging.exists():
        raise TransferError(f"{url} gave no content")
    digest, size, kind = artifact_at(staging, ws)
    if expected is not None and digest != expected.lower():
        # Wrong bytes are not worth resuming: drop them so a retry starts clean.
        _remove(staging)
        raise TransferError(f"{url} holds {digest}, not the expected {expected}; nothing was saved")
    digests = _digests(ws, staging, kind)
    if force and target.is_dir() and not target.is_symlink():
        _remove(target)
    os.replace(staging, target)
    moved = Moved(target, digest, size, kind, location.redact(url), digests)
    argv = [b"roar", b"get", moved.url.encode(), os.fsencode(target)]
    if expected:
        argv += [b"--hash", expected.encode()]
    job = Job(
        type="get",
        argv=tuple(argv),
        cwd=os.fsencode(Path.cwd()),
        started_ns=started,
        ended_ns=time.time_ns(),
        exit_code=0,
        outputs=(moved.ref(),),
        context=_context(ws, moved.url),
    )
    return _append(ws, job, [moved])


def put(
    ws: Workspace,
    paths: list[Path],
    url: str,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Recorded:
    """Upload files or directories to `url` and record a put job reading them."""
    if len(paths) > 1 and not url.endswith("/"):
        url += "/"
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"nothing to put: {', '.join(missing)} does not exist")
    backend = backend_for(url, ws.config)
    started = time.time_ns()
    moved = []
    for path in paths:
        path = path.absolute()
        target = location.join(url, path.name)
        digest, size, kind = artifact_at(path, None if dry_run else ws)
        digests = () if dry_run else _digests(ws, path, kind)
        if not dry_run:
            backend.upload(path, target, progress)
        moved.append(Moved(path, digest, size, kind, location.redact(target), digests))
    if dry_run:
        return Recorded(None, None, moved)
    argv = [b"roar", b"put", *(os.fsencode(m.path) for m in moved), location.redact(url).encode()]
    job = Job(
        type="put",
        argv=tuple(argv),
        cwd=os.fsencode(Path.cwd()),
        started_ns=started,
        ended_ns=time.time_ns(),
        exit_code=0,
        inputs=tuple(sorted((m.ref() for m in moved), key=lambda a: a.path)),
        context=_context(ws, location.redact(url)),
    )
    return _append(ws, job, moved)


def _context(ws: Workspace, url: str) -> dict[str, object]:
    from roar.capture import git

    git_ctx = git.git_context(Path.cwd(), ws.dir)
    return {
        "git": git_ctx,
        "env": None,
        "env_vars": [],
        "session": sessions.active_ref(ws),
        "step": None,  # decided when it is appended
        "params": None,
        "url": url,
    }


def _append(ws: Workspace, job: Job, moved: list[Moved]) -> Recorded:
    # Get and put jobs are run steps: they sit in the pipeline where they happened.
    step = sessions.append(ws, ws.objects.write(job), "run")
    return Recorded(step.job, step.label, moved)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
