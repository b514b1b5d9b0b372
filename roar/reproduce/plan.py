"""The reproduction plan of an artifact (or a session), read from the lineage.

Steps come from the jobs that wrote the artifact and, transitively, its
inputs (an artifact inside a composite counts as written by the composite's
job), plus the build steps of the sessions those jobs belong to. Get jobs
are not steps: they make their outputs *obtainable* root inputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roar.errors import NotFound, UsageError
from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
from roar.objects.tree import Tree
from roar.reproduce import containment
from roar.workspace import Workspace

SKIP_DIRS = {".roar", ".git", ".venv", "__pycache__", "node_modules"}


@dataclass(frozen=True)
class Source:
    """Where the code of the steps lives."""

    url: str  # the git remote the repository pushed to, else the repository itself
    repo: str  # the recorded work tree root; recorded paths under it are relocated
    commit: str
    branch: str | None
    patch: str | None  # blob id of the uncommitted changes, when the run was dirty


@dataclass(frozen=True)
class PlannedStep:
    job: str
    label: str  # "@B1", "@3", or the job id's prefix when no session holds it
    type: str  # "run" | "build"
    argv: tuple[bytes, ...]
    cwd: bytes
    inputs: tuple[ArtifactRef, ...]
    outputs: tuple[ArtifactRef, ...]
    started_ns: int
    filtered: tuple[bytes, ...] = ()  # system and package files it read

    @property
    def command(self) -> str:
        return " ".join(os.fsdecode(a) for a in self.argv)


@dataclass(frozen=True)
class Getter:
    """A recorded get job that can fetch a root input again."""

    job: str
    url: str
    path: bytes  # where the get put it (a file, or a composite's directory)
    hash: str
    kind: str


@dataclass
class RootInput:
    path: bytes
    hash: str
    size: int
    status: str  # "available" | "obtainable" | "repository" | "missing"
    found: Path | None = None  # where it is, when available
    getter: Getter | None = None  # how to get it, when obtainable


@dataclass(frozen=True)
class Interpreter:
    version: str
    executable: str


@dataclass
class Plan:
    target: str
    target_kind: str  # "artifact" | "session"
    source: Source | None
    steps: list[PlannedStep]
    inputs: list[RootInput]
    python: Interpreter | None
    packages: list[tuple[str, str]]
    fetched: int = 0  # objects fetched from the remote to make the plan
    warnings: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # what would leave the directory (refused)

    @property
    def missing(self) -> list[RootInput]:
        return [i for i in self.inputs if i.status == "missing"]

    def to_json(self) -> dict[str, Any]:
        return {
            "target": {"kind": self.target_kind, "hash": self.target},
            "source": None if self.source is None else {
                "url": self.source.url, "repo": self.source.repo,
                "commit": self.source.commit, "branch": self.source.branch,
                "patch": self.source.patch,
            },
            "steps": [
                {"step": s.label, "job": s.job, "type": s.type, "command": s.command,
                 "cwd": os.fsdecode(s.cwd),
                 "outputs": [{"path": os.fsdecode(a.path), "hash": a.hash, "kind": a.kind}
                             for a in s.outputs]}
                for s in self.steps
            ],
            "inputs": [
                {"path": os.fsdecode(i.path), "hash": i.hash, "size": i.size, "status": i.status,
                 "found": str(i.found) if i.found else None,
                 "url": i.getter.url if i.getter else None}
                for i in self.inputs
            ],
            "python": None if self.python is None else {
                "version": self.python.version, "executable": self.python.executable},
            "packages": [{"name": n, "version": v} for n, v in self.packages],
            "fetched": self.fetched,
            "warnings": self.warnings,
            "outside": self.outside,
        }  # fmt: skip


@dataclass
class Catalog:
    """Every job the workspace knows, with the session steps that hold them."""

    jobs: dict[str, Job] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # job -> "@N" / "@BN"
    superseded: set[str] = field(default_factory=set)
    sessions: dict[str, list[str]] = field(default_factory=dict)  # head -> live jobs, in order
    members: dict[str, list[str]] = field(default_factory=dict)  # tree id -> member hashes

    def producers(self) -> dict[str, list[str]]:
        """hash -> jobs that wrote it (directly, or inside a composite)."""
        out: dict[str, list[str]] = {}
        for jid, job in self.jobs.items():
            for art in job.outputs:
                out.setdefault(art.hash, []).append(jid)
                for member in self.members.get(art.hash, []):
                    out.setdefault(member, []).append(jid)
        return out


def catalog(ws: Workspace, *, scan_store: bool = False) -> Catalog:
    """Jobs of every local and remote-tracking session; with scan_store, every job object."""
    from roar import sessions

    cat = Catalog()
    refs = {**ws.refs.list("refs/sessions/"), **ws.refs.list("refs/remotes/")}
    for head in dict.fromkeys(refs.values()):
        try:
            steps = sessions.history(ws, head=head)
        except NotFound:
            continue
        live = []
        for s in steps:
            cat.labels.setdefault(s.job, s.label)
            if s.superseded:
                cat.superseded.add(s.job)
            else:
                live.append(s.job)
            _add_job(ws, cat, s.job)
        cat.sessions[head] = live
    if scan_store:
        for oid in ws.objects.all_ids():
            if oid not in cat.jobs and ws.objects.kind_of(oid) == "job":
                _add_job(ws, cat, oid)
    return cat


def _add_job(ws: Workspace, cat: Catalog, jid: str) -> None:
    if jid in cat.jobs:
        return
    job = ws.objects.read(jid)
    assert isinstance(job, Job)
    cat.jobs[jid] = job
    for art in (*job.inputs, *job.outputs):
        if art.kind == "tree" and art.hash not in cat.members and ws.objects.contains(art.hash):
            tree = ws.objects.read(art.hash)
            assert isinstance(tree, Tree)
            cat.members[art.hash] = [e.hash for e in tree.entries]


def resolve_session(ws: Workspace, text: str) -> str:
    """A session head from a ref name, a session object id or prefix."""
    if text.startswith("refs/"):
        head = ws.refs.read(text)
        if head is None:
            raise NotFound(f"no session {text}")
        return head
    oid = ws.objects.resolve_prefix(text)
    if ws.objects.kind_of(oid) != "session":
        raise UsageError(f"{text} is not a session object (see `roar log`, `roar show`)")
    return oid


def make_plan(
    ws: Workspace,
    target: str,
    *,
    lineage: bool = False,
    search: list[Path] | None = None,
    fetch: Any = None,
) -> Plan:
    """The plan for `target`; `fetch(hash) -> int` pulls its lineage when it is not local."""
    fetched = 0
    target = target.lower()
    cat = catalog(ws)
    if lineage:
        try:
            head = resolve_session(ws, target)
        except NotFound:
            if fetch is None:
                raise
            fetched = fetch(target)
            cat, head = catalog(ws), resolve_session(ws, target)
        if head not in cat.sessions:
            cat.sessions[head] = _live_jobs(ws, head)
            for jid in cat.sessions[head]:
                _add_job(ws, cat, jid)
        chosen = [j for j in cat.sessions[head] if cat.jobs[j].type in ("run", "build")]
        getters = [j for j in cat.sessions[head] if cat.jobs[j].type == "get"]
        return _finish(ws, cat, target, "session", chosen, getters, search, fetched)
    if target not in cat.producers():
        cat = catalog(ws, scan_store=True)
    if target not in cat.producers() and fetch is not None:
        fetched = fetch(target)
        cat = catalog(ws, scan_store=True)
    producers = cat.producers()
    if target not in producers:
        raise NotFound(
            f"no recorded job wrote {target[:12]}, here or on the remote; "
            "register its lineage first (`roar register <artifact>`)"
        )
    chosen, getters = _closure(cat, producers, target)
    return _finish(ws, cat, target, "artifact", chosen, getters, search, fetched)


def _live_jobs(ws: Workspace, head: str) -> list[str]:
    from roar import sessions

    return [s.job for s in sessions.history(ws, head=head) if not s.superseded]


def _pick(cat: Catalog, jobs: list[str]) -> str:
    """Of several jobs that wrote a hash, the newest one still live in its session."""
    live = [j for j in jobs if j not in cat.superseded] or jobs
    return max(live, key=lambda j: cat.jobs[j].started_ns)


def _closure(
    cat: Catalog, producers: dict[str, list[str]], target: str
) -> tuple[list[str], list[str]]:
    steps: list[str] = []
    getters: list[str] = []
    todo = [target]
    seen: set[str] = set()
    while todo:
        digest = todo.pop()
        if digest in seen or digest not in producers:
            continue
        seen.add(digest)
        jid = _pick(cat, producers[digest])
        job = cat.jobs[jid]
        bucket = getters if job.type == "get" else steps if job.type in ("run", "build") else None
        if bucket is None or jid in bucket:
            continue
        bucket.append(jid)
        todo.extend(a.hash for a in job.inputs)
    # Build steps set up what runs read without naming it (compiled extensions,
    # installed packages): take those of every session a chosen step belongs to.
    for live in cat.sessions.values():
        if any(j in live for j in steps):
            steps.extend(j for j in live if cat.jobs[j].type == "build" and j not in steps)
    return steps, getters


def _order(cat: Catalog, jobs: list[str]) -> list[str]:
    """Build steps first, then run steps so that each follows the steps it reads from."""
    builds = sorted((j for j in jobs if cat.jobs[j].type == "build"),
                    key=lambda j: cat.jobs[j].started_ns)  # fmt: skip
    runs = [j for j in jobs if cat.jobs[j].type == "run"]
    wrote: dict[str, set[str]] = {}
    for j in runs:
        wrote[j] = {a.hash for a in cat.jobs[j].outputs}
        for a in cat.jobs[j].outputs:
            wrote[j].update(cat.members.get(a.hash, []))
    deps = {
        j: {k for k in runs if k != j and any(a.hash in wrote[k] for a in cat.jobs[j].inputs)}
        for j in runs
    }
    ordered: list[str] = []
    pending = sorted(runs, key=lambda j: cat.jobs[j].started_ns)
    while pending:
        ready = [j for j in pending if deps[j] <= set(ordered)] or pending[:1]  # a cycle: by time
        ordered.append(ready[0])
        pending.remove(ready[0])
    return builds + ordered


def _finish(
    ws: Workspace,
    cat: Catalog,
    target: str,
    kind: str,
    chosen: list[str],
    getter_jobs: list[str],
    search: list[Path] | None,
    fetched: int,
) -> Plan:
    ordered = _order(cat, chosen)
    steps = [
        PlannedStep(j, cat.labels.get(j, j[:12]), cat.jobs[j].type, cat.jobs[j].argv,
                    cat.jobs[j].cwd, cat.jobs[j].inputs, cat.jobs[j].outputs,
                    cat.jobs[j].started_ns, cat.jobs[j].filtered)
        for j in ordered
    ]  # fmt: skip
    warnings: list[str] = []
    source = _source(cat, ordered, warnings)
    python, packages = _environment(ws, cat, ordered)
    getters = _getters(cat, getter_jobs)
    inputs = _root_inputs(ws, cat, steps, getters, source, search or [])
    patch = None
    if source is not None and source.patch and ws.objects.contains(source.patch):
        blob = ws.objects.read(source.patch)
        patch = blob.data if isinstance(blob, Blob) else None
    outside = containment.outside(source, steps, inputs, patch)
    return Plan(target, kind, source, steps, inputs, python, packages, fetched, warnings, outside)


def _source(cat: Catalog, jobs: list[str], warnings: list[str]) -> Source | None:
    with_git = [cat.jobs[j] for j in jobs if isinstance(cat.jobs[j].context.get("git"), dict)]
    if not with_git:
        return None
    commits = {j.context["git"]["commit"] for j in with_git}
    newest = max(with_git, key=lambda j: j.started_ns).context["git"]
    if len(commits) > 1:
        warnings.append(
            f"the steps ran at {len(commits)} different commits; reproducing at the newest, "
            f"{newest['commit'][:12]}"
        )
    url = newest.get("remote") or newest["repo"]
    if url.startswith(("./", "../")):
        # git resolves a relative remote against the work tree, not the caller's cwd.
        url = os.path.normpath(os.path.join(newest["repo"], url))
    return Source(
        url=url,
        repo=newest["repo"],
        commit=newest["commit"],
        branch=newest.get("branch"),
        patch=newest.get("patch") if newest.get("dirty") else None,
    )


def _environment(
    ws: Workspace, cat: Catalog, jobs: list[str]
) -> tuple[Interpreter | None, list[tuple[str, str]]]:
    python: Interpreter | None = None
    packages: dict[str, str] = {}
    for jid in sorted(jobs, key=lambda j: cat.jobs[j].started_ns):
        env_id = cat.jobs[jid].context.get("env")
        if not isinstance(env_id, str) or not ws.objects.contains(env_id):
            continue
        env = ws.objects.read(env_id)
        assert isinstance(env, Env)
        if env.python:
            python = Interpreter(str(env.python["version"]), os.fsdecode(env.python["executable"]))
            packages.update(dict(env.packages))
    return python, sorted(packages.items())


def _getters(cat: Catalog, jobs: list[str]) -> dict[str, Getter]:
    """hash -> the get job that brought it in (a composite's members too)."""
    out: dict[str, Getter] = {}
    for jid in jobs:
        job = cat.jobs[jid]
        url = job.context.get("url")
        if not isinstance(url, str) or not job.outputs:
            continue
        art = job.outputs[0]
        g = Getter(jid, url, art.path, art.hash, art.kind)
        for digest in [art.hash, *cat.members.get(art.hash, [])]:
            out.setdefault(digest, g)
    return out


def _root_inputs(
    ws: Workspace,
    cat: Catalog,
    steps: list[PlannedStep],
    getters: dict[str, Getter],
    source: Source | None,
    search: list[Path],
) -> list[RootInput]:
    made: set[str] = set()
    roots: dict[tuple[bytes, str], RootInput] = {}
    for s in steps:
        for a in s.inputs:
            if a.hash not in made and (a.path, a.hash) not in roots:
                roots[(a.path, a.hash)] = RootInput(a.path, a.hash, a.size, "missing")
        for a in s.outputs:
            made.add(a.hash)
            made.update(cat.members.get(a.hash, []))
    repo = os.fsencode(source.repo.rstrip("/")) + b"/" if source else None
    unresolved = []
    for ri in roots.values():
        getter = getters.get(ri.hash)
        if getter is not None and "<redacted>" not in getter.url:
            ri.status, ri.getter = "obtainable", getter
        elif repo is not None and ri.path.startswith(repo) and _in_repository(source, ri):
            ri.status = "repository"
        else:
            unresolved.append(ri)
    if unresolved:
        found = find_by_hash({r.hash: r.size for r in unresolved}, [ws.root, *search])
        for ri in unresolved:
            here = Path(os.fsdecode(ri.path))
            if ri.hash in found:
                ri.status, ri.found = "available", found[ri.hash]
            elif here.is_file() and _hash(here) == ri.hash:
                ri.status, ri.found = "available", here
    return sorted(roots.values(), key=lambda r: r.path)


def _in_repository(source: Source | None, ri: RootInput) -> bool:
    """Whether the commit holds this input, when the repository can be read from here.

    A remote repository cannot be looked into without cloning it; its inputs
    count as in the repository and are checked right after the clone.
    """
    from roar.reproduce.checkout import blob_at

    assert source is not None
    rel = ri.path[len(os.fsencode(source.repo.rstrip("/"))) + 1 :]
    data = blob_at(source.url, source.commit, rel)
    if data is None:
        return True  # unknown until cloned
    import blake3

    return data is not False and blake3.blake3(data).hexdigest() == ri.hash


def _hash(path: Path) -> str:
    from roar.transfer.boundary import hash_file

    return hash_file(path)


def find_by_hash(wanted: dict[str, int], roots: list[Path]) -> dict[str, Path]:
    """Where files with the wanted hashes are under `roots` (sizes filter before hashing)."""
    sizes = set(wanted.values())
    found: dict[str, Path] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    if path.is_symlink() or path.stat().st_size not in sizes:
                        continue
                    digest = _hash(path)
                except OSError:
                    continue
                if digest in wanted and digest not in found:
                    found[digest] = path
                    if len(found) == len(wanted):
                        return found
    return found
