"""`roar init`: create `.roar/` and, in a git repository, keep it out of git.

As roar-cli 0.4.7 does, `.roar/` is added to `.gitignore` by default (also
in a script); `-n/--no/--no-gitignore` leaves `.gitignore` alone; `-y` is
accepted and changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import click

GITIGNORE_LINE = ".roar/"


@click.command()
@click.option("-y", "--yes", is_flag=True, help="No-op: .gitignore is updated by default.")
@click.option(
    "-n", "--no", "--no-gitignore", "no_gitignore", is_flag=True, help="Don't touch .gitignore."
)
@click.option(
    "--path",
    "path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Initialize in this directory instead of the current one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def init(yes: bool, no_gitignore: bool, path: Path | None, as_json: bool) -> None:
    """Initialize roar in the current directory (or --path)."""
    from roar.cli.output import print_json
    from roar.workspace import Workspace

    root = (path or Path.cwd()).absolute()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a name too long, a file in the way, no permission
        from roar.display import printable
        from roar.errors import UsageError

        shown = str(root) if len(str(root)) <= 120 else str(root)[:120] + "..."
        raise UsageError(printable(f"{shown}: cannot create it ({e.strerror or e})")) from None
    from roar.roar_cli_import import legacy_database

    if legacy_database(root) is not None:
        # Creating HEAD here would hide roar-cli's history: import it instead (the CLI
        # edge asks on a terminal, then runs init again).
        from roar.errors import LegacyWorkspace

        raise LegacyWorkspace(
            f"{root / '.roar'} holds roar-cli history: `roar import` brings it into roar "
            "(the old database is kept)",
            root,
        )
    ws, created = Workspace.create(root)
    ws.config.items()  # parse and cache it now: the first `roar run` then reads the cache
    gitignore = _gitignore(root, skip=no_gitignore)
    if as_json:
        print_json({"path": str(ws.dir), "created": created, "gitignore_updated": gitignore[0]})
        return
    verb = "Initialized roar in" if created else "Reinitialized existing roar workspace in"
    click.echo(f"{verb} {root}")
    click.echo(f"  store:      {ws.dir}")
    click.echo(f"  config:     {ws.config_path}")
    click.echo(f"  {gitignore[1]}")


def _gitignore(root: Path, *, skip: bool) -> tuple[bool, str]:
    """(changed, the line to print) for .gitignore in a git repository at root."""
    if not (root / ".git").exists():
        return False, "git:        (not in a git repo)"
    if skip:
        return False, "gitignore:  skipped (--no-gitignore)"
    ignore_path = root / ".gitignore"
    text = ignore_path.read_text() if ignore_path.exists() else ""
    if any(line.strip() in (".roar", ".roar/", "/.roar", "/.roar/") for line in text.splitlines()):
        return False, "gitignore:  already ignores .roar/"
    sep = "" if not text or text.endswith("\n") else "\n"
    from roar.atomic import write_atomic

    write_atomic(ignore_path, f"{text}{sep}{GITIGNORE_LINE}\n".encode())
    if text:
        return True, "gitignore:  added .roar/ entry"
    return True, "gitignore:  created .gitignore with .roar/ entry"
