"""`roar config get|set|list`, for the workspace or (`--global`) the user."""

from __future__ import annotations

import click

from roar.config import Config


def _config(global_: bool, *, writing: bool = False) -> Config:
    """The user's config with --global; else the workspace's (reads outside a workspace
    see the user's settings and the defaults)."""
    from roar.errors import LegacyWorkspace, NotAWorkspace
    from roar.workspace import Workspace

    if global_:
        return Config.user()
    try:
        return Workspace.find().config  # type: ignore[no-any-return]
    except LegacyWorkspace:
        raise  # a roar-cli workspace here: its settings are not the user's
    except NotAWorkspace:
        if writing:
            raise NotAWorkspace(
                "not a roar workspace (no .roar/ here or above): run `roar init`, "
                "or set it for every workspace with `roar config set --global`"
            ) from None
        return Config.user()


@click.group()
def config() -> None:
    """View or set configuration options (workspace, or --global for the user)."""


@config.command("get")
@click.argument("key")
@click.option("--global", "global_", is_flag=True, help="Read the user's configuration only.")
@click.option("--json", "as_json", is_flag=True)
def get(key: str, global_: bool, as_json: bool) -> None:
    """Print the value of KEY."""
    from roar.cli.output import print_json

    value, origin = _config(global_).get_with_origin(key)
    if as_json:
        print_json({"key": key, "value": value, "origin": origin})
    else:
        click.echo(_text(value))


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option(
    "--global", "global_", is_flag=True,
    help="Set it for every workspace ($XDG_CONFIG_HOME/roar/config.toml).",
)  # fmt: skip
def set_(key: str, value: str, global_: bool) -> None:
    """Set KEY to VALUE in .roar/config.toml (or the user's file with --global)."""
    stored = _config(global_, writing=True).set(key, value)
    click.echo(f"{key} = {_text(stored)}")


@config.command("list")
@click.option("--global", "global_", is_flag=True, help="The user's configuration only.")
@click.option("--json", "as_json", is_flag=True)
def list_(global_: bool, as_json: bool) -> None:
    """List every option with its value, where it is set, and what it does."""
    from roar.cli.output import print_json
    from roar.config import BY_KEY, OPTIONS

    cfg = _config(global_)
    items = [(o.key, *cfg.get_with_origin(o.key)) for o in OPTIONS]
    if as_json:
        print_json(
            [
                {
                    "key": k,
                    "value": v,
                    "default": BY_KEY[k].default,
                    "origin": origin,
                    "description": BY_KEY[k].help,
                }
                for k, v, origin in items
            ]  # fmt: skip
        )
        return
    width = max(len(k) for k, _, _ in items)
    for k, v, _ in items:
        click.echo(f"{k:<{width}}  {_text(v):<24}  {BY_KEY[k].help}")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
