"""The reproduction plan of an artifact, a job or a session (docs/lineage.md §6).

Steps are the run and build jobs of the target's lineage, as the lineage
core chooses them (the same closure `roar lineage` shows and `roar
register` sends), plus the live build steps of the sessions they are live
in. Get jobs are not steps: they make their outputs *obtainable* root inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roar.capture import git
from roar.capture.packages import Code
from roar.display import printable
from roar.errors import NotFound, UsageError
from roar.hashing import hash_file, hash_matches
from roar.index.source import local
from roar.lineage import chain as chains
from roar.lineage.closure import upstream
from roar.lineage.producers import Facts, producer_of
from roar.lineage.resolve import is_hash_text
from roar.lineage.views import best_placement, session_dag
from roar.objects.blob import Blob
from roar.objects.env import Env
from roar.objects.job import ArtifactRef, Job
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
    python: str | None = None  # the interpreter its env recorded (python.executable)

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
    system_packages: list[tuple[str, str]] = field(default_factory=list)  # dpkg, read
    full_environment: bool = False  # packages: the whole recorded env, not only those read

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
            "packages_from": "environment" if self.full_environment else "read",
            "system_packages": [{"name": n, "version": v} for n, v in self.system_packages],
            "fetched": self.fetched,
            "warnings": self.warnings,
            "outside": self.outside,
        }  # fmt: skip


class Catalog:
    """The jobs a plan is made of, with their `context`, read through the lineage core."""

    def __init__(self, facts: Facts, ref: str | None):
        self.facts = facts
        self.ref = ref
        self.jobs: dict[str, Job] = {}

    def load(self, ids: Iterable[str]) -> None:
        missing = [j for j in ids if j not in self.jobs]
        self.jobs.update(self.facts.source.jobs(missing, context=True))

    def label(self, job: str) -> str:
        """`@N` / `@BN` where a session holds the job, else its id's prefix."""
        placement = best_placement(self.facts.placements([job])[job], self.ref)
        return placement.step.label if placement else job[:12]

    def members(self, tree: str) -> tuple[str, ...]:
        return self.facts.members([tree]).get(tree, ())


def make_plan(
    ws: Workspace,
    target: str,
    *,
    lineage: bool = False,
    search: list[Path] | None = None,
    fetch: Callable[[str], int] | None = None,
    full_environment: bool = False,
) -> Plan:
    """The plan for `target` (an artifact, job, step or session, named as the resolver
    reads names); `fetch(text) -> objects received` pulls a lineage not known here."""
    fetched = 0
    while True:
        source, resolver = local(ws)
        facts = Facts(source)
        try:
            t = resolver.resolve(target)
        except NotFound:
            if fetch is None or fetched or not is_hash_text(target):
                raise
            fetched = fetch(target) or -1
            continue
        if lineage and t.kind != "session":
            raise UsageError(f"{target} is a {t.kind}, not a session (drop --lineage)")
        if t.kind == "artifact" and producer_of(facts, t.id) is None:
            if fetch is not None and not fetched:
                fetched = fetch(t.id) or -1
                continue
            raise NotFound(
                f"no recorded job wrote {t.id[:12]}, here or on the remote; "
                "register its lineage first (`roar register <artifact>`)"
            )
        break
    cat = Catalog(facts, resolver.active_ref if t.ref is None else t.ref)
    notes: list[str] = []
    if t.kind == "session":
        chosen, getters, notes = _session_jobs(facts, cat.ref, t.id)
    elif t.kind in ("artifact", "step", "job"):
        lin = upstream(facts, **({"hashes": [t.id]} if t.kind == "artifact" else {"jobs": [t.id]}))
        chosen = [j for j, job in lin.jobs.items() if job.type in ("run", "build")]
        getters = [j for j, job in lin.jobs.items() if job.type == "get"]
        chosen += _session_builds(facts, chosen)
    else:
        raise UsageError(f"{target} is a {t.object_kind} object: reproduce takes an artifact, "
                         "a job or a session")  # fmt: skip
    kind = "session" if t.kind == "session" else "artifact"
    plan = _finish(ws, cat, t.id, kind, chosen, getters, search, max(fetched, 0), full_environment)
    plan.warnings[:0] = notes
    return plan


