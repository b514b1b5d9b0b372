"""Inspection: `show`, `lineage`, `inputs`. Names resolve and answers come from the
lineage core (roar/lineage/); this module only prints."""

from __future__ import annotations

import os
from typing import Any

import click

from roar.cli import showtext
from roar.errors import NotFound, UsageError
from roar.workspace import Workspace


@click.command()
@click.argument("target", required=False)
@click.option(
    "--session", "as_session", is_flag=True, help="Show the session (TARGET's, or active)."
)
@click.option("--job", "job_ref", metavar="REF", help="Show a job: @N, @BN, or a job id prefix.")
@click.option("--artifact", "artifact_ref", metavar="HASH", help="Show an artifact by hash.")
@click.option("--path", "path_ref", metavar="PATH", help="Show the artifact a file holds.")
@click.option("--all", "show_all", is_flag=True, help="Also list the packages a job read.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--remote", "remote", is_flag=True, help="Ask the default GLaaS remote instead.")
def show(
    target: str | None,
    as_session: bool,
    job_ref: str | None,
    artifact_ref: str | None,
    path_ref: str | None,
    show_all: bool,
    as_json: bool,
    remote: bool,
) -> None:
    """Show the session, a step (@N, @BN), a job, a session, or an artifact (hash or path).

    The text is roar-cli 0.4.7's (docs/roar-cli-compat.md); --json is ours.
    """
    want, target = _selected("show", target, job_ref, artifact_ref, path_ref, as_session)
    if remote:
        if not target:
            raise UsageError("roar show --remote needs a hash")
        _show_remote(target, as_json)
        return
    from roar.cli.output import print_json
    from roar.index.source import local
    from roar.lineage.producers import Facts
    from roar.lineage.views import artifact_view, session_view

    ws = Workspace.find()
    track_repo_files = bool(ws.config.get("output.track_repo_files"))
    source, resolver = local(ws)
    facts = Facts(source)
    ref = resolver.active_ref
    data: dict[str, Any]
    if target is None:
        data = session_view(facts, ws.refs.read(ref), ref).to_json()
    else:
        t = _resolve_selected(resolver, want, target)
        if t.kind in ("step", "job"):
            data = _job_detail(facts, t.id, ref, track_repo_files)
        elif t.kind == "artifact":
            data = artifact_view(facts, t.id, ref).to_json()
            data["path"] = os.path.abspath(target) if t.path is not None else None
            if data["size"] is None:  # bytes no job recorded: their size is the file's
                data["size"] = t.size
        elif t.kind == "session":
            data = session_view(facts, t.id, t.ref).to_json()
        else:
            raise NotFound(
                f"{target} is a {t.object_kind} object; try `roar cat-object {t.id[:12]}`"
            )
    if as_json:
        print_json(data)
        return
    from roar import labels

    if "artifact" in data:
        lines = showtext.artifact(data, labels.labels_of(ws, [data["artifact"]]))
    elif "steps" in data:
        lines = showtext.session(facts, data)
    else:
        lines = showtext.job(data, labels.labels_of(ws, [data["id"]]), show_all)
    click.echo("\n".join(lines))


def _show_remote(target: str, as_json: bool) -> None:
    """`show --remote`: an artifact in roar-cli's layout for one found on GLaaS (its
    producer on top, docs/roar-cli-compat.md); a job or session as `roar remote
    lookup` prints it; `--json` is the lookup's answer (docs/protocol.md §5)."""
    from roar.cli.output import print_json
    from roar.cli.register import remote_hash
    from roar.cli.remote import print_lookup
    from roar.objects.base import is_id
    from roar.remote.client import connect

    _, client = connect(Workspace.find(), None)
    found = client.lookup(remote_hash(client, target))
    if as_json:
        print_json(found)
        return
    digest = found.get("hash")
    if found.get("object_kind") is None and isinstance(found.get("artifact"), dict):
        if isinstance(digest, str) and is_id(digest):
            click.echo("\n".join(showtext.remote_artifact(client.artifact(digest))))
            return
    print_lookup(found)


