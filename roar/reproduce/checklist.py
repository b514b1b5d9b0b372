"""Would this lineage reproduce elsewhere? The checklist `roar register --dry-run` shows.

Offline: it reads the reproduction plan (roar.reproduce.plan), the recorded
git state of the steps and the local git repository's remote-tracking refs
(what the remote had when git last saw it), by the rule `roar run` warns
with (roar.capture.git.remote_branch_holding); nothing is sent or fetched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from roar.capture.git import remote_branch_holding
from roar.capture.secrets import mask
from roar.reproduce.plan import Plan
from roar.workspace import Workspace


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None  # None: not applicable to this lineage
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


def checklist(ws: Workspace, plan: Plan, dirty_jobs: int, outside_git: int = 0) -> list[Check]:
    """The checks of docs/roar-cli-compat.md (register --dry-run), in order; their
    names are roar-cli's where it has the same check. `dirty_jobs` steps ran with
    uncommitted changes, `outside_git` steps outside any git repository. URLs are
    shown with their credentials masked (roar.capture.secrets.mask)."""
    source = plan.source
    checks = [
        Check(
            "git remote known",
            bool(source and source.url != source.repo),
            mask(source.url)
            if source and source.url != source.repo
            else "no git remote recorded: others cannot fetch the code "
            "(`git remote add origin <url>`, then run again)",
        ),
        _pushed(source),
        _committed(dirty_jobs, outside_git, len(plan.steps)),
    ]
    unreachable = [i for i in plan.inputs if i.status not in ("repository", "obtainable")]
    checks.append(
        Check(
            "all inputs sourced",
            not unreachable,
            f"all {len(plan.inputs)} root input(s) are in the repository or fetched by `roar get`"
            if not unreachable
            else f"{len(unreachable)} root input(s) exist only on this machine: "
            + " · ".join(os.fsdecode(i.path) for i in unreachable[:3])
            + (" · ..." if len(unreachable) > 3 else ""),
        )
    )
    checks.append(
        Check(
            "runtime captured (interpreter + packages)",
            plan.python is not None or None,
            f"Python {plan.python.version} and {len(plan.packages)} package(s) at exact versions"
            if plan.python
            else "no Python interpreter recorded (nothing to pin)",
        )
    )
    return checks


def _committed(dirty_jobs: int, outside_git: int, steps: int) -> Check:
    name = "code committed to git"
    if outside_git:
        why = "their code is not recorded (`git init`, commit, run again)"
        return Check(name, False, f"{outside_git} of {steps} step(s) ran outside a git "
                     f"repository: {why}")  # fmt: skip
    if dirty_jobs:
        return Check(name, False, f"{dirty_jobs} step(s) ran with uncommitted changes "
                     "(their patch is recorded)")  # fmt: skip
    return Check(name, True, "every step ran on committed code")


def _pushed(source) -> Check:  # type: ignore[no-untyped-def]
    name = "commit reachable on a remote"
    if source is None:
        return Check(name, False, "no git commit recorded")
    found = remote_branch_holding(source.repo, source.commit)
    if found is None:
        return Check(
            name,
            None,
            f"cannot tell from the repository at {source.repo} (unreadable, without "
            f"{source.commit[:12]}, or a history too long to walk)",
        )
    if found:
        return Check(name, True, f"{source.commit[:12]} is on {found}")
    return Check(
        name, False, f"{source.commit[:12]} is on no remote branch git knows of: `git push`"
    )
