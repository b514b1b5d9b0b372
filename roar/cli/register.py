"""`roar register [target]` and `roar fetch <hash>`: push to and pull from GLaaS."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

PROGRESS_MIN_BYTES = 1024 * 1024


@contextmanager
def _progress(label: str) -> Iterator:  # type: ignore[type-arg]
    """A rich progress bar on a terminal for transfers over 1 MiB; silent otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        f"[bold]{label}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            if total >= PROGRESS_MIN_BYTES or done >= PROGRESS_MIN_BYTES:
                bar.update(task, completed=done, total=total or None)

        yield update


@click.command()
@click.argument("target", required=False)
@click.option("--remote", "remote_name", help="Remote to register to.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send nothing.")
@click.option("-y", "--yes", is_flag=True, help="Send secrets found redacted, without asking.")
@click.option("--json", "as_json", is_flag=True)
def register(
    target: str | None, remote_name: str | None, dry_run: bool, yes: bool, as_json: bool
) -> None:
    """Register TARGET's lineage (artifact path or hash, @N, job, session; default: the
    active session) with a GLaaS remote."""
    from roar.cli.output import print_json, warn
    from roar.display import printable
    from roar.errors import SecretsFound
    from roar.remote.client import connect
    from roar.remote.closure import plan, resolve_target
    from roar.remote.push import push, tag_git_commit
    from roar.remote.redaction import redact, scan
    from roar.remote.remotes import web_url
    from roar.workspace import Workspace

    ws = Workspace.find()
    p = plan(ws, resolve_target(ws, target))
    hits = scan(p)
    if hits:
        for h in hits:
            warn(f"secret in {h.kind} {h.object[:12]}: {printable(h.where)}")
        if dry_run:
            pass
        elif not yes and not (
            sys.stdin.isatty() and click.confirm("Send these redacted?", default=False)
        ):
            raise SecretsFound(
                f"{len(hits)} secret(s) would be sent; re-run with -y to send them redacted"
            )
        else:
            p = redact(ws, p)
    remote, client = connect(ws, remote_name)
    kinds: dict[str, int] = {}
    for obj in p.objects.values():
        kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
    if dry_run:
        negotiation = client.negotiate(sorted(p.objects), p.remote_ref)
        would_send = [i for i in negotiation.missing if i in p.objects]
        out = {
            "target": {"kind": p.target.kind, "hash": p.target.hash},
            "remote": remote.url,
            "scope": client.scope,
            "objects": kinds,
            "would_send": len(would_send),
            "ref": p.remote_ref,
            "secrets": [{"object": h.object, "kind": h.kind, "where": h.where} for h in hits],
        }
        if as_json:
            print_json(out)
        else:
            click.echo(
                f"would register {p.target.kind} {p.target.hash[:12]} to {remote.url} "
                f"(scope {client.scope}): {len(would_send)} of {len(p.objects)} "
                "objects to send"
            )
            for k, n in sorted(kinds.items()):
                click.echo(f"  {n} {k}")
        return
    with _progress("register") as progress:
        report = push(ws, remote, client, p, progress=progress)
    tag = tag_git_commit(ws, p)
    web = web_url(ws, remote)
    page = {"artifact": "artifacts", "job": "jobs", "session": "sessions"}[p.target.kind]
    link = f"{web}/{page}/{p.target.hash}"
    reproduce = f"roar reproduce {p.target.hash}"
    if as_json:
        print_json(
            {
                "target": {"kind": p.target.kind, "hash": p.target.hash},
                "remote": remote.url,
                "scope": client.scope,
                "namespace": report.namespace,
                "objects": report.objects,
                "sent": report.sent,
                "pack_bytes": report.pack_bytes,
                "ref": report.ref,
                "git_tag": tag,
                "reproduce": reproduce,
                "url": link,
            }
        )
        return
    click.echo(
        f"registered {p.target.kind} {p.target.hash[:12]} to {remote.url} (scope {client.scope}): "
        f"sent {report.sent} of {report.objects} objects, {report.pack_bytes} bytes"
    )
    if tag:
        click.echo(f"tagged git commit as {tag}")
    click.echo(f"reproduce: {reproduce}")
    click.echo(f"view: {link}")


@click.command()
@click.argument("digest")
@click.option("--remote", "remote_name", help="Remote to fetch from.")
@click.option("--json", "as_json", is_flag=True)
def fetch(digest: str, remote_name: str | None, as_json: bool) -> None:
    """Fetch the lineage of DIGEST (artifact hash, job or session id) into this workspace."""
    from roar.cli.output import print_json
    from roar.errors import UsageError
    from roar.objects.base import is_id
    from roar.remote.client import connect
    from roar.remote.fetch import fetch as fetch_closure
    from roar.workspace import Workspace

    digest = digest.lower()
    if not is_id(digest):
        raise UsageError("fetch takes a full 64-character hash")
    ws = Workspace.find()
    remote, client = connect(ws, remote_name)
    with _progress("fetch") as progress:
        report = fetch_closure(ws, remote, client, digest, progress=progress)
    if as_json:
        print_json(
            {
                "hash": digest,
                "remote": remote.url,
                "objects": report.received,
                "pack_bytes": report.pack_bytes,
                "refs": [{"ref": r, "target": t} for r, t in report.refs],
                "head": report.checked_out,
            }
        )
        return
    click.echo(f"fetched {report.received} objects ({report.pack_bytes} bytes) from {remote.url}")
    for ref, target in report.refs:
        click.echo(f"  {ref} -> {target[:12]}")
    if report.checked_out:
        click.echo(f"HEAD now names {report.checked_out}")
