"""Secrets in what register would send: find them in every field, and rewrite them out.

Every object of the plan is scanned, field by field, with the rules of
roar/capture/secrets.py: argv, the working directory, every path, the git
remote URL, re-run parameters, leftover environment values, label values,
env objects, composite file names, the uncommitted patch. A value found
secret by its name or shape is then redacted wherever else it occurs too.

Objects are named by their hash, so redacting one makes a new object; the
objects that point at it (a session step, a job pointing at a patch, a
label on a job) are rewritten in turn, the local session ref moves to the
rewritten chain and each label ref follows its target, so local and remote
keep agreeing and labels survive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from roar.capture import secrets
from roar.capture.secrets import REDACTED, Span
from roar.errors import SecretsFound
from roar.objects import base
from roar.objects.base import RoarObject, is_id
from roar.objects.blob import Blob
from roar.objects.job import Job
from roar.objects.label import Label
from roar.remote.closure import Plan, Target
from roar.workspace import Workspace


@dataclass(frozen=True)
class SecretHit:
    object: str  # id of the object holding it
    kind: str  # its kind: job, blob, label, env, tree
    where: str  # "argv[3]", "env DB_PASS", "context.params.api-key", "patch line 12", ...


@dataclass
class _Scan:
    """One walk over values: what was found, and the rewritten value."""

    copies: Any  # compiled pattern of known secret values, or None
    hits: list[tuple[str, bytes]] = field(default_factory=list)  # (where, secret)


def scan(p: Plan) -> list[SecretHit]:
    """Every secret in every field of the plan's objects (copies of found ones too)."""
    found, _ = _rewrite_all(p, rebuild=False)
    return found


def redact(ws: Workspace, p: Plan) -> Plan:
    """Write redacted copies locally, move the refs that pointed at the originals; a new plan.

    Raises SecretsFound when a rewritten object would not be valid (two files
    of a composite whose names differ only by a secret).
    """
    _, rewritten = _rewrite_all(p, rebuild=True)
    renamed: dict[str, str] = {}
    objects: dict[str, RoarObject] = {}
    for oid in _dependency_order(p):
        new = rewritten.get(oid)
        if new is None:
            objects[oid] = p.objects[oid]
            continue
        new_id = ws.objects.write(new)
        renamed[oid] = new_id
        objects[new_id] = new
    target = p.target
    new_target = Target(target.kind, renamed.get(target.hash, target.hash), target.ref,
                        target.remote)  # fmt: skip
    if target.ref is not None and target.hash in renamed:
        ws.refs.update(target.ref, new_target.hash, target.hash, message="register: redact secrets")
    for old, new_id in renamed.items():
        head = ws.refs.read(f"refs/labels/{old}")
        if head is not None and head in renamed:
            ws.refs.update(
                f"refs/labels/{new_id}", renamed[head], message="register: redact secrets"
            )
    jobs = [renamed.get(j, j) for j in p.jobs]
    return Plan(new_target, objects, jobs)


def _rewrite_all(p: Plan, *, rebuild: bool) -> tuple[list[SecretHit], dict[str, RoarObject]]:
    """(hits, old id -> rewritten object) over the plan, references remapped.

    A first pass finds secrets by name and shape; only when it found some
    does a second one look for their copies and (with `rebuild`) rewrite.
    """
    first = _Scan(None)
    for obj in p.objects.values():
        _object_value(obj, first)
    if not first.hits:
        return [], {}
    copies = secrets.copies_pattern({s for _, s in first.hits})
    found: list[SecretHit] = []
    rewritten: dict[str, RoarObject] = {}
    renamed: dict[str, str] = {}
    for oid in _dependency_order(p):
        obj = p.objects[oid]
        walk = _Scan(copies)
        value = _object_value(obj, walk)
        found.extend(SecretHit(oid, obj.kind, where) for where, _ in walk.hits)
        if not rebuild or not (walk.hits or any(r in renamed for r in _depends_on(obj))):
            continue
        new = _rebuild(obj, _remap(value, renamed))
        if new.serialize() != obj.serialize():
            rewritten[oid] = new
            renamed[oid] = new.id
    return found, rewritten


def _dependency_order(p: Plan) -> list[str]:
    """The plan's ids, each after every plan object it references (post-order)."""
    order: list[str] = []
    state: dict[str, int] = {}
    for root in sorted(p.objects):
        stack = [(root, False)]
        while stack:
            oid, done = stack.pop()
            if done:
                order.append(oid)
                state[oid] = 2
                continue
            if state.get(oid) or oid not in p.objects:
                continue
            state[oid] = 1
            stack.append((oid, True))
            stack.extend((r, False) for r in _depends_on(p.objects[oid]) if r in p.objects)
    return order


