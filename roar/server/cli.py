"""`glaas-server`: run the registry, and `glaas-server admin ...` for the operator.

With no database URL it keeps everything in SQLite under a data directory
(zero setup); `--database-url postgresql+psycopg://...` is the multi-process
deployment. It binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

DEFAULT_DATA_DIR = "glaas-data"


def resolve_database_url(data_dir: str | None, url: str | None) -> str:
    if url:
        return url
    directory = Path(data_dir or os.environ.get("GLAAS_DATA_DIR", DEFAULT_DATA_DIR))
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory.resolve() / 'glaas.sqlite3'}"


_db_options = [
    click.option("--data-dir", envvar="GLAAS_DATA_DIR", help="SQLite data directory."),
    click.option("--database-url", envvar="GLAAS_DATABASE_URL", help="SQLAlchemy URL."),
]


def db_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(_db_options):
        f = option(f)
    return f


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """GLaaS: the lineage registry roar pushes to. With no command, `serve`."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@db_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8484, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option("--log-level", default="warning", show_default=True)
def serve(
    data_dir: str | None = None,
    database_url: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8484,
    workers: int = 1,
    log_level: str = "warning",
) -> None:
    """Serve the API (OpenAPI at /docs)."""
    import uvicorn

    url = resolve_database_url(data_dir, database_url)
    os.environ["GLAAS_DATABASE_URL"] = url
    _open(url).close()  # create the schema once, before the workers start
    uvicorn.run(
        "roar.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )


@main.group()
def admin() -> None:
    """Operator commands: accounts, projects, statistics."""


def _storage(data_dir: str | None, database_url: str | None):  # type: ignore[no-untyped-def]
    return _open(resolve_database_url(data_dir, database_url))


def _open(url: str):  # type: ignore[no-untyped-def]
    """The registry's storage, or a one-line error (a database this version refuses)."""
    from roar.errors import RoarError
    from roar.server.storage import Storage

    try:
        return Storage(url)
    except RoarError as e:
        raise click.ClickException(str(e)) from None


@admin.command("stats")
@db_options
def stats(data_dir: str | None, database_url: str | None) -> None:
    """Row counts of the registry's tables, as JSON."""
    click.echo(json.dumps(_storage(data_dir, database_url).stats(), indent=2))


@admin.command("accounts")
@db_options
def accounts(data_dir: str | None, database_url: str | None) -> None:
    """List accounts and their number of keys, as JSON."""
    found = _storage(data_dir, database_url).accounts.all()
    click.echo(json.dumps([a.to_json() for a in found], indent=2))


@admin.command("create-account")
@db_options
@click.argument("name")
@click.argument("public_key_file", type=click.Path(exists=True, dir_okay=False))
def create_account(
    data_dir: str | None, database_url: str | None, name: str, public_key_file: str
) -> None:
    """Create account NAME with the ssh-ed25519 key in PUBLIC_KEY_FILE."""
    from roar.identity.keys import PublicKey
    from roar.server.scope import valid_name

    if not valid_name(name):
        raise click.ClickException("account names are 1-63 of a-z 0-9 _ . - (lower case)")
    try:
        key = PublicKey.parse(Path(public_key_file).read_text())
    except ValueError as e:
        raise click.ClickException(str(e)) from None
    from roar.server.errors import RegistryError

    try:
        _storage(data_dir, database_url).accounts.create(name, key.openssh, key.fingerprint)
    except RegistryError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"created account {name} ({key.fingerprint})")


@admin.command("delete-account")
@db_options
@click.argument("name")
def delete_account(data_dir: str | None, database_url: str | None, name: str) -> None:
    """Delete account NAME: its keys, memberships and browser logins go; what it
    registered stays, and the name is never given to anyone else."""
    if not _storage(data_dir, database_url).accounts.delete(name):
        raise click.ClickException(f"no account {name}")
    click.echo(f"deleted account {name}")


@admin.command("create-project")
@db_options
@click.argument("project")
@click.argument("members", nargs=-1)
def create_project(
    data_dir: str | None, database_url: str | None, project: str, members: tuple[str, ...]
) -> None:
    """Create PROJECT as owner/name, adding MEMBERS."""
    owner, _, name = project.partition("/")
    accounts = _storage(data_dir, database_url).accounts
    for who in (owner, *members):
        if not accounts.exists(who):
            raise click.ClickException(f"no account {who}")
    if not accounts.project_exists(owner, name):
        accounts.create_project(owner, name)
    for m in members:
        accounts.add_member(owner, name, m)
    click.echo(f"project {owner}/{name}: {', '.join(sorted({owner, *members}))}")