def _selected(
    command: str,
    target: str | None,
    job_ref: str | None,
    artifact_ref: str | None,
    path_ref: str | None,
    as_session: bool = False,
) -> tuple[str | None, str | None]:
    """(kind asked for, target) from roar-cli's selectors `--job REF`, `--artifact HASH`,
    `--path PATH` (and show's `--session`), or the bare TARGET; at most one."""
    selectors = [(k, v) for k, v in (("job", job_ref), ("artifact", artifact_ref),
                                     ("path", path_ref)) if v is not None]  # fmt: skip
    if len(selectors) + (target is not None) > 1 or (as_session and selectors):
        raise UsageError(f"{command} takes one target: REF, --job, --artifact or --path")
    if selectors:
        return selectors[0]
    return ("session" if as_session else None), target


def _resolve_selected(resolver: Any, want: str | None, target: str) -> Any:
    """The target resolved, refused when it is not the kind its selector asked for."""
    if want == "path" and not os.path.lexists(target):
        raise NotFound(f"{target}: no such file")
    t = resolver.resolve(target)
    allowed = {
        "job": ("step", "job"),
        "artifact": ("artifact",),
        "path": ("artifact",),
        "session": ("session",),
    }.get(want or "", (t.kind,))
    if t.kind not in allowed:
        raise UsageError(f"{target} names {t.describe()}, not a {want}")
    return t


def _job_detail(facts: Any, job_id: str, ref: str, track_repo_files: bool) -> dict[str, Any]:
    from roar.capture.packages import job_packages
    from roar.lineage.views import job_view

    view = job_view(facts, job_id, ref, context=True)
    job = view.job
    read = job_packages(job)
    extra: dict[str, Any] = {}
    git = job.context.get("git")
    if track_repo_files and isinstance(git, dict):
        # roar-cli's output.track_repo_files: the repository's files the job read.
        from roar.capture.git import files_at_commit

        found = files_at_commit(
            os.fsdecode(git["repo"]), str(git["commit"]), [a.path for a in job.inputs]
        )
        extra["repo_files"] = None if found is None else [os.fsdecode(p) for p in found]
    return {
        **extra,
        **view.to_json(),
        "git": job.context.get("git"),
        "env": job.context.get("env"),
        "packages_read": {
            "pip": [f"{n}=={v}" for n, v in read.pip],
            "dpkg": [f"{n}={v}" for n, v in read.dpkg],
            "code": [c.to_json() for c in read.code],
            "recorded": read.recorded,
        },
    }


