"""`roar env get|set|list|unset`: variables injected into every run and build."""

from __future__ import annotations

import click

from roar.run_env import load_env, save_env
from roar.workspace import Workspace


@click.group()
def env() -> None:
    """Manage persistent environment variables injected into roar run and roar build."""


@env.command("set")
@click.argument("name")
@click.argument("value")
def set_(name: str, value: str) -> None:
    """Set NAME=VALUE for every later run."""
    from roar.errors import UsageError

    if not name or "=" in name or "\0" in name:
        raise UsageError(f"not a variable name: {name!r}")
    ws = Workspace.find()
    values = load_env(ws)
    values[name] = value
    save_env(ws, values)
    from roar.capture.secrets import is_secret

    # roar-cli's line; a value that looks like a secret is not echoed into terminal logs.
    shown = "<redacted>" if is_secret(name.encode(), value.encode()) else value
    click.echo(f"Set {name}={shown}")


@env.command("get")
@click.argument("name")
def get(name: str) -> None:
    """Print the value of NAME."""
    from roar.errors import NotFound

    values = load_env(Workspace.find())
    if name not in values:
        raise NotFound(f"{name} is not set (see `roar env list`)")
    click.echo(values[name])


@env.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    """List every variable."""
    from roar.cli.output import print_json

    values = load_env(Workspace.find())
    if as_json:
        print_json(values)
        return
    if not values:
        click.echo("No environment variables set.")
    for k, v in sorted(values.items()):
        click.echo(f"{k}={v}")


@env.command("unset")
@click.argument("name")
def unset(name: str) -> None:
    """Remove NAME."""
    ws = Workspace.find()
    values = load_env(ws)
    values.pop(name, None)
    save_env(ws, values)
    click.echo(f"Unset {name}")
