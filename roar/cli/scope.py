"""`roar scope use|status|list|clear`: where this workspace registers."""

from __future__ import annotations

import click

from roar.workspace import Workspace


@click.group()
def scope() -> None:
    """The scope registrations and reads act in."""


@scope.command("use")
@click.argument("name")
def use(name: str) -> None:
    """Use scope NAME: anonymous, public, private or owner/project."""
    from roar.remote.scope import check_scope

    ws = Workspace.find()
    ws.config.set("scope.current", check_scope(name))
    click.echo(f"scope: {name}")


@scope.command("clear")
def clear() -> None:
    """Back to the automatic scope (private when logged in, else anonymous)."""
    Workspace.find().config.set("scope.current", "")
    click.echo("scope: automatic")


@scope.command("status")
@click.option("--remote", "remote_name")
@click.option("--json", "as_json", is_flag=True)
def status(remote_name: str | None, as_json: bool) -> None:
    """The scope in effect for the default (or given) remote, and why."""
    from roar.cli.output import print_json
    from roar.remote.remotes import get_remote
    from roar.remote.scope import effective_scope

    ws = Workspace.find()
    r = get_remote(ws, remote_name)
    s = effective_scope(ws, r.url)
    if as_json:
        print_json(
            {"scope": s.scope, "automatic": not s.configured, "account": s.account, "url": r.url}
        )
        return
    how = "automatic" if not s.configured else "set with `roar scope use`"
    who = f" as {s.account}" if s.account else ""
    click.echo(f"{s.scope} ({how}) on {r.url}{who}")


@scope.command("list")
@click.option("--remote", "remote_name")
@click.option("--json", "as_json", is_flag=True)
def list_(remote_name: str | None, as_json: bool) -> None:
    """The scopes you can use on the remote."""
    from roar.cli.output import print_json
    from roar.remote.client import connect

    _, client = connect(Workspace.find(), remote_name)
    names = ["anonymous"]
    if client.scope != "anonymous":
        names += ["public", "private"] + [p["project"] for p in client.projects()]
    if as_json:
        print_json(names)
        return
    for n in names:
        click.echo(n)
