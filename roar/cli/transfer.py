"""`roar get` and `roar put`: record data crossing the workspace boundary."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.command()
@click.argument("url")
@click.argument("dest", required=False)
@click.option("-o", "--output", help="Destination (roar-cli's spelling of DEST).")
@click.option(
    "--hash", "expected", help="Refuse the content unless its BLAKE3 (or tree id) is this."
)
@click.option("--force", is_flag=True, help="Replace an existing destination.")
@click.option("--dry-run", is_flag=True, help="Show what would be downloaded; do nothing.")
@click.option("-m", "--message", help="A note kept with the get job (its `message` label).")
@click.option("-n", "--name", help="Name this step (the job's `name` label).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing on success.")
@click.option("--json", "as_json", is_flag=True)
def get(
    url: str,
    dest: str | None,
    output: str | None,
    expected: str | None,
    force: bool,
    dry_run: bool,
    message: str | None,
    name: str | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Download URL (http(s)://, file://, s3://) to DEST and record it as a get job."""
    from roar.cli.output import print_json
    from roar.cli.register import _progress
    from roar.display import printable
    from roar.errors import UsageError
    from roar.objects.base import is_id
    from roar.transfer.boundary import destination
    from roar.transfer.boundary import get as get_url
    from roar.workspace import Workspace

    if dest is not None and output is not None and dest != output:
        raise UsageError("give the destination once: as DEST or as -o/--output")
    dest = dest if dest is not None else output
    if expected is not None and not is_id(expected.lower()):
        raise UsageError("--hash takes a full 64-character BLAKE3 hash")
    ws = Workspace.find()
    if dry_run:
        target = destination(url, dest)
        if as_json:
            print_json({"dry_run": True, "url": url, "destination": str(target)})
        else:
            click.echo(
                f"Dry run - would download:\n  {printable(url)} -> {printable(str(target))}"
                "\n\nTotal: 1 file(s)"
            )
        return
    with _progress("get") as progress:
        recorded = get_url(ws, url, dest, expected=expected, progress=progress, force=force)
    _label_job(ws, recorded.job, name, message)
    moved = recorded.artifacts[0]
    if as_json:
        print_json(_summary(recorded))
    elif not quiet:
        click.echo(
            f"roar: {recorded.step} get {moved.hash[:12]}  {moved.kind}  {moved.size} bytes  "
            f"-> {printable(os.path.relpath(moved.path))}"
        )


@click.command()
@click.argument("args", nargs=-1, required=True)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be uploaded; move and record nothing."
)
@click.option("--no-register", is_flag=True, help="Record the put job but do not register it.")
@click.option("--remote", "remote_name", help="Remote to register to.")
@click.option("-m", "--message", help="A note kept with the put job (its `message` label).")
@click.option("-n", "--name", help="Name this step (the job's `name` label).")
@click.option("--no-tag", is_flag=True, help="roar-cli's; put tags no git commit here.")
@click.option("-y", "--yes", is_flag=True, help="Register anonymously without asking.")
@click.option("--json", "as_json", is_flag=True)
def put(
    args: tuple[str, ...],
    dry_run: bool,
    no_register: bool,
    remote_name: str | None,
    message: str | None,
    name: str | None,
    no_tag: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Upload PATHS... to URL (the last argument), record a put job, then register it."""
    from roar.cli.output import print_json
    from roar.cli.register import _progress
    from roar.display import printable
    from roar.errors import UsageError
    from roar.transfer.boundary import put as put_paths
    from roar.workspace import Workspace

    if len(args) < 2:
        raise UsageError("usage: roar put PATH... URL")
    *paths, url = args
    ws = Workspace.find()
    with _progress("put") as progress:
        recorded = put_paths(ws, [Path(p) for p in paths], url, dry_run=dry_run, progress=progress)
    if not dry_run:
        _label_job(ws, recorded.job, name, message)
    registered = None
    if not dry_run and not no_register and recorded.job and _remote_configured(ws, remote_name):
        registered = _register(ws, recorded.job, remote_name, yes)
    if as_json:
        print_json({**_summary(recorded), "dry_run": dry_run, "registered": registered})
        return
    verb = "would put" if dry_run else f"roar: {recorded.step} put"
    for m in recorded.artifacts:
        click.echo(
            f"{verb} {m.hash[:12]}  {m.kind}  {m.size} bytes  "
            f"{printable(str(m.path))} -> {printable(m.url)}"
        )
    if registered:
        click.echo(f"registered job {recorded.job[:12]} to {registered}")  # type: ignore[index]


def _label_job(ws, job: str | None, name: str | None, message: str | None) -> None:  # type: ignore[no-untyped-def]
    """roar-cli's -n/--name and -m/--message, kept as the job's labels."""
    changes = {k: v for k, v in (("name", name), ("message", message)) if v is not None}
    if job and changes:
        from roar import labels

        labels.update(ws, job, changes)


def _summary(recorded) -> dict:  # type: ignore[no-untyped-def]
    return {
        "job": recorded.job,
        "step": recorded.step,
        "artifacts": [
            {"path": str(m.path), "hash": m.hash, "size": m.size, "kind": m.kind, "url": m.url}
            for m in recorded.artifacts
        ],
    }


def _remote_configured(ws, name: str | None) -> bool:  # type: ignore[no-untyped-def]
    from roar.config import BY_KEY
    from roar.remote.remotes import list_remotes

    if name is not None or list_remotes(ws):
        return True
    return bool(ws.config.get("glaas.url") != BY_KEY["glaas.url"].default)


def _register(ws, job: str, remote_name: str | None, yes: bool) -> str | None:  # type: ignore[no-untyped-def]
    """Push the put job's lineage; a refusal is a warning, the upload already happened."""
    from roar.cli.output import warn
    from roar.errors import RoarError
    from roar.remote.client import connect
    from roar.remote.closure import Target, plan
    from roar.remote.push import push
    from roar.remote.redaction import scan

    p = plan(ws, Target("job", job))
    if ws.config.get("registration.omit.enabled") and scan(p):
        warn("the lineage holds secrets; not registered (see `roar register --dry-run @N`)")
        return None
    try:
        remote, client = connect(ws, remote_name)
        if client.scope == "anonymous" and not yes:
            from roar.cli.register import _confirm_anonymous

            _confirm_anonymous()
        push(ws, remote, client, p)
    except RoarError as e:
        warn(f"uploaded and recorded, but not registered: {e}")
        return None
    return str(remote.url)
