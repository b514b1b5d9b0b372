"""What a name means (docs/lineage.md §7): every command's targets, resolved once.

Like git's rev-parse: `@N`/`@BN`/`HEAD`, a path, a session name, or a hash
prefix of at least 8 hex digits. A file's other digests name it too:
`sha256:<hex>` (also `md5:`, `sha512:`, and `blake3:` for BLAKE3 only, each
taking a prefix of 8+ digits), or a bare digest of its full length (32 hex
digits: md5, 64: BLAKE3 or sha256, 128: sha512). A name that fits a path
and something else, or a prefix that fits several ids, is refused with the
candidates; a name that fits nothing says what was tried.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from roar.errors import Ambiguous, NotFound, UsageError
from roar.lineage.chain import find_step
from roar.lineage.source import LineageSource, Step
from roar.objects.job import DIGEST_ALGORITHMS

MIN_PREFIX = 8
MAX_LISTED = 10
# The longest target looked up: a path longer than PATH_MAX (4096 bytes on Linux)
# cannot be opened, and no ref name or hash is as long, so nothing is tried.
MAX_TARGET = 4096
SHOWN = 80  # characters of a target echoed in a message
HEX = frozenset("0123456789abcdef")
ALGORITHMS = ("blake3", *DIGEST_ALGORITHMS)


def split_digest(text: str) -> tuple[str | None, str]:
    """`sha256:<hex>` -> ("sha256", "<hex>") for a known algorithm (any case);
    anything else -> (None, text)."""
    algorithm, sep, rest = text.partition(":")
    if sep and algorithm.lower() in ALGORITHMS:
        return algorithm.lower(), rest
    return None, text


def is_hash_text(text: str) -> bool:
    """Whether `text` can name something by hash: 8 to 64 hex digits (any case), a
    full-length sha512, or `ALGO:` and 8 hex digits up to that algorithm's length."""
    algorithm, digits = split_digest(text)
    if not set(digits.lower()) <= HEX:
        return False
    if algorithm is None:
        return MIN_PREFIX <= len(digits) <= 64 or len(digits) in DIGEST_ALGORITHMS.values()
    return MIN_PREFIX <= len(digits) <= DIGEST_ALGORITHMS.get(algorithm, 64)


def is_digest_text(text: str) -> bool:
    """Whether `text` may name a file by a digest other than its BLAKE3 prefix:
    `ALGO:<hex>` (is_hash_text), or hex of an md5's, sha256's or sha512's full length."""
    algorithm, digits = split_digest(text)
    if not is_hash_text(text):
        return False
    return algorithm is not None or len(digits) in DIGEST_ALGORITHMS.values()


# What a hash names, by the kind `LineageSource.named` reports.
_KIND_OF = {"job": "job", "session": "session", "tree": "artifact", "file": "artifact"}


class Target(NamedTuple):
    """A resolved name."""

    kind: str  # "step" | "job" | "session" | "artifact" | "object"
    id: str  # the job (step, job), session object (session), artifact hash, or object id
    text: str  # what was typed
    ref: str | None = None  # the session ref: the step's, or the one a session name gave
    step: Step | None = None  # for a step
    path: Path | None = None  # for an artifact named by a path
    object_kind: str | None = None  # for an object: env, label, blob
    algorithm: str | None = None  # for an artifact named by another digest: md5, sha256, ...
    size: int | None = None  # bytes, for an artifact named by a path

    @property
    def job(self) -> str | None:
        return self.id if self.kind in ("step", "job") else None

    def describe(self) -> str:
        if self.kind == "object":
            return f"{self.object_kind} object {self.id[:12]}"
        if self.algorithm:
            return f"{self.kind} {self.id[:12]} (by its {self.algorithm})"
        return f"{self.kind} {self.id[:12]}"


