"""`roar diff A B`: what differs between two artifacts, jobs or sessions, and why."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
@click.option("--depth", type=click.IntRange(min=0), default=None,
              help="How many levels of jobs upstream of each side to compare.")  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["summary", "category", "dag"]), default="summary"
)
def diff(a: str, b: str, as_json: bool, depth: int | None, fmt: str) -> None:
    """Compare two artifacts, jobs or sessions: code, data, params, environment, pipeline.

    The text (--format summary, category or dag) and --json carry roar-cli 0.4.7's
    lines and keys (docs/roar-cli-compat.md); our groups are beside them in --json.
    """
    from roar.cli.output import print_json
    from roar.diff import diff_lineages, operand_lineage
    from roar.index.source import local
    from roar.lineage.producers import Facts
    from roar.objects.env import Env
    from roar.workspace import Workspace

    ws = Workspace.find()
    source, resolver = local(ws)
    facts = Facts(source)
    env_cache: dict[str | None, dict[str, Any] | None] = {}

    def env_of(oid: str | None) -> dict[str, Any] | None:
        if oid not in env_cache:
            env_cache[oid] = ws.objects.read_kind(oid, Env).to_value() if oid else None
        return env_cache[oid]

    sides = []
    for text in (a, b):
        target = resolver.resolve(text)
        kind, lin = operand_lineage(facts, target, text, depth)
        sides.append((target.id, kind, lin))
    (id_a, kind_a, lin_a), (id_b, kind_b, lin_b) = sides
    result = diff_lineages(lin_a, lin_b, env_of)
    result = {
        "ref_a": a,
        "ref_b": b,
        "target_a_hash": id_a,
        "target_b_hash": id_b,
        "targets_identical": id_a == id_b,
        "a": {"target": a, "kind": kind_a},
        "b": {"target": b, "kind": kind_b},
        **result,
    }
    if as_json:
        print_json(result)
        return
    from roar.display import printable

    click.echo("\n".join(printable(line) for line in _text(result, fmt)))


_UNCHANGED = {
    "code": "code (same git commit)",
    "environment": "environment (same packages)",
    "data": "inputs (same artifacts)",
}


def _text(r: dict[str, Any], fmt: str) -> list[str]:
    """roar-cli's diff texts, from the --json result."""
    lines = [f"Diff: {r['ref_a']} vs {r['ref_b']}", ""]
    if r["identical"]:
        return [*lines, "no differences in code, data, params, environment or pipeline"]
    diffs = r["diffs"]
    order = ["data", "code", "params", "pipeline", "environment"]
    if fmt == "dag":
        return lines + _dag(r)
    if fmt == "summary":
        lines += [f"  A: {r['target_a_hash'][:16]}...", f"  B: {r['target_b_hash'][:16]}...", ""]
        lines += [f"ROOT CAUSE: {r['root_cause']['description']}", ""]
    for category in order:
        items = [d for d in diffs if d["category"] == category]
        if not items:
            continue
        lines.append("INPUTS (root artifacts differ)" if category == "data" else category.upper())
        for d in items:
            if fmt == "category":
                root = " <-- root cause" if d["is_root_cause"] else ""
                lines.append(f"  [{d['impact']:.2f}] {d['description']}{root}")
            else:
                root = " *" if d["is_root_cause"] else ""
                lines.append(f"  {d['description']} [{d['impact']:.2f}]{root}")
        lines.append("")
    if fmt == "summary":
        same = [
            text
            for c, text in _UNCHANGED.items()
            if not any(d["category"] == c for d in diffs)
            and (c != "data" or r["root_inputs_match"])
        ]
        if same:
            lines += ["UNCHANGED", *(f"  {t}" for t in same), ""]
    return lines


def _dag(r: dict[str, Any]) -> list[str]:
    """Two columns, one row per step name: `=` when alike, else what differs."""
    by_step: dict[str, list[dict[str, Any]]] = {}
    for d in r["diffs"]:
        by_step.setdefault(d["detail"]["step"], []).append(d)
    col = 42
    lines = [f"{'A':^{col}}  {'B':^{col}}", f"{'-' * col}  {'-' * col}"]
    for step, items in sorted(by_step.items()):
        kinds = {d["change_type"] for d in items}
        root = " <-- ROOT CAUSE" if any(d["is_root_cause"] for d in items) else ""
        if kinds == {"added"}:
            lines.append(f"{'':<{col}}  {step:<{col}}  ADDED{root}")
        elif kinds == {"removed"}:
            lines.append(f"{step:<{col}}  {'':<{col}}  REMOVED{root}")
        else:
            cats = ", ".join(sorted({d["category"] for d in items}))
            lines.append(f"{step:<{col}}  {step:<{col}}  DIFFERS ({cats}){root}")
    lines.append(f"({r['matched_jobs']} step(s) matched; steps not listed are identical)")
    return lines
