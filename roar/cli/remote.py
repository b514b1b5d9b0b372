"""`roar remote add|list|remove`, and `roar remote lookup|search` against a remote."""

from __future__ import annotations

import os
from typing import Any

import click

from roar.capture.secrets import mask
from roar.workspace import Workspace


@click.group()
def remote() -> None:
    """Manage GLaaS remotes (git-like); look hashes up on one."""


@remote.command("add")
@click.argument("name")
@click.argument("url")
def add(name: str, url: str) -> None:
    """Add remote NAME at URL."""
    from roar.remote.remotes import add_remote

    r = add_remote(Workspace.find(), name, url)
    click.echo(f"added remote {r.name} -> {mask(r.url)}")


@remote.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List remotes (the default one first is marked with *)."""
    from roar.cli.output import print_json
    from roar.remote.remotes import get_remote, list_remotes

    ws = Workspace.find()
    default = get_remote(ws)
    remotes = list_remotes(ws) or [default]
    if as_json:
        print_json(
            [{"name": r.name, "url": r.url, "default": r.name == default.name} for r in remotes]
        )
        return
    for r in remotes:
        mark = "*" if r.name == default.name else " "
        click.echo(f"{mark} {r.name}\t{mask(r.url)}" + ("  (glaas.url)" if r.implicit else ""))


@remote.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove remote NAME and its remote-tracking refs."""
    from roar.remote.remotes import remove_remote

    remove_remote(Workspace.find(), name)
    click.echo(f"removed remote {name}")


@remote.command("lookup")
@click.argument("digest")
@click.option("--remote", "remote_name", help="Remote to ask (default: the default remote).")
@click.option("--json", "as_json", is_flag=True)
def lookup(digest: str, remote_name: str | None, as_json: bool) -> None:
    """What the remote knows of DIGEST (artifact hash, job or session id, or a prefix
    of 8+ hex digits of one)."""
    from roar.cli.output import print_json
    from roar.cli.register import remote_hash
    from roar.remote.client import connect

    _, client = connect(Workspace.find(), remote_name)
    # A prefix is resolved by the registry's resolver first, as fetch and reproduce do.
    found = client.lookup(remote_hash(client, digest))
    if as_json:
        print_json(found)
        return
    print_lookup(found)


def print_lookup(found: dict[str, Any]) -> None:
    """`roar remote lookup`'s text for a lookup answer (docs/protocol.md §5)."""
    from roar.display import printable

    click.echo(f"{found['hash']}  {printable(str(found.get('object_kind') or 'artifact'))}")
    art = found.get("artifact")
    if art:
        producer = art.get("producer")
        if isinstance(producer, dict) and producer.get("job"):
            where = f" (step {producer['step']}" if producer.get("step") else " (no session"
            where += ", superseded)" if producer.get("superseded") else ")"
            click.echo(printable(f"  produced by job {str(producer['job'])[:12]}{where}"))
        for e in art["produced_by"]:
            click.echo(printable(f"  written by job {e['job'][:12]} as ") + _path(e["path"]))
        for e in art["consumed_by"]:
            click.echo(printable(f"  read by job {e['job'][:12]} as ") + _path(e["path"]))
        if not art["produced_by"] and not art["consumed_by"]:
            click.echo("  registered; no lineage visible in your scope")
    job = found.get("job")
    if job:
        click.echo(printable(f"  command: {job['command']}  (exit {job['exit_code']})"))
    for k, v in (found.get("labels") or {}).items():
        click.echo(printable(f"  label {k}={v}"))


def _path(value: object) -> str:
    """A path of the registry's JSON (pathjson's one form) as a terminal shows it.
    The server is not trusted: what is not a path form is shown escaped, as text."""
    from roar.display import printable
    from roar.pathjson import from_json

    try:
        return printable(from_json(value))
    except ValueError:
        return printable(str(value))


@remote.command("search")
@click.option("--command", "command_text", help="Text in the command line.")
@click.option(
    "--file",
    "file_path",
    help="Bytes in the path of an input or output (any bytes a file name may hold).",
)
@click.option("--gpu", help="true, false, or text in the GPU name.")
@click.option("--file-type", help="Extension of an input or output, e.g. csv.")
@click.option("--label", help="KEY or KEY=VALUE.")
@click.option("--owner")
@click.option("--since", type=int, help="Started at or after (ns since epoch).")
@click.option("--until", type=int, help="Started at or before (ns since epoch).")
@click.option("--remote", "remote_name")
@click.option("--json", "as_json", is_flag=True)
def search(
    command_text: str | None,
    file_path: str | None,
    gpu: str | None,
    file_type: str | None,
    label: str | None,
    owner: str | None,
    since: int | None,
    until: int | None,
    remote_name: str | None,
    as_json: bool,
) -> None:
    """Search the remote's jobs visible to you."""
    from roar.cli.output import print_json
    from roar.display import printable
    from roar.remote.client import connect

    _, client = connect(Workspace.find(), remote_name)
    jobs = client.search(
        command=command_text,
        # argv's bytes as the shell passed them (os.fsencode undoes Python's decoding)
        file=os.fsencode(file_path) if file_path else None,
        gpu=gpu,
        file_type=file_type,
        label=label,
        owner=owner,
        since=since,
        until=until,
    )
    if as_json:
        print_json(jobs)
        return
    for j in jobs:
        click.echo(printable(f"{j['job'][:12]}  {j['owner'] or '-':<12} {j['command']}"))