@click.command()
@click.argument("artifact")
@click.option(
    "-o", "--output", "fmt", type=click.Choice(["json"]), default="json", help="Always JSON."
)
@click.option("-d", "--depth", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many levels of jobs upstream to follow.")  # fmt: skip
def lineage(artifact: str, fmt: str, depth: int) -> None:
    """Print the upstream jobs and artifacts of ARTIFACT (hash or path) as JSON,
    oldest job first, in roar-cli's shape (our fields beside)."""
    from roar.cli.output import print_json
    from roar.index.source import local
    from roar.lineage.producers import Facts
    from roar.lineage.views import lineage_view

    source, resolver = local(Workspace.find())
    t = resolver.resolve(artifact)
    if t.kind != "artifact":
        raise UsageError(f"{artifact} is a {t.kind}; lineage takes an artifact (path or hash)")
    view = lineage_view(Facts(source), t.id, resolver.active_ref, path=artifact, max_depth=depth)
    print_json(view.to_json())


@click.command()
@click.argument("target", required=False)
@click.option(
    "--job", "job_ref", metavar="REF", help="The target is a job: @N, @BN, or an id prefix."
)
@click.option(
    "--artifact", "artifact_ref", metavar="HASH", help="The target is an artifact, by hash."
)
@click.option("--path", "path_ref", metavar="PATH", help="The target is the artifact a file holds.")
@click.option("--direct", "mode", flag_value="direct", help="Only what the target read itself.")
@click.option("--all", "mode", flag_value="all", help="Every input upstream, intermediates too.")
@click.option("--unsourced", "which", flag_value="unsourced", help="Only unsourced inputs.")
@click.option("--sourced", "which", flag_value="sourced", help="Only sourced inputs.")
@click.option("--json", "as_json", is_flag=True)
def inputs(
    target: str | None,
    job_ref: str | None,
    artifact_ref: str | None,
    path_ref: str | None,
    mode: str | None,
    which: str | None,
    as_json: bool,
) -> None:
    """List the root inputs of TARGET (an artifact, job or step; the active session when
    omitted): what its lineage read that no recorded job wrote.

    An input is unsourced when it would not exist on another machine: no recorded job
    or `roar get` produced it and it is not in the git repository at the recorded
    commit (the reproduction plan's rule, `roar reproduce --plan`).
    """
    from roar.cli.output import print_json
    from roar.display import printable
    from roar.index.source import local
    from roar.lineage.chain import live
    from roar.lineage.closure import upstream
    from roar.lineage.producers import Facts, producer_of
    from roar.reproduce.plan import make_plan

    want, target = _selected("inputs", target, job_ref, artifact_ref, path_ref)
    ws = Workspace.find()
    source, resolver = local(ws)
    facts = Facts(source)
    if target is not None:
        t = _resolve_selected(resolver, want, target)
    else:
        t = resolver.resolve("HEAD") if ws.refs.read(resolver.active_ref) else None
    if t is not None and t.kind not in ("artifact", "job", "step", "session"):
        raise UsageError(f"{target} is a {t.describe()}; inputs takes an artifact, job or step")
    is_root = t is not None and t.kind == "artifact" and producer_of(facts, t.id) is None
    rows: list[dict[str, Any]] = []
    if t is not None and not is_root:
        if t.kind == "session":
            if mode is not None:
                raise UsageError("--direct and --all take a target (an artifact, job or step)")
            lin = upstream(facts, jobs=[s.job for s in live(source.chain(t.id))])
        else:
            lin = upstream(
                facts, **({"hashes": [t.id]} if t.kind == "artifact" else {"jobs": [t.id]})
            )
        roots = {h for h, p in lin.produced_by.items() if p is None or lin.jobs[p].type == "get"}
        jobs = list(lin.jobs.values())[: 1 if mode == "direct" else None]
        seen: dict[str, tuple[bytes, str, int]] = {}
        for job in jobs:
            for a in job.inputs:
                if mode is not None or a.hash in roots:
                    seen.setdefault(a.hash, (a.path, a.hash, a.size))
        # Whether a root input exists elsewhere is the reproduction plan's rule.
        plan = make_plan(ws, t.id if t.kind != "session" else (target or "HEAD"))
        status = {i.hash: i.status for i in plan.inputs}
        for path, digest, size in seen.values():
            state = status.get(digest, "missing") if digest in roots else "produced"
            rows.append(
                {
                    "artifact_id": digest,
                    "path": os.fsdecode(path),
                    "size": size,
                    "hashes": [{"algorithm": "blake3", "digest": digest}],
                    "unsourced": state not in ("produced", "repository", "obtainable"),
                    "hash": digest,
                    "status": state,
                }
            )
        rows.sort(key=lambda r: r["unsourced"])  # stable: sourced first, as roar-cli lists them
    if which is not None:
        rows = [r for r in rows if r["unsourced"] == (which == "unsourced")]
    if as_json:
        print_json({"target": target, "is_root": is_root, "inputs": rows})
        return
    marked = which is None
    for r in rows:
        mark = ("⚠ " if r["unsourced"] else "  ") if marked else ""
        click.echo(printable(f"{mark}{r['path']}  blake3:{r['hash'][:12]}..."))
    if marked and any(r["unsourced"] for r in rows):
        click.echo(
            "\n⚠ unsourced: nothing tracked produced this file, so it won't exist on another "
            "machine.\n  Make it reproducible — commit code to a git repo, or ingest data with "
            "`roar get <url>` / `roar run wget <url>`."
        )
