"""`roar register [target]` and `roar fetch <hash>`: push to and pull from GLaaS."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

PROGRESS_MIN_BYTES = 1024 * 1024


@contextmanager
def _progress(label: str) -> Iterator:  # type: ignore[type-arg]
    """A rich progress bar on a terminal for transfers over 1 MiB; silent otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        f"[bold]{label}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            if total >= PROGRESS_MIN_BYTES or done >= PROGRESS_MIN_BYTES:
                bar.update(task, completed=done, total=total or None)

        yield update


@click.command()
@click.argument("target", required=False)
@click.option("--remote", "remote_name", help="Remote to register to.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Show what would be published and a reproducibility checklist; offline.",
)
@click.option(
    "-y",
    "--yes",
    is_flag=True,
    help="Publish anonymously and send secrets redacted, without asking.",
)
@click.option(
    "--public/--private",
    "public",
    default=None,
    help="Publish publicly or privately (default: the scope, `roar scope`).",
)
@click.option("--anonymous", is_flag=True, help="Publish publicly and unattributed.")
@click.option("--as", "as_name", metavar="NAME",
              help="The session's name on the registry, kept for the next register "
              "(default: its local name and this workspace's id, e.g. main-1a2b3c4d).")  # fmt: skip
@click.option("--push-tag", is_flag=True,
              help="Push the roar/<id> tag register makes on the code's commit to the git "
              "remote, so others find the commit.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
def register(
    target: str | None,
    remote_name: str | None,
    dry_run: bool,
    yes: bool,
    public: bool | None,
    anonymous: bool,
    as_name: str | None,
    push_tag: bool,
    as_json: bool,
) -> None:
    """Register TARGET's lineage (artifact path or hash, @N, job, session; default: the
    active session) with a GLaaS remote."""
    from roar.cli.output import warn
    from roar.display import printable
    from roar.errors import SecretsFound
    from roar.remote.closure import plan, resolve_target
    from roar.remote.redaction import redact, scan
    from roar.remote.remotes import get_remote
    from roar.workspace import Workspace

    ws = Workspace.find()
    p = plan(ws, resolve_target(ws, target, as_name))
    filtering = bool(ws.config.get("registration.omit.enabled"))
    hits = scan(p) if filtering else []
    if not filtering and not as_json:
        warn("secret filtering is off (registration.omit.enabled = false): nothing is redacted")
    for h in hits:
        warn(f"secret in {h.kind} {h.object[:12]}: {printable(h.where)}")
    remote = get_remote(ws, remote_name)
    scope = _scope(ws, remote.url, public, anonymous)
    if dry_run:
        _dry_run(ws, p, remote, scope, hits, target, as_json)
        return
    if hits:
        if not yes and not (
            sys.stdin.isatty() and click.confirm("Send these redacted?", default=False)
        ):
            raise SecretsFound(
                f"{len(hits)} secret(s) would be sent; re-run with -y to send them redacted"
            )
        p = redact(ws, p)
    # What would make it unreproducible, said while it can still be fixed.
    for check in _checks(ws, p):
        if check.ok is False:
            warn(f"{check.name}: {check.detail}")
    if scope == "anonymous" and not yes:
        _confirm_anonymous()
    _push_and_report(ws, p, remote, scope, as_json, push_tag)
    if as_name is not None and p.target.ref is not None:
        from roar.sessions import set_remote_name

        set_remote_name(ws, p.target.ref, as_name)


def _scope(ws, url: str, public: bool | None, anonymous: bool) -> str:  # type: ignore[no-untyped-def]
    """roar-cli's --public/--private/--anonymous over the workspace's scope.

    --anonymous is public and unattributed; --public is attributed when logged
    in, else anonymous (as roar-cli's matrix has it); --private needs a login.
    """
    from roar.errors import UsageError
    from roar.remote.logins import get_login
    from roar.remote.scope import effective_scope

    if anonymous:
        if public is False:
            raise UsageError("--anonymous publishes publicly; it cannot be --private")
        return "anonymous"
    if public is None:
        return effective_scope(ws, url).scope
    logged_in = get_login(url) is not None
    if public:
        return "public" if logged_in else "anonymous"
    if not logged_in:
        raise UsageError(f"--private needs a login to {url}: run `roar login` first")
    return "private"


def _confirm_anonymous() -> None:
    """Ask before publishing where anyone can read it (a terminal or a pipe; -y skips)."""
    from roar.errors import UsageError

    click.echo(
        "Not logged in: this publishes anonymously and publicly (anyone with the hash can "
        "read it). `roar login` keeps runs private.",
        err=True,
    )
    try:
        if click.confirm("Publish anonymously?", default=False, err=True):
            return
    except click.exceptions.Abort:
        click.echo("", err=True)
    raise UsageError("not registered (answer y, or pass -y to publish anonymously)")


def _push_and_report(ws, p, remote, scope: str, as_json: bool, push_tag: bool) -> None:  # type: ignore[no-untyped-def]
    from roar.cli.output import print_json, warn
    from roar.identity.keys import load_key
    from roar.remote.client import RemoteClient
    from roar.remote.push import push, tag_git_commit
    from roar.remote.remotes import web_url

    client = RemoteClient(remote.url, load_key(), scope)
    with _progress("register") as progress:
        report = push(ws, remote, client, p, progress=progress)
    tag = tag_git_commit(ws, p)
    tag_pushed = None
    if tag and push_tag:
        from roar.errors import RemoteError
        from roar.remote.push import push_git_tag

        try:
            tag_pushed = push_git_tag(p, tag)
        except RemoteError as e:
            warn(str(e))
    web = web_url(ws, remote)
    page = {"artifact": "artifacts", "job": "jobs", "session": "sessions"}[p.target.kind]
    link = f"{web}/{page}/{p.target.hash}"
    reproduce = f"roar reproduce {p.target.hash}"
    if as_json:
        print_json(
            {
                "target": {"kind": p.target.kind, "hash": p.target.hash},
                "remote": remote.url,
                "scope": client.scope,
                "namespace": report.namespace,
                "objects": report.objects,
                "sent": report.sent,
                "pack_bytes": report.pack_bytes,
                "ref": report.ref,
                "git_tag": tag,
                "git_tag_pushed_to": tag_pushed,
                "reproduce": reproduce,
                "url": link,
            }
        )
        return
    click.echo(
        f"registered {p.target.kind} {p.target.hash[:12]} to {remote.url} (scope {client.scope}): "
        f"sent {report.sent} of {report.objects} objects, {report.pack_bytes} bytes"
    )
    if report.ref:
        click.echo(f"session: {report.ref.removeprefix('sessions/')} on {remote.name}")
    if tag:
        click.echo(f"tagged git commit as {tag}")
        if tag_pushed:
            click.echo(f"pushed tag {tag} to {tag_pushed}")
        elif not push_tag:
            click.echo(f"  (local only: `roar register --push-tag`, or `git push origin {tag}`)")
    click.echo(f"reproduce: {reproduce}")
    click.echo(f"view: {link}")


def remote_hash(client, text: str) -> str:  # type: ignore[no-untyped-def]
    """The full hash a registry knows by `text`: a full hash, or a unique prefix of
    at least 8 hex digits (as the local resolver reads prefixes)."""
    from roar.errors import Ambiguous, NotFound, UsageError
    from roar.lineage.resolve import MIN_PREFIX, is_digest_text, is_hash_text
    from roar.objects.base import is_id

    digest = text.lower()
    if not is_hash_text(digest):
        raise UsageError(f"{text} is not a hash, or a prefix of {MIN_PREFIX}+ hex digits")
    if is_id(digest):
        return digest
    # What the server says is checked: only full ids that start with the prefix count;
    # for another digest (sha256:<hex>, a full md5), only artifacts, which the fetched
    # jobs' recorded digests then confirm when the name is resolved here.
    other = is_digest_text(digest)
    kinds = {
        h: str(m.get("kind") or "object")[:20]
        for m in client.resolve(digest)
        if isinstance(m, dict) and isinstance(h := m.get("hash"), str) and is_id(h)
        and (h.startswith(digest) or other and m.get("kind") == "artifact")
    }  # fmt: skip
    matches = sorted(kinds)
    if len(matches) > 1:
        from roar.display import printable

        listed = ", ".join(printable(f"{kinds[m]} {m[:16]}") for m in matches[:10])
        raise Ambiguous(f"{text} names {len(matches)} hashes on {client.url}: {listed}; "
                        "give more digits")  # fmt: skip
    if not matches:
        raise NotFound(f"{text} is not known to {client.url}")
    return matches[0]


def _dry_run(ws, p, remote, scope: str, hits, target: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    """What would be published, and whether it would reproduce elsewhere; sends nothing."""
    from roar.cli.output import print_json

    kinds: dict[str, int] = {}
    for obj in p.objects.values():
        kinds[obj.kind] = kinds.get(obj.kind, 0) + 1
    known = _known_to_remote(ws, remote)
    would_send = sum(1 for oid in p.objects if oid not in known)
    checks = _checks(ws, p)
    checks.append(_secrets_check(hits))
    scored = [c for c in checks if c.ok is not None]
    passed = sum(1 for c in scored if c.ok)
    if as_json:
        print_json(
            {
                "target": {"kind": p.target.kind, "hash": p.target.hash},
                "remote": remote.url,
                "scope": scope,
                "objects": kinds,
                "would_send": would_send,
                "ref": p.remote_ref,
                "secrets": [{"object": h.object, "kind": h.kind, "where": h.where} for h in hits],
                "checklist": [c.to_json() for c in checks],
                "reproducible": {"passed": passed, "of": len(scored)},
            }
        )
        return
    what = target or "active session"
    click.echo(f"Dry run: would register lineage for: {what}")
    click.echo(f"  {p.target.kind}: {p.target.hash}")
    click.echo(f"  Jobs: {kinds.get('job', 0)}")
    click.echo(
        f"  Objects: {len(p.objects)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}), "
        f"{would_send} not yet on {remote.url} as far as this workspace knows"
    )
    click.echo(f"  Scope: {scope}")
    click.echo("")
    click.echo(f"Reproducibility — {passed}/{len(scored)}")
    for c in checks:
        mark = {True: "✅", False: "❌", None: "-"}[c.ok]
        click.echo(f"  [{mark}] {c.name}")
        click.echo(f"       {'→ ' if c.ok is False else ''}{c.detail}")
    if passed < len(scored):
        click.echo("⚠  This lineage may not reproduce as recorded — see the unchecked items.")
    if scope == "anonymous":
        click.echo(
            "Scope anonymous: publishing would be public and unattributed "
            "(`roar register` asks first; -y does not ask).",
            err=True,
        )


def _checks(ws, p):  # type: ignore[no-untyped-def]
    """The reproducibility checklist of the plan's target (roar.reproduce.checklist)."""
    from roar.errors import NotFound
    from roar.objects.job import Job
    from roar.reproduce.checklist import checklist
    from roar.reproduce.plan import make_plan

    try:
        if p.target.kind == "session":
            rplan = make_plan(ws, p.target.hash, lineage=True)
        elif p.target.kind == "artifact":
            rplan = make_plan(ws, p.target.hash)
        else:
            job = p.objects[p.target.hash]
            assert isinstance(job, Job)
            if not job.outputs:
                return []
            rplan = make_plan(ws, job.outputs[0].hash)
    except NotFound:
        return []
    dirty = outside = 0
    for step in rplan.steps:
        git = ws.objects.read(step.job).context.get("git")
        dirty += bool(isinstance(git, dict) and git.get("dirty"))
        outside += not isinstance(git, dict)
    return checklist(ws, rplan, dirty, outside)


def _secrets_check(hits):  # type: ignore[no-untyped-def]
    from roar.reproduce.checklist import Check

    if not hits:
        return Check("no secrets in published lineage", True, "none detected")
    return Check(
        "no secrets in published lineage",
        False,
        f"{len(hits)} found; `roar register -y` sends them redacted",
    )


def _known_to_remote(ws, remote) -> set[str]:  # type: ignore[no-untyped-def]
    """Objects the remote had when this workspace last pushed to or fetched from it:
    the chains of its remote-tracking refs, their jobs and what the jobs reference."""
    from roar.index.source import local

    source, _ = local(ws)
    chains = source.session_refs()
    known: set[str] = set()
    jobs: set[str] = set()
    for ref, head in ws.refs.list(f"refs/remotes/{remote.name}/").items():
        if ref not in chains:
            known.add(head)
            continue
        for s in source.chain(head):
            known.add(s.session_object)
            jobs.add(s.job)
    for job in jobs:
        known.add(job)
        if ws.objects.contains(job):
            known.update(ws.objects.read(job).references())
    return known


@click.command()
@click.argument("digest")
@click.option("--remote", "remote_name", help="Remote to fetch from.")
@click.option("--json", "as_json", is_flag=True)
def fetch(digest: str, remote_name: str | None, as_json: bool) -> None:
    """Fetch the lineage of DIGEST (artifact hash, job or session id, or a unique prefix
    of 8+ hex digits) into this workspace."""
    from roar.cli.output import print_json
    from roar.remote.client import connect
    from roar.remote.fetch import fetch as fetch_closure
    from roar.workspace import Workspace

    ws = Workspace.find()
    remote, client = connect(ws, remote_name)
    digest = remote_hash(client, digest)
    with _progress("fetch") as progress:
        report = fetch_closure(ws, remote, client, digest, progress=progress)
    if as_json:
        print_json(
            {
                "hash": digest,
                "remote": remote.url,
                "objects": report.received,
                "pack_bytes": report.pack_bytes,
                "refs": [{"ref": r, "target": t} for r, t in report.refs],
            }
        )
        return
    click.echo(f"fetched {report.received} objects ({report.pack_bytes} bytes) from {remote.url}")
    for ref, target in report.refs:
        click.echo(f"  {ref} -> {target[:12]}")
