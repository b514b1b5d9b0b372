"""The code of a reproduction: a dulwich clone at the recorded commit, plus its patch.

Every failure here is a ReproduceError that says which of the three went
wrong (the repository cannot be reached, the commit is gone, the patch does
not apply), and leaves no directory behind.
"""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

from roar.errors import ReproduceError

_LOCAL = re.compile(r"^(/|file://|\./|\.\./)")


def blob_at(url: str, commit: str, rel: bytes) -> bytes | bool | None:
    """The file `rel` at `commit` of a repository on this machine.

    False when the commit has no such file; None when that cannot be told
    without a clone (a network URL, or a commit this copy lacks).
    """
    if not _LOCAL.match(url):
        return None
    from dulwich.errors import NotGitRepository
    from dulwich.object_store import tree_lookup_path
    from dulwich.repo import Repo

    path = url[len("file://") :] if url.startswith("file://") else url
    try:
        with Repo(path) as repo:
            if commit.encode() not in repo.object_store:
                return None
            tree = repo[commit.encode()].tree  # type: ignore[attr-defined]
            try:
                _, sha = tree_lookup_path(repo.object_store.__getitem__, tree, rel)
            except KeyError:
                return False
            return repo[sha].as_raw_string()  # type: ignore[no-any-return]
    except (NotGitRepository, OSError):
        return None


def clone_at(url: str, commit: str, target: Path) -> None:
    """Clone `url` into `target` (which must not exist) with `commit` checked out."""
    from dulwich import porcelain
    from dulwich.index import build_index_from_tree

    try:
        repo = porcelain.clone(url, str(target), checkout=False, errstream=io.BytesIO())
    except (
        Exception
    ) as e:  # dulwich raises many kinds (OSError, HangupException, GitProtocolError...)
        shutil.rmtree(target, ignore_errors=True)
        raise ReproduceError(
            f"cannot clone the repository {url}: {_reason(e)}; check that it still exists "
            "and that this machine can reach it"
        ) from None
    try:
        if commit.encode() not in repo.object_store:
            raise ReproduceError(
                f"commit {commit[:12]} no longer exists in {url} (was the branch rewritten or "
                "deleted?); push it back, or reproduce from a copy of the repository that has it"
            )
        # A detached HEAD at the commit, then index and files written from its tree.
        porcelain.update_head(repo, commit, detached=True)
        build_index_from_tree(
            repo.path, repo.index_path(), repo.object_store, repo[commit.encode()].tree
        )
    except BaseException:
        repo.close()
        shutil.rmtree(target, ignore_errors=True)
        raise
    repo.close()


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{e.__class__.__name__}: {text}" if text else e.__class__.__name__


def apply_patch(root: Path, patch: bytes) -> list[str]:
    """Apply a recorded `git diff` to the work tree; the files it changed.

    dulwich writes diffs but does not apply them, so this applies the
    unified hunks itself, refusing (not guessing) when context differs, and
    refusing any path that would not stay inside `root` (containment.py).
    """
    from roar.reproduce.containment import safe_path

    files = _files(patch)
    for old, new, _ in files:  # every path checked before any file is touched
        for rel in (old, new):
            if rel is not None:
                safe_path(root, rel)
    changed = []
    for old, new, hunks in files:
        rel = new if new is not None else old
        assert rel is not None
        path = safe_path(root, rel)
        if new is None:
            path.unlink(missing_ok=True)
            changed.append(os.fsdecode(rel))
            continue
        lines = path.read_bytes().splitlines(keepends=True) if old is not None else []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(_apply(lines, hunks, rel)))
        changed.append(os.fsdecode(rel))
    return changed


_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def patch_files(patch: bytes) -> list[tuple[bytes | None, bytes | None]]:
    """(old path, new path) of each file a recorded patch touches; None is /dev/null."""
    return [(old, new) for old, new, _ in _files(patch)]


def _files(patch: bytes) -> list[tuple[bytes | None, bytes | None, list[list[bytes]]]]:
    files: list[tuple[bytes | None, bytes | None, list[list[bytes]]]] = []
    old: bytes | None = None
    lines = patch.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(b"--- "):
            name = line[4:].rstrip(b"\r\n").split(b"\t")[0]
            old = None if name == b"/dev/null" else name[2:] if name[:2] == b"a/" else name
        elif line.startswith(b"+++ "):
            name = line[4:].rstrip(b"\r\n").split(b"\t")[0]
            new = None if name == b"/dev/null" else name[2:] if name[:2] == b"b/" else name
            files.append((old, new, []))
        elif line.startswith(b"@@"):
            files[-1][2].append([line])
        elif files and files[-1][2] and line[:1] in (b" ", b"-", b"+", b"\\"):
            files[-1][2][-1].append(line)
        elif line.startswith(b"Binary files"):
            raise ReproduceError("the recorded patch changes a binary file; it cannot be applied")
        i += 1
    return files


def _apply(lines: list[bytes], hunks: list[list[bytes]], rel: bytes) -> list[bytes]:
    out: list[bytes] = []
    pos = 0
    for hunk in hunks:
        m = _HUNK.match(hunk[0])
        if m is None:
            raise ReproduceError(f"the recorded patch of {os.fsdecode(rel)} is malformed")
        start = int(m.group(1)) - (0 if m.group(2) == b"0" else 1)
        out.extend(lines[pos:start])
        pos = start
        body = hunk[1:]
        for k, line in enumerate(body):
            tag, text = line[:1], line[1:]
            if tag == b"\\":
                continue  # "\ No newline at end of file": strip the previous line's newline
            if k + 1 < len(body) and body[k + 1].startswith(b"\\"):
                text = text.rstrip(b"\n")
            if tag in (b" ", b"-"):
                if pos >= len(lines) or lines[pos].rstrip(b"\n") != text.rstrip(b"\n"):
                    raise ReproduceError(
                        f"the recorded patch does not apply to {os.fsdecode(rel)} at the commit"
                    )
                if tag == b" ":
                    out.append(lines[pos])
                pos += 1
            elif tag == b"+":
                out.append(text)
    out.extend(lines[pos:])
    return out
