"""`roar log`, `dag`, `dag --json`, `show <artifact>`, `status` on 10,000 jobs,
across versions of roar, interleaved.

    python benchmarks/inspect_versions.py ROUNDS DIR REV [REV...]

Each REV (a git revision of this repository) is extracted with `git archive`
into DIR/REV and run as `python -m roar` from this interpreter (bytecode
compiled first, as an install does), against its own copy of one workspace
built by make_workspace.py (each version keeps its own derived index).
Versions alternate command by command, the order reversed every round;
prints a Markdown table of medians. Wrap it in `flock` on a shared machine.

`dag` and `dag --json` are timed twice: as asked again (a version that keeps
its answer per session head prints it) and first after the session moved
(every kept answer dropped, untimed, before each run and put back after it:
what the first `dag` after a new step pays; a version that keeps none
computes it both times).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from make_workspace import build  # noqa: E402

JOBS = 10_000


def main(rounds: int, root: Path, revs: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    repo = Path(__file__).resolve().parent.parent
    base = root / "workspace"
    last = build(base, JOBS)
    commands = [["log"], ["dag"], ["dag", "--json"], ["show", last], ["status"]]
    fresh = [["dag"], ["dag", "--json"]]  # run again with no answer kept
    names = [f"`roar {n}`" for n in ("log", "dag", "dag --json", "show <artifact>", "status")]
    names += [f"`roar {' '.join(argv)}`, first after a new step" for argv in fresh]
    for rev in revs:
        tree = root / rev
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", rev], cwd=repo, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        tracer = repo / "roar" / "roar-tracer"  # built, not tracked: the current one
        if tracer.exists():
            shutil.copy2(tracer, tree / "roar" / "roar-tracer")
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "roar")], check=True)
        shutil.copytree(base, root / f"ws-{rev}", symlinks=True)

    def answers(rev: str, keep: list[tuple[object, ...]] | None) -> list[tuple[object, ...]]:
        """The kept answers of `rev`'s index, all dropped; or, given `keep`, put back."""
        db = sqlite3.connect(root / f"ws-{rev}" / ".roar" / "index.sqlite")
        found: list[tuple[object, ...]] = []
        with db:
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'answers'").fetchone():
                found = db.execute("SELECT * FROM answers").fetchall()
                db.execute("DELETE FROM answers")
                for row in keep or []:
                    db.execute(f"INSERT INTO answers VALUES ({','.join('?' * len(row))})", row)
        db.close()
        return found

    def run(rev: str, argv: list[str], forget: bool = False) -> float:
        kept = answers(rev, None) if forget else []
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "roar", *argv],
            cwd=root / f"ws-{rev}",
            env=dict(env, PYTHONPATH=str(root / rev)),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        took = time.perf_counter() - start
        if forget:  # the other commands find what they found before
            answers(rev, kept)
        return took

    for rev in revs:  # warm: each index built, as in daily use
        for argv in commands:
            run(rev, argv)
    plan = [(argv, False) for argv in commands] + [(argv, True) for argv in fresh]
    times: dict[tuple[str, int], list[float]] = {(r, i): [] for r in revs for i in range(len(plan))}
    for n in range(rounds):
        for i, (argv, forget) in enumerate(plan):
            for rev in revs if n % 2 == 0 else revs[::-1]:
                times[(rev, i)].append(run(rev, argv, forget))
    print(f"{rounds} rounds, load average {os.getloadavg()[0]:.1f}")
    print("| command | " + " | ".join(revs) + " |")
    print("|---" * (len(revs) + 1) + "|")
    for i, name in enumerate(names):
        medians = (statistics.median(times[(r, i)]) * 1000 for r in revs)
        print(f"| {name} | " + " | ".join(f"{m:.1f} ms" for m in medians) + " |")


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:])
