"""Register: negotiate what the remote lacks, send it as one pack, move the ref.

The remote ref moves only by compare-and-swap from the value the negotiation
reported, and only as a fast-forward of it (the remote's head must be in the
local chain), so two machines pushing one session name never lose a step.
"""

from __future__ import annotations

from dataclasses import dataclass

from roar.errors import RemoteError
from roar.objects.pack import encode_pack
from roar.remote.client import Progress, RemoteClient
from roar.remote.closure import Plan
from roar.remote.remotes import Remote
from roar.workspace import Workspace


@dataclass(frozen=True)
class PushReport:
    objects: int  # in the plan
    sent: int  # objects in the pack
    pack_bytes: int
    namespace: str
    ref: str | None  # remote ref moved
    stored: int


def push(
    ws: Workspace,
    remote: Remote,
    client: RemoteClient,
    p: Plan,
    *,
    progress: Progress | None = None,
) -> PushReport:
    ids = sorted(p.objects)
    ref = p.remote_ref
    negotiation = client.negotiate(ids, ref)
    old = negotiation.ref
    if ref is not None and old is not None and old != p.target.hash and old not in p.objects:
        name = ref.removeprefix("sessions/")
        raise RemoteError(
            f"{remote.name} has session {name} at {old[:12]}, which is not in this session: "
            f"another workspace registered under that name. Register this one under another: "
            f"`roar register --as <name>` (or see theirs: `roar fetch {old[:12]}`)"
        )
    # Only what the user confirmed: a server that calls any other id "missing"
    # (a private job of another session, say) gets nothing for it.
    missing = [i for i in negotiation.missing if i in p.objects]
    pack = encode_pack(ws.objects.pack_entries(missing))
    move = ref is not None and old != p.target.hash
    if not missing and not move:
        result = {"stored": 0, "namespace": negotiation.namespace}
    else:
        result = client.push(
            pack,
            ref if move else None,
            old,
            p.target.hash if move else None,
            progress=progress,
        )
    if ref is not None:
        ws.refs.update(remote.tracking_ref(ref), p.target.hash, message=f"register to {remote.url}")
    return PushReport(
        objects=len(ids),
        sent=len(missing),
        pack_bytes=len(pack) if missing or move else 0,
        namespace=str(result.get("namespace", negotiation.namespace)),
        ref=ref,
        stored=int(result.get("stored", 0)),
    )


def _newest_git(p: Plan) -> dict | None:  # type: ignore[type-arg]
    from roar.objects.job import Job

    jobs = [p.objects[j] for j in p.jobs]
    jobs = [j for j in jobs if isinstance(j, Job) and isinstance(j.context.get("git"), dict)]
    return max(jobs, key=lambda j: j.started_ns).context["git"] if jobs else None


def push_git_tag(p: Plan, tag: str) -> str:
    """Push `refs/tags/<tag>` from the local repository to its git remote (the one
    recorded with the job, else the repository's current one); the remote's URL.
    RemoteError when there is none or the push fails."""
    import io
    import os

    from dulwich import porcelain

    from roar.capture.git import current_remote

    git = _newest_git(p) or {}
    repo_path, commit = git.get("repo"), git.get("commit")
    if not isinstance(repo_path, str) or not isinstance(commit, str):
        raise RemoteError(f"tag {tag} not pushed: no git repository recorded")
    url = git.get("remote") or current_remote(repo_path, commit)
    if not isinstance(url, str) or not url:
        raise RemoteError(f"tag {tag} not pushed: the repository has no git remote "
                          "(`git remote add origin <url>`)")  # fmt: skip
    if url.startswith(("./", "../")):
        url = os.path.normpath(os.path.join(repo_path, url))
    ref = f"refs/tags/{tag}".encode()
    try:
        porcelain.push(repo_path, url, [ref + b":" + ref], outstream=io.BytesIO(),
                       errstream=io.BytesIO())  # fmt: skip
    except Exception as e:  # dulwich raises many kinds: network, auth, refused
        raise RemoteError(f"tag {tag} not pushed to {url}: {e}") from None
    return url


def tag_git_commit(ws: Workspace, p: Plan) -> str | None:
    """Tag, in the local git repository, the commit the newest job ran at; the tag name."""
    git = _newest_git(p)
    if git is None:
        return None
    repo_path, commit = git.get("repo"), git.get("commit")
    if not isinstance(repo_path, str) or not isinstance(commit, str):
        return None
    from dulwich.errors import NotGitRepository
    from dulwich.repo import Repo

    try:
        repo = Repo(repo_path)
    except (NotGitRepository, FileNotFoundError, OSError):
        return None
    try:
        if commit.encode() not in repo.object_store:
            return None
        name = f"roar/{p.target.hash[:12]}"
        ref = f"refs/tags/{name}".encode()
        if ref not in repo.refs:
            repo.refs[ref] = commit.encode()
        return name
    finally:
        repo.close()
