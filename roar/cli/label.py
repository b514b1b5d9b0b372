"""`roar label set|show|unset|history` on sessions, jobs and artifacts.

Both roar's form (`roar label set TARGET k=v`) and roar-cli 0.4.7's form
with a kind first (`roar label set artifact TARGET k=v`, kinds dag, job,
composite, artifact) are accepted; with a kind, TARGET must be of it.
"""

from __future__ import annotations

import time

import click

from roar import labels as label_store
from roar.errors import UsageError
from roar.workspace import Workspace

# roar-cli's target kinds; `dag` is a session, `composite` a directory artifact.
KINDS = ("dag", "job", "composite", "artifact")


# What each roar-cli kind accepts, by the resolver's kinds (docs/lineage.md §7).
_KIND_TARGETS = {
    "dag": ("session",),
    "job": ("step", "job"),
    "composite": ("artifact",),
    "artifact": ("artifact",),
}


def _resolve(ws, target: str, kind: str | None = None) -> str:  # type: ignore[no-untyped-def]
    """What a label attaches to: `session` (the active one; `dag current` too), or any
    name the resolver reads (@N, a job, a session, an artifact hash or path). With a
    roar-cli KIND, the name must be of that kind."""
    from roar.index.source import local

    _, resolver = local(ws)
    if target == "session" or (kind == "dag" and target == "current"):
        target = "HEAD"
    found = resolver.resolve(target)
    if kind is not None and found.kind not in _KIND_TARGETS[kind]:
        raise UsageError(f"{target} names {found.describe()}, which is not of kind {kind}")
    return found.id


def _split(args: tuple[str, ...], at_least: int) -> tuple[str | None, str, tuple[str, ...]]:
    """(kind, target, rest) from `[KIND] TARGET REST...`."""
    if len(args) >= at_least + 1 and args[0] in KINDS:
        return args[0], args[1], args[2:]
    if not args:
        raise UsageError("name a target: session, @N, a job id, an artifact hash or a path")
    return None, args[0], args[1:]


def _version(ws, head: str | None) -> int:  # type: ignore[no-untyped-def]
    n = 0
    while head:
        n += 1
        head = ws.objects.read(head).parent
    return n


@click.group()
def label() -> None:
    """Attach key=value metadata to the session, a job or an artifact."""


@label.command("set")
@click.argument("args", nargs=-1, required=True)
def set_(args: tuple[str, ...]) -> None:
    """Set labels: `set [KIND] TARGET k=v...` (TARGET: session, @N, job id, artifact
    hash or path; KIND, as in roar-cli: dag, job, composite, artifact)."""
    kind, target, pairs = (
        _split(args, 2) if len(args) >= 3 and "=" not in args[1] else _split(args, 99)
    )
    if not pairs:
        raise UsageError("give at least one key=value")
    ws = Workspace.find()
    oid = _resolve(ws, target, kind)
    changes = dict(label_store.parse_pair(p) for p in pairs)
    reserved = sorted(k for k in changes if k.startswith("roar."))
    if reserved:
        raise UsageError(f"labels under roar. are written by roar itself: {', '.join(reserved)}")
    label_store.update(ws, oid, changes)
    head, _ = label_store.current(ws, oid)
    click.echo(f"Updated labels (version {_version(ws, head)}):")
    for k, v in sorted(changes.items()):
        click.echo(f"  {k}={_text(v)}")


@label.command("unset")
@click.argument("args", nargs=-1, required=True)
def unset(args: tuple[str, ...]) -> None:
    """Remove labels: `unset [KIND] TARGET KEY...`."""
    kind, target, keys = _split(args, 2)
    if not keys:
        raise UsageError("give at least one key to remove")
    ws = Workspace.find()
    oid = _resolve(ws, target, kind)
    labels = label_store.current_labels(ws, oid)
    removed = {k: labels[k] for k in keys if k in labels}
    label_store.write(ws, oid, {k: v for k, v in labels.items() if k not in keys})
    head, _ = label_store.current(ws, oid)
    click.echo(f"Removed labels (version {_version(ws, head)}):")
    for k, v in sorted(removed.items()):
        click.echo(f"  {k}={_text(v)}")


@label.command("show")
@click.argument("args", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
def show(args: tuple[str, ...], as_json: bool) -> None:
    """Show the current labels: `show [KIND] TARGET`."""
    from roar.cli.output import print_json

    kind, target, rest = _split(args, 1)
    if rest:
        raise UsageError(f"unexpected arguments: {' '.join(rest)}")
    ws = Workspace.find()
    oid = _resolve(ws, target, kind)
    labels = label_store.current_labels(ws, oid)
    if as_json:
        print_json({"target": oid, "labels": labels})
        return
    from roar.display import printable

    for k, v in sorted(labels.items()):
        click.echo(printable(f"{k}={_text(v)}"))


@label.command("history")
@click.argument("args", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True)
def history(args: tuple[str, ...], as_json: bool) -> None:
    """Show every change to the labels, newest first: `history [KIND] TARGET`."""
    from roar.cli.output import print_json
    from roar.display import printable

    kind, target, rest = _split(args, 1)
    if rest:
        raise UsageError(f"unexpected arguments: {' '.join(rest)}")
    ws = Workspace.find()
    oid = _resolve(ws, target, kind)
    head, _ = label_store.current(ws, oid)
    entries = []
    while head:
        obj = ws.objects.read(head)
        entries.append({"id": head, "time_ns": obj.time_ns, "labels": dict(obj.labels)})
        head = obj.parent
    if as_json:
        print_json(entries)
        return
    for e in entries:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e["time_ns"] / 1e9))
        pairs = " ".join(f"{k}={_text(v)}" for k, v in sorted(e["labels"].items()))
        click.echo(f"{stamp}  {printable(pairs)}")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
