"""The `roar` command group; subcommands are imported only when invoked."""

from __future__ import annotations

import importlib
import sys

import click

from roar import __version__

# name -> "module:attribute", so `roar fsck` never imports the tracer glue.
COMMANDS = {
    "init": "roar.cli.init:init",
    "config": "roar.cli.config:config",
    "cat-object": "roar.cli.plumbing:cat_object",
    "fsck": "roar.cli.plumbing:fsck",
    "gc": "roar.cli.plumbing:gc",
    "run": "roar.cli.run_command:run",
    "build": "roar.cli.run_command:build",
    "env": "roar.cli.env:env",
    "tracer": "roar.cli.tracer:tracer",
    "status": "roar.cli.session:status",
    "log": "roar.cli.session:log",
    "dag": "roar.cli.session:dag",
    "pop": "roar.cli.session:pop",
    "reset": "roar.cli.session:reset",
    "session": "roar.cli.session:session_group",
    "show": "roar.cli.show:show",
    "lineage": "roar.cli.show:lineage",
    "inputs": "roar.cli.show:inputs",
    "label": "roar.cli.label:label",
    "diff": "roar.cli.diff:diff",
    "remote": "roar.cli.remote:remote",
    "register": "roar.cli.register:register",
    "fetch": "roar.cli.register:fetch",
    "auth": "roar.cli.auth:auth",
    "login": "roar.cli.auth:login",
    "logout": "roar.cli.auth:logout",
    "whoami": "roar.cli.auth:whoami",
    "scope": "roar.cli.scope:scope",
    "get": "roar.cli.transfer:get",
    "put": "roar.cli.transfer:put",
    "reproduce": "roar.cli.reproduce:reproduce",
    "import": "roar.cli.import_history:import_",
    "telemetry": "roar.cli.telemetry:telemetry",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roar", message="%(prog)s %(version)s")
def cli() -> None:
    """roar: record what your commands read and write, and how to make it again."""


def run() -> None:
    from roar.cli.edge import guarded

    sys.exit(guarded(_click_main))


def _click_main() -> int:
    try:
        # Named `roar` however it was started (`roar-py`, `python -m roar`).
        cli.main(prog_name="roar", standalone_mode=False)
    except click.exceptions.Abort:
        sys.stderr.write("Aborted.\n")
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return 0
