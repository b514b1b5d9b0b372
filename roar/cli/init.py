"""`roar init`: create `.roar/` and, if asked, keep it out of git."""

from __future__ import annotations

from pathlib import Path

import click

GITIGNORE_LINE = ".roar/"


@click.command()
@click.option("-y", "--yes", "gitignore", flag_value="yes", help="Add .roar/ to .gitignore.")
@click.option("-n", "--no", "gitignore", flag_value="no", help="Leave .gitignore alone.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def init(gitignore: str | None, as_json: bool) -> None:
    """Initialize roar in the current directory."""
    from roar.cli.output import print_json
    from roar.workspace import Workspace

    root = Path.cwd()
    ws, created = Workspace.create(root)
    ignore_path = root / ".gitignore"
    in_git = (root / ".git").exists()
    already = ignore_path.exists() and GITIGNORE_LINE in ignore_path.read_text().splitlines()
    added = False
    if in_git and not already and gitignore != "no":
        if gitignore == "yes" or (
            gitignore is None
            and click.get_text_stream("stdin").isatty()
            and click.confirm("Add .roar/ to .gitignore?", default=True)
        ):
            text = ignore_path.read_text() if ignore_path.exists() else ""
            sep = "" if not text or text.endswith("\n") else "\n"
            ignore_path.write_text(f"{text}{sep}{GITIGNORE_LINE}\n")
            added = True
    if as_json:
        print_json({"path": str(ws.dir), "created": created, "gitignore_updated": added})
        return
    verb = "Initialized" if created else "Reinitialized existing"
    click.echo(f"{verb} roar workspace in {ws.dir}")
    if added:
        click.echo("Added .roar/ to .gitignore")
