"""`roar config get|set|list`."""

from __future__ import annotations

import click

from roar.workspace import Workspace


@click.group()
def config() -> None:
    """View or set configuration options."""


@config.command("get")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True)
def get(key: str, as_json: bool) -> None:
    """Print the value of KEY."""
    from roar.cli.output import print_json

    value = Workspace.find().config.get(key)
    if as_json:
        print_json({"key": key, "value": value})
    else:
        click.echo(_text(value))


@config.command("set")
@click.argument("key")
@click.argument("value")
def set_(key: str, value: str) -> None:
    """Set KEY to VALUE in .roar/config.toml."""
    stored = Workspace.find().config.set(key, value)
    click.echo(f"{key} = {_text(stored)}")


@config.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List every option with its value and description."""
    from roar.cli.output import print_json
    from roar.config import BY_KEY

    items = Workspace.find().config.items()
    if as_json:
        print_json(
            [
                {"key": k, "value": v, "default": BY_KEY[k].default, "description": BY_KEY[k].help}
                for k, v in items
            ]
        )
        return
    width = max(len(k) for k, _ in items)
    for k, v in items:
        click.echo(f"{k:<{width}}  {_text(v):<24}  {BY_KEY[k].help}")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
