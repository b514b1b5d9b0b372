"""`roar label set|show|unset|history` on sessions, jobs and artifacts.

Each change writes a new label object holding the full set, chained to
the previous one; `refs/labels/<target>` points at the newest.
"""

from __future__ import annotations

import time

import click

from roar.errors import NotFound, UsageError
from roar.workspace import Workspace


def _resolve(ws, target: str) -> str:  # type: ignore[no-untyped-def]
    """session (the active one), @N/@BN, a job id, or an artifact hash/path."""
    from roar import sessions
    from roar.cli.show import resolve_artifact, resolve_object
    from roar.index.session_index import load_session

    if target == "session":
        head = ws.refs.read(sessions.active_ref(ws))
        if head is None:
            raise NotFound("the session is empty: nothing to label")
        return head  # type: ignore[no-any-return]
    view = load_session(ws)
    if target.startswith("@"):
        return sessions.find_step(view.steps, target).job
    artifact = resolve_artifact(ws, view.index, target)
    if artifact is not None:
        return artifact  # type: ignore[no-any-return]
    return resolve_object(ws, target)


def _current(ws, target: str):  # type: ignore[no-untyped-def]
    head = ws.refs.read(f"refs/labels/{target}")
    return head, (ws.objects.read(head) if head else None)


def _write(ws, target: str, labels: dict) -> None:  # type: ignore[no-untyped-def,type-arg]
    from roar.errors import RefConflict
    from roar.objects.label import Label

    while True:
        head, _ = _current(ws, target)
        oid = ws.objects.write(Label(target, labels, head, time.time_ns()))
        try:
            ws.refs.update(f"refs/labels/{target}", oid, head, "label")
            return
        except RefConflict:
            continue


def _parse(pair: str) -> tuple[str, str | int | bool]:
    key, eq, value = pair.partition("=")
    if not eq or not key:
        raise UsageError(f"labels look like key=value, not {pair!r}")
    if value in ("true", "false"):
        return key, value == "true"
    if value.lstrip("-").isdigit():
        return key, int(value)
    return key, value


@click.group()
def label() -> None:
    """Attach key=value metadata to the session, a job or an artifact."""


@label.command("set")
@click.argument("target")
@click.argument("pairs", nargs=-1, required=True)
def set_(target: str, pairs: tuple[str, ...]) -> None:
    """Set labels on TARGET (session, @N, job id, artifact hash or path)."""
    ws = Workspace.find()
    oid = _resolve(ws, target)
    _, current = _current(ws, oid)
    labels = dict(current.labels) if current else {}
    labels.update(_parse(p) for p in pairs)
    _write(ws, oid, labels)


@label.command("unset")
@click.argument("target")
@click.argument("keys", nargs=-1, required=True)
def unset(target: str, keys: tuple[str, ...]) -> None:
    """Remove labels from TARGET."""
    ws = Workspace.find()
    oid = _resolve(ws, target)
    _, current = _current(ws, oid)
    labels = {k: v for k, v in (current.labels if current else {}).items() if k not in keys}
    _write(ws, oid, labels)


@label.command("show")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True)
def show(target: str, as_json: bool) -> None:
    """Show the current labels of TARGET."""
    from roar.cli.output import print_json

    ws = Workspace.find()
    oid = _resolve(ws, target)
    _, current = _current(ws, oid)
    labels = dict(current.labels) if current else {}
    if as_json:
        print_json({"target": oid, "labels": labels})
        return
    from roar.display import printable

    for k, v in sorted(labels.items()):
        click.echo(printable(f"{k}={v}"))


@label.command("history")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True)
def history(target: str, as_json: bool) -> None:
    """Show every change to TARGET's labels, newest first."""
    from roar.cli.output import print_json
    from roar.display import printable

    ws = Workspace.find()
    oid = _resolve(ws, target)
    head, _ = _current(ws, oid)
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
        pairs = " ".join(f"{k}={v}" for k, v in sorted(e["labels"].items()))
        click.echo(f"{stamp}  {printable(pairs)}")
