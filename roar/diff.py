"""What differs between two lineages, and which difference is the likely cause.

Both sides are lineages as the lineage core walks them (roar.lineage.closure).
Jobs are paired by what they run (the program and its script), so a
re-run with other parameters pairs with the original. Differences are
grouped as code, data, params, environment and pipeline; the root cause is
the most upstream one. Intermediate artifacts that differ only because
something upstream differed are consequences, not causes, so data counts
only root inputs (ones no job in the lineage produced).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roar.errors import NotFound, UsageError
from roar.lineage.chain import live
from roar.lineage.closure import Lineage, upstream
from roar.lineage.producers import Facts
from roar.lineage.resolve import Target
from roar.objects.job import ArtifactRef, Job

CATEGORIES = ("code", "data", "params", "environment", "pipeline")
# At equal depth, the order in which differences explain each other.
_PRIORITY = {"code": 0, "data": 1, "params": 2, "pipeline": 3, "environment": 4}
CODE_SUFFIXES = {
    ".py", ".ipynb", ".sh", ".bash", ".r", ".jl", ".c", ".cc", ".cpp", ".h", ".rs", ".go",
    ".js", ".ts", ".java", ".scala", ".pl", ".rb", ".lua", ".m", ".sql",
}  # fmt: skip
_NOISY_VARS = {b"_", b"PWD", b"OLDPWD", b"SHLVL", b"TERM_SESSION_ID", b"SSH_CLIENT", b"SSH_TTY"}


@dataclass(frozen=True)
class Difference:
    category: str
    step: str  # the job's name: program and script
    detail: str
    depth: int  # 0 = a root job (nothing upstream of it)
    a: Any = None
    b: Any = None

    @property
    def description(self) -> str:
        return f"{self.step}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "step": self.step,
            "detail": self.detail,
            "depth": self.depth,
            "a": self.a,
            "b": self.b,
            "description": self.description,
        }

    def change_type(self) -> str:
        """roar-cli's `change_type`."""
        if self.category == "pipeline":
            return "added" if self.detail.endswith("only in B") else "removed"
        return {"params": "param_changed", "code": "code_changed", "data": "input_changed"}.get(
            self.category, "env_changed"
        )


def job_key(job: Job) -> str:
    """What a job runs: the program, and its script when it starts one."""
    names = [os.path.basename(os.fsdecode(a)) for a in job.argv[:3]]
    if not names:
        return job.type
    program = names[0]
    script = next((n for n in names[1:] if n and not n.startswith("-")), "")
    if program.startswith("python") and script:
        return f"python {script}"
    return f"{program} {script}".strip() if script and "." in script else program


def operand_lineage(
    facts: Facts, target: Target, text: str, max_depth: int | None = None
) -> tuple[str, Lineage]:
    """(what a diff operand is, its lineage, jobs with their context): a step's or
    job's, a session's live steps', an artifact's, `max_depth` levels of jobs up
    (`roar diff --depth`). `roar diff` and the registry's diff both read their
    operands here. Raises UsageError for other objects, NotFound when no recorded
    job is upstream."""
    if target.kind in ("step", "job"):
        kind, lin = "job", upstream(facts, jobs=[target.id], max_depth=max_depth)
    elif target.kind == "session":
        kind = "session"
        steps = [s.job for s in live(facts.source.chain(target.id))]
        lin = upstream(facts, jobs=steps, max_depth=max_depth)
    elif target.kind == "artifact":
        kind, lin = "artifact", upstream(facts, hashes=[target.id], max_depth=max_depth)
    else:
        raise UsageError(
            f"{text} is a {target.object_kind} object: diff takes artifacts, jobs or sessions"
        )
    if not lin.jobs:
        raise NotFound(f"no recorded job produced {text}")
    lin.jobs.update(facts.source.jobs(list(lin.jobs), context=True))  # git, env, variables
    return kind, lin


def _produced_here(lin: Lineage) -> set[str]:
    """Hashes written inside the lineage: a difference in them is a consequence."""
    return {a.hash for job in lin.jobs.values() for a in job.outputs}


def _by_name(arts: tuple[ArtifactRef, ...]) -> dict[str, ArtifactRef]:
    return {os.path.basename(os.fsdecode(a.path)): a for a in arts}