class Resolver:
    """Resolves names against a lineage source and the refs."""

    def __init__(
        self,
        source: LineageSource,
        active_ref: str,
        read_ref: Callable[[str], str | None],
        root: Path | None = None,
    ):
        """`root`: the workspace's directory, when names are a workspace's; a directory
        above it is not hashed (it would read everything under it, `/` included)."""
        self.source = source
        self.active_ref = active_ref
        self._read_ref = read_ref
        self._root = root

    def resolve(self, text: str) -> Target:
        if len(text) > MAX_TARGET or len(text.encode("utf-8", "surrogateescape")) > MAX_TARGET:
            raise NotFound(self._nothing(text))
        if text.startswith("@"):
            head = self._read_ref(self.active_ref)
            step = find_step(self.source.chain(head) if head else [], text)
            return Target("step", step.job, text, self.active_ref, step)
        if text == "HEAD":
            head = self._read_ref(self.active_ref)
            if head is None:
                raise NotFound("the session is empty: it has no steps yet")
            return Target("session", head, text, self.active_ref)
        others = self._names(text)
        if os.path.lexists(text):
            if others:
                raise Ambiguous(
                    f"{text!r} is both a path and {others[0].describe()}: "
                    f"write ./{text} for the path, or {self._spelled(others[0])}"
                )
            return self._path(text)
        if len(others) == 1:
            return others[0]
        if others:
            raise Ambiguous(self._several(text, others))
        raise NotFound(self._nothing(text))

    @staticmethod
    def _several(text: str, found: list[Target]) -> str:
        listed = ", ".join(t.describe() for t in found[:MAX_LISTED])
        more = " and more" if len(found) > MAX_LISTED else ""
        return f"{text} names more than one thing: {listed}{more}; give more digits"

    def resolve_hash(self, text: str) -> Target:
        """What a hash or a prefix of 8+ hex digits names, by the same rule as `resolve`
        but never a path, a step or a session name: for a service, whose files and
        sessions are not the caller's. Raises Ambiguous (candidates listed) or
        NotFound (saying what was tried)."""
        found = self.hashes(text)
        if len(found) == 1:
            return found[0]
        if found:
            raise Ambiguous(self._several(text, found))
        raise NotFound(self._nothing(text, hashes_only=True))

    def hashes(self, text: str) -> list[Target]:
        """What a hash or prefix of 8+ hex digits may name: up to MAX_LISTED + 1 ids.

        A bare text is an object id or BLAKE3 prefix, and, when it has a digest's
        full length, that digest (md5: 32 digits, sha256: 64, sha512: 128); with
        `ALGO:` only that algorithm is tried, and a prefix of it is enough."""
        if not is_hash_text(text):
            return []
        algorithm, digits = split_digest(text)
        digits = digits.lower()
        limit = MAX_LISTED + 1
        found: list[Target] = []
        if algorithm is None and len(digits) <= 64 or algorithm == "blake3":
            named = self.source.named(digits, limit)
            found = [self._named(text, n.id, n.kind) for n in named]
            if algorithm == "blake3":  # a digest of bytes: artifacts only
                found = [t for t in found if t.kind == "artifact"]
        for other, length in DIGEST_ALGORITHMS.items():
            if algorithm == other or (algorithm is None and len(digits) == length):
                ids = {t.id for t in found}
                found += [
                    Target("artifact", h, text, algorithm=other)
                    for h in self.source.digested(other, digits, limit)
                    if h not in ids
                ]
        return found[:limit]

    def _names(self, text: str) -> list[Target]:
        session = self._session(text)
        if session is not None:
            return [session]  # a name that is a session is not read as a hash (as git)
        return self.hashes(text)

    def _named(self, text: str, oid: str, kind: str) -> Target:
        if kind in _KIND_OF:
            return Target(_KIND_OF[kind], oid, text)
        return Target("object", oid, text, object_kind=kind)

    def _session(self, text: str) -> Target | None:
        names = [text] if text.startswith("refs/") else [f"refs/sessions/{text}"]
        if not text.startswith("refs/") and "/sessions/" in text:
            names.append(f"refs/remotes/{text}")  # origin/sessions/main
        for name in names:
            try:
                head = self._read_ref(name)
            except UsageError:
                continue  # not a ref name at all
            if head is not None and name.startswith(("refs/sessions/", "refs/remotes/")):
                return Target("session", head, text, name)
        return None

    def _path(self, text: str) -> Target:
        from roar.hashing import artifact_of

        if self._root is not None and os.path.isdir(text):
            here, root = os.path.realpath(text), os.path.realpath(self._root)
            if os.path.commonpath([here, root]) == here and here != root:
                raise UsageError(
                    f"{text}: a directory above the workspace ({root}); hashing it would "
                    "read everything under it: name a file or a directory inside it"
                )
        try:
            found = artifact_of(text)
        except OSError as e:
            raise NotFound(f"{text}: cannot read it ({e.strerror or e})") from None
        return Target("artifact", found.hash, text, path=Path(text), size=found.size)

    @staticmethod
    def _spelled(target: Target) -> str:
        if target.kind == "session" and target.ref:
            return f"{target.ref} for the session"
        return f"the full hash {target.id} for the {target.kind}"

    @staticmethod
    def _nothing(text: str, *, hashes_only: bool = False) -> str:
        lowered = text.lower()
        hint = ""
        if set(lowered) <= HEX and 0 < len(lowered) < MIN_PREFIX:
            hint = f" (a hash prefix needs at least {MIN_PREFIX} hex digits)"
        elif hashes_only and not is_hash_text(text):
            hint = (
                f" (a hash is {MIN_PREFIX} to 64 hex digits, a full md5, sha256 or sha512, "
                "or ALGO:<hex> such as sha256:<hex>)"
            )
        tried = "a hash" if hashes_only else "a path, a step (@N), a session, or a hash"
        if len(text) > SHOWN:
            text = f"{text[:SHOWN]}... ({len(text)} characters)"
        return f"{text}: not {tried} known here (objects and recorded artifacts){hint}"
