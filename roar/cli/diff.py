"""`roar diff A B`: what differs between two artifacts, jobs or sessions, and why."""

from __future__ import annotations

from typing import Any

import click


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--json", "as_json", is_flag=True)
def diff(a: str, b: str, as_json: bool) -> None:
    """Compare two artifacts, jobs or sessions: code, data, params, environment, pipeline."""
    from roar.cli.output import print_json
    from roar.diff import CATEGORIES, diff_lineages, operand_lineage
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

    lineages = []
    kinds = []
    for text in (a, b):
        kind, lin = operand_lineage(facts, resolver.resolve(text), text)
        lineages.append(lin)
        kinds.append(kind)
    result = diff_lineages(lineages[0], lineages[1], env_of)
    result = {"a": {"target": a, "kind": kinds[0]}, "b": {"target": b, "kind": kinds[1]}, **result}
    if as_json:
        print_json(result)
        return
    if result["identical"]:
        click.echo("no differences in code, data, params, environment or pipeline")
        return
    from roar.display import printable

    root = result["root_cause"]
    click.echo(
        printable(f"likely root cause: {root['category']} in {root['step']}: {root['detail']}")
    )
    for category in CATEGORIES:
        items = result["differences"][category]
        if items:
            click.echo(f"\n{category}:")
            for d in items:
                click.echo(printable(f"  {d['step']}: {d['detail']}"))