def _is_code(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in CODE_SUFFIXES


def compare_jobs(
    name: str, depth: int, a: Job, b: Job, a_made: set[str], b_made: set[str],
    env_of: Callable[[str | None], dict[str, Any] | None],
) -> list[Difference]:  # fmt: skip
    diffs: list[Difference] = []

    def add(category: str, detail: str, va: Any = None, vb: Any = None) -> None:
        diffs.append(Difference(category, name, detail, depth, va, vb))

    # params: the command line, argument by argument
    argv_a = [os.fsdecode(x) for x in a.argv]
    argv_b = [os.fsdecode(x) for x in b.argv]
    if argv_a != argv_b:
        removed = [f"-{x}" for x in argv_a if x not in argv_b]
        added = [f"+{x}" for x in argv_b if x not in argv_a]
        moved = removed + added or ["(same arguments, other order)"]
        add("params", f"arguments differ: {' '.join(moved)}", argv_a, argv_b)

    # code: commit, patch, and the scripts read
    ga, gb = a.context.get("git") or {}, b.context.get("git") or {}
    if ga.get("commit") != gb.get("commit"):
        add("code", "git commit differs", ga.get("commit"), gb.get("commit"))
    elif ga.get("patch") != gb.get("patch"):
        add("code", "uncommitted changes differ", ga.get("patch"), gb.get("patch"))
    ins_a, ins_b = _by_name(a.inputs), _by_name(b.inputs)
    for fname in sorted(set(ins_a) | set(ins_b)):
        x, y = ins_a.get(fname), ins_b.get(fname)
        if x is not None and y is not None and x.hash == y.hash:
            continue
        if _is_code(fname):
            add("code", f"{fname} differs", x and x.hash, y and y.hash)
        elif not ((x and x.hash in a_made) or (y and y.hash in b_made)):
            add("data", f"input {fname} differs", x and x.hash, y and y.hash)

    # environment: packages, interpreter, hardware, variables
    env_a, env_b = a.context.get("env"), b.context.get("env")
    if env_a != env_b:
        ea, eb = env_of(env_a) or {}, env_of(env_b) or {}
        pa, pb = dict(ea.get("packages", [])), dict(eb.get("packages", []))
        for pkg in sorted(set(pa) | set(pb)):
            if pa.get(pkg) != pb.get(pkg):
                add(
                    "environment",
                    f"package {pkg}: {pa.get(pkg)} -> {pb.get(pkg)}",
                    pa.get(pkg),
                    pb.get(pkg),
                )
        for key in ("python", "cpu", "os", "gpus", "memory"):
            if ea.get(key) != eb.get(key):
                add("environment", f"{key} differs", _plain(ea.get(key)), _plain(eb.get(key)))
    va = {k: v for k, v in a.context.get("env_vars", []) if k not in _NOISY_VARS}
    vb = {k: v for k, v in b.context.get("env_vars", []) if k not in _NOISY_VARS}
    changed_vars = sorted(k for k in set(va) | set(vb) if va.get(k) != vb.get(k))
    if changed_vars:
        names = ", ".join(os.fsdecode(k) for k in changed_vars[:5])
        more = f" (+{len(changed_vars) - 5} more)" if len(changed_vars) > 5 else ""
        add("environment", f"variables differ: {names}{more}")
    return diffs


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return os.fsdecode(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def diff_lineages(
    a_lin: Lineage, b_lin: Lineage, env_of: Callable[[str | None], dict[str, Any] | None]
) -> dict[str, Any]:
    da, db = a_lin.depth(), b_lin.depth()

    def named(lin: Lineage, depth: dict[str, int]) -> dict[str, str]:
        # One job per name: the most downstream one wins a name clash.
        out: dict[str, str] = {}
        for oid in sorted(lin.jobs, key=lambda o: depth[o]):
            out[job_key(lin.jobs[oid])] = oid
        return out

    na, nb = named(a_lin, da), named(b_lin, db)
    made_a, made_b = _produced_here(a_lin), _produced_here(b_lin)
    diffs: list[Difference] = []
    for name in sorted(set(na) | set(nb)):
        if name not in nb:
            diffs.append(Difference("pipeline", name, "step only in A", da[na[name]]))
        elif name not in na:
            diffs.append(Difference("pipeline", name, "step only in B", db[nb[name]]))
        else:
            ja, jb = a_lin.jobs[na[name]], b_lin.jobs[nb[name]]
            depth = max(da[na[name]], db[nb[name]])
            diffs.extend(compare_jobs(name, depth, ja, jb, made_a, made_b, env_of))
    diffs.sort(key=lambda d: (d.depth, _PRIORITY[d.category]))
    root = diffs[0] if diffs else None
    # roar-cli's impact: a score in (0, 1] by rank, most upstream first (ours is the order).
    impact = [round((len(diffs) - i) / len(diffs), 3) for i in range(len(diffs))]
    roots_a, roots_b = _root_inputs(a_lin), _root_inputs(b_lin)
    return {
        "identical": not diffs,
        "root_cause": {**root.to_json(), "impact": impact[0]} if root else None,
        "differences": {c: [d.to_json() for d in diffs if d.category == c] for c in CATEGORIES},
        # roar-cli's keys (docs/roar-cli-compat.md, `roar diff`)
        "diffs": [
            {
                "change_type": d.change_type(),
                "category": d.category,
                "description": d.description,
                "detail": {"step": d.step, "command": d.step, **_param(d), "change": d.detail},
                "impact": impact[i],
                "is_root_cause": i == 0,
            }
            for i, d in enumerate(diffs)
        ],
        "matched_jobs": len(set(na) & set(nb)),
        "only_in_a": len(set(na) - set(nb)),
        "only_in_b": len(set(nb) - set(na)),
        "root_inputs_match": set(roots_a) == set(roots_b),
        "root_inputs_a": roots_a,
        "root_inputs_b": roots_b,
    }


def _param(d: Difference) -> dict[str, Any]:
    """roar-cli's `param`, `old` (A's) and `new` (B's): the first `--name=value` argument
    whose value differs, else the whole values of each side."""
    if d.category == "params" and isinstance(d.a, list) and isinstance(d.b, list):
        va = dict(x.split("=", 1) for x in d.a if x.startswith("-") and "=" in x)
        vb = dict(x.split("=", 1) for x in d.b if x.startswith("-") and "=" in x)
        for name in [*va, *(k for k in vb if k not in va)]:
            if va.get(name) != vb.get(name):
                return {"param": name, "old": va.get(name), "new": vb.get(name)}
        return {"param": None, "old": " ".join(d.a), "new": " ".join(d.b)}
    plain = (str, int, float, type(None))
    return {
        "param": None,
        "old": d.a if isinstance(d.a, plain) else str(d.a),
        "new": d.b if isinstance(d.b, plain) else str(d.b),
    }


def _root_inputs(lin: Lineage) -> dict[str, str]:
    """hash -> path of what the lineage read that no job in it wrote."""
    roots = set(lin.roots)
    return {
        a.hash: os.fsdecode(a.path)
        for job in lin.jobs.values()
        for a in job.inputs
        if a.hash in roots
    }