def _session_jobs(
    facts: Facts, ref: str | None, head: str
) -> tuple[list[str], list[str], list[str]]:
    """The steps of a session's plan (docs/lineage.md §6): its live steps, and the
    lineage of each (a live step that read the output of a superseded execution
    needs that execution to run first: superseded jobs are producers, §4). Returns
    (run and build jobs, get jobs, a note for each stale live step)."""
    steps = chains.live(facts.source.chain(head))
    live = [s.job for s in steps]
    lin = upstream(facts, jobs=live)
    kinds = {**lin.jobs, **facts.jobs(j for j in live if j not in lin.jobs)}
    jobs = [*live, *(j for j in lin.jobs if j not in live)]
    chosen = [j for j in jobs if kinds[j].type in ("run", "build")]
    getters = [j for j in jobs if kinds[j].type == "get"]
    nodes = session_dag(facts, ref or "", head).nodes
    notes = [
        f"{n.view.step.label} is stale: it read outputs of an earlier execution of a step "
        "since re-run; the plan runs that execution first, as recorded"
        for n in nodes
        if n.stale and n.view.step is not None
    ]
    return chosen, getters, notes


def _session_builds(facts: Facts, jobs: list[str]) -> list[str]:
    """The live build steps of the sessions where `jobs` are live steps: builds set up
    what runs read without naming it (compiled extensions, installed packages)."""
    heads = facts.source.session_refs()
    refs = {p.ref for ps in facts.placements(jobs).values() for p in ps if not p.step.superseded}
    builds: list[str] = []
    for ref in sorted(refs):
        for s in chains.live(facts.source.chain(heads[ref])):
            if s.step_kind == "build" and s.job not in jobs and s.job not in builds:
                builds.append(s.job)
    return builds


def _order(cat: Catalog, jobs: list[str]) -> list[str]:
    """Build steps first, then run steps so that each follows the steps it reads from."""
    builds = sorted((j for j in jobs if cat.jobs[j].type == "build"),
                    key=lambda j: cat.jobs[j].started_ns)  # fmt: skip
    runs = [j for j in jobs if cat.jobs[j].type == "run"]
    parents = upstream(cat.facts, jobs=runs).parents
    deps = {j: {k for k in parents.get(j, []) if k in runs and k != j} for j in runs}
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
    full_environment: bool = False,
) -> Plan:
    cat.load([*chosen, *getter_jobs])
    ordered = _order(cat, chosen)
    envs = _envs(ws, cat, ordered)
    steps = [
        PlannedStep(j, cat.label(j), cat.jobs[j].type, cat.jobs[j].argv,
                    cat.jobs[j].cwd, cat.jobs[j].inputs, cat.jobs[j].outputs,
                    cat.jobs[j].started_ns, cat.jobs[j].filtered,
                    os.fsdecode(envs[j].python["executable"]) if j in envs and envs[j].python
                    else None)
        for j in ordered
    ]  # fmt: skip
    warnings: list[str] = []
    source = _source(cat, ordered, warnings)
    environment = _environment(cat, ordered, envs, full_environment)
    warnings += _code_warnings(environment.code, source)
    getters = _getters(cat, getter_jobs)
    inputs = _root_inputs(ws, cat, steps, getters, source, search or [])
    patch = None
    if source is not None and source.patch and ws.objects.contains(source.patch):
        blob = ws.objects.read(source.patch)
        patch = blob.data if isinstance(blob, Blob) else None
    outside = containment.outside(source, steps, inputs, patch)
    return Plan(target, kind, source, steps, inputs, environment.python, environment.packages,
                fetched, warnings, outside, environment.system, environment.full)  # fmt: skip


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
    url = (
        newest.get("remote")
        or git.current_remote(newest["repo"], newest["commit"])
        or newest["repo"]
    )
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


def _envs(ws: Workspace, cat: Catalog, jobs: list[str]) -> dict[str, Env]:
    """job -> the env object its context names, for those held here."""
    out: dict[str, Env] = {}
    for jid in jobs:
        env_id = cat.jobs[jid].context.get("env")
        if isinstance(env_id, str) and ws.objects.contains(env_id):
            out[jid] = ws.objects.read_kind(env_id, Env)
    return out