def _depends_on(obj: RoarObject) -> list[str]:
    """What must be rewritten first: its references, and for a label its target."""
    refs = obj.references()
    return [*refs, obj.target] if isinstance(obj, Label) else refs


# -- one object ----------------------------------------------------------------


def _object_value(obj: RoarObject, walk: _Scan) -> Any:
    """The object's value (a blob's bytes, else its CBOR map) with secrets redacted."""
    if isinstance(obj, Blob):
        return _patch(obj.data, walk)
    value = obj.to_value()  # type: ignore[attr-defined]
    if isinstance(obj, Job):
        out = dict(value)
        out["argv"] = _argv(list(value["argv"]), walk)
        for name in ("cwd", "inputs", "outputs", "filtered", "context"):
            out[name] = _value(value[name], name, walk)
        for name in ("inputs", "outputs"):  # paths may have changed: keep them sorted
            out[name] = sorted(out[name], key=lambda a: a["path"])
        return out
    return _value(value, "", walk)


def _rebuild(obj: RoarObject, value: Any) -> RoarObject:
    if isinstance(obj, Blob):
        return Blob(value)
    if obj.kind == "tree":
        value = {"entries": sorted(value["entries"], key=lambda e: e[0])}
    try:
        return type(obj).from_value(value)  # type: ignore[attr-defined,no-any-return]
    except (KeyError, TypeError, ValueError) as e:
        raise SecretsFound(
            f"the {obj.kind} {base.object_id(obj.serialize())[:12]} holds secrets that cannot be "
            f"redacted without making it invalid ({e}); rename what holds them and record again"
        ) from None


def _argv(argv: list[bytes], walk: _Scan) -> list[bytes]:
    spans = secrets.argv_spans(argv)
    out = []
    for i, arg in enumerate(argv):
        out.append(_text(arg, spans.get(i, []), f"argv[{i}]", walk))
    return out


def _patch(data: bytes, walk: _Scan) -> bytes:
    lines = data.splitlines(keepends=True)
    return b"".join(
        _text(line, secrets.secret_spans(line), f"patch line {n}", walk)
        for n, line in enumerate(lines, 1)
    )


def _value(v: Any, where: str, walk: _Scan) -> Any:
    """Any value: maps by key (a secret-named key hides its value), lists, text."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            path = f"{where}.{k}" if where else k
            out[k] = _named(x, path, walk) if secrets.is_secret_name(k) else _value(x, path, walk)
        return out
    if isinstance(v, list):
        if where.endswith("env_vars"):
            return [_env_pair(pair, walk) for pair in v]
        return [_value(x, f"{where}[{i}]", walk) for i, x in enumerate(v)]
    if isinstance(v, (bytes, str)):
        return _either(v, lambda b: _text(b, secrets.secret_spans(b), where, walk))
    return v


def _env_pair(pair: Any, walk: _Scan) -> Any:
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], (bytes, str))):
        return _value(pair, "env_vars", walk)
    name, value = pair
    shown = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
    if secrets.is_secret_name(name):
        return [name, _named(value, f"env {shown}", walk)]
    return [name, _value(value, f"env {shown}", walk)]


def _named(v: Any, where: str, walk: _Scan) -> Any:
    """The value of a secret-named key: all of it is secret (unless already redacted)."""
    if v is None or isinstance(v, bool) or (isinstance(v, str) and (is_id(v) or not v)):
        return v
    if isinstance(v, (bytes, str)):
        return _either(v, lambda b: _text(b, [(0, len(b))] if b != REDACTED else [], where, walk))
    if isinstance(v, int):
        walk.hits.append((where, str(v).encode()))
        return REDACTED.decode()
    return _value(v, where, walk)


def _either(v: bytes | str, fn: Callable[[bytes], bytes]) -> bytes | str:
    if isinstance(v, bytes):
        return fn(v)
    if is_id(v):
        return v  # an object id or a file hash: never a secret, never rewritten
    return fn(v.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


def _text(text: bytes, spans: list[Span], where: str, walk: _Scan) -> bytes:
    """Record the secret spans of one text (and copies of known secrets); redact them."""
    spans = list(spans)
    if walk.copies is not None:
        spans.extend(m.span() for m in walk.copies.finditer(text))
    spans = secrets.merge(spans)
    if not spans:
        return text
    for start, end in spans:
        walk.hits.append((where, text[start:end]))
    return secrets.redact_spans(text, spans)


def _remap(v: Any, renamed: dict[str, str]) -> Any:
    """References to rewritten objects, pointed at their rewrites."""
    if not renamed:
        return v
    if isinstance(v, str):
        return renamed.get(v, v)
    if isinstance(v, dict):
        return {k: _remap(x, renamed) for k, x in v.items()}
    if isinstance(v, list):
        return [_remap(x, renamed) for x in v]
    return v
