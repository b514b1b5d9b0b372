"""`roar import`: take over a roar-cli 0.4.7 workspace, its history included."""

from __future__ import annotations

from pathlib import Path

import click


def offer(root: Path, *, yes: bool, as_json: bool = False) -> bool:
    """Say what would be imported, ask (terminal or pipe; -y skips), import. True if done."""
    from roar.cli.output import print_json
    from roar.roar_cli_import import import_workspace, legacy_database, summary

    db = legacy_database(root)
    if db is None:
        return False
    counts = summary(db)
    if not as_json:
        click.echo(
            f"{db} holds roar-cli history: {counts['sessions']} session(s), {counts['jobs']} "
            f"job(s), {counts['artifacts']} artifact(s), {counts['labels']} label version(s).",
            err=True,
        )
    if not yes:
        try:
            if not click.confirm(
                "Import it into roar (the database is kept as it is)?", default=True, err=True
            ):
                return False
        except click.exceptions.Abort:
            click.echo("", err=True)
            return False
    report = import_workspace(root)
    if as_json:
        print_json(report.to_json())
    else:
        click.echo(
            f"imported {len(report.jobs)} job(s) in {len(report.sessions)} session(s), "
            f"{len(report.artifacts)} artifact hash(es), {report.labels} label version(s); "
            f"HEAD is {report.head}",
            err=True,
        )
        if report.without_blake3:
            click.echo(
                f"  {report.without_blake3} artifact reference(s) had no BLAKE3 digest: "
                "kept in their job's context.imported",
                err=True,
            )
    return True


@click.command("import")
@click.option("-y", "--yes", is_flag=True, help="Import without asking.")
@click.option("--json", "as_json", is_flag=True)
def import_(yes: bool, as_json: bool) -> None:
    """Import a roar-cli 0.4.7 workspace (.roar/roar.db) here: sessions, jobs, artifacts
    with all their hashes, labels. The old database is kept."""
    from roar.errors import NotAWorkspace, UsageError
    from roar.roar_cli_import import legacy_database

    here = Path.cwd().resolve()
    root = next((d for d in (here, *here.parents) if (d / ".roar").is_dir()), None)
    if root is None:
        raise NotAWorkspace("no .roar/ here or above: nothing to import")
    if legacy_database(root) is None:
        raise UsageError(
            f"{root / '.roar'} is already a roar workspace"
            + (
                " (imported before: .roar/import/roar-cli.json)"
                if (root / ".roar/import/roar-cli.json").exists()
                else ""
            )
        )
    if not offer(root, yes=yes, as_json=as_json):
        raise click.exceptions.Exit(1)