@dataclass(frozen=True)
class Environment:
    python: Interpreter | None
    packages: list[tuple[str, str]]  # pip: what the steps read, or the whole env (full)
    system: list[tuple[str, str]]  # dpkg packages the steps read
    full: bool
    code: list[Code]  # editable projects the steps read (`pip install -e`), each once


def _environment(cat: Catalog, jobs: list[str], envs: dict[str, Env], full: bool) -> Environment:
    """The newest step's interpreter, and the packages the steps read (through
    roar.capture.packages, the one home of that answer); `full`: every package of
    the steps' recorded environments. Later steps win on conflicts."""
    from roar.capture.packages import job_packages

    python: Interpreter | None = None
    packages: dict[str, str] = {}
    system: dict[str, str] = {}
    code: dict[bytes, Code] = {}
    for jid in sorted(jobs, key=lambda j: cat.jobs[j].started_ns):
        env = envs.get(jid)
        read = job_packages(cat.jobs[jid], env)
        system.update(dict(read.dpkg))
        code.update((c.path, c) for c in read.code)
        if env is None or not env.python:
            continue
        python = Interpreter(str(env.python["version"]), os.fsdecode(env.python["executable"]))
        packages.update(dict(env.packages if full else read.pip))
    return Environment(
        python, sorted(packages.items()), sorted(system.items()), full, list(code.values())
    )


def _repo_prefix(source: Source | None) -> bytes | None:
    """The recorded repository's work tree as a path prefix (`/repo/`), for paths in it."""
    return os.fsencode(source.repo.rstrip("/")) + b"/" if source else None


def _code_warnings(code: list[Code], source: Source | None) -> list[str]:
    """An editable project outside the reproduced repository is recorded as code at
    its commit, not as inputs (docs/object-format.md): reproduce does not fetch or
    install it, so the plan says what to install first."""
    repo = _repo_prefix(source)
    out = []
    for c in code:
        if repo is not None and (c.path + b"/").startswith(repo):
            continue  # the repository's own code, checked out with it
        at = f" at commit {c.commit[:12]}" if c.commit else " (no git commit recorded)"
        dirty = " with uncommitted changes" if c.dirty else ""
        where = f" from {c.remote}" if c.remote else ""
        text = (
            f"the steps read the editable project {c.name} {c.version} "
            f"({os.fsdecode(c.path)}{where}{at}{dirty}); reproduce does not install it: "
            "install it (pip install -e) before running the plan"
        )
        out.append(printable(text))
    return out


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
        for digest in [art.hash, *cat.members(art.hash)]:
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
    from roar.capture.packages import is_package_file

    made: set[str] = set()
    roots: dict[tuple[bytes, str], RootInput] = {}
    for s in steps:
        for a in s.inputs:
            if is_package_file(a.path, s.python):
                continue  # the environment, rebuilt from the recorded packages
            if a.hash not in made and (a.path, a.hash) not in roots:
                roots[(a.path, a.hash)] = RootInput(a.path, a.hash, a.size, "missing")
        for a in s.outputs:
            made.add(a.hash)
            made.update(cat.members(a.hash))
    repo = _repo_prefix(source)
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
            elif hash_matches(here, ri.hash):
                ri.status, ri.found = "available", here
    return sorted(roots.values(), key=lambda r: r.path)


def _in_repository(source: Source | None, ri: RootInput) -> bool:
    """Whether the commit holds this input, when the repository can be read from here.

    A remote repository cannot be looked into without cloning it; its inputs
    count as in the repository and are checked right after the clone.
    """
    from roar.reproduce.checkout import blob_at

    assert source is not None
    rel = ri.path[len(_repo_prefix(source) or b"") :]
    data = blob_at(source.url, source.commit, rel)
    if data is None:
        return True  # unknown until cloned
    from roar.hashing import hash_bytes

    return data is not False and hash_bytes(data) == ri.hash


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
                    digest = hash_file(path)
                except OSError:
                    continue
                if digest in wanted and digest not in found:
                    found[digest] = path
                    if len(found) == len(wanted):
                        return found
    return found
