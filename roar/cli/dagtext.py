"""`roar dag` as text, in roar-cli 0.4.7's layout (docs/roar-cli-compat.md, `roar dag`).

A tree by dependency, each step right-aligned with `in:/out:/cons:` counts
and its marker, the outputs the pipeline ends in under their step, a legend.
What is shown, stale or terminal is decided by the rules
(`roar.lineage.dag`); the rows come from the session index (`from_index`,
fast on 10,000 steps) or from the view `--json` prints (`from_view`).
"""

from __future__ import annotations

import operator
import os
import shutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from roar.display import printable
from roar.lineage import dag as rules

if TYPE_CHECKING:
    from roar.lineage.views import SessionDag

MAX_DEPTH = 12  # deeper steps are drawn at this depth: a 10,000-step chain stays readable


class Row(NamedTuple):
    seq: int  # the execution's place in the session's chain (0-based)
    job: str
    label: str
    title: str  # the `name` label, else the command
    inputs: int
    outputs: int
    consumed: int
    state: str  # active | stale | superseded
    depends_on: list[str]
    labels: dict[str, Any]
    build: bool


class Out(NamedTuple):
    row: int
    name: str
    terminal: bool
    orphaned: bool


class Text(NamedTuple):
    total_steps: int
    stale_count: int
    stale_artifacts: int
    superseded_artifacts: int
    expanded: bool
    labels: dict[str, Any]
    rows: list[Row]
    outputs: list[Out]


def width() -> int:
    """roar-cli's line width: the terminal's (COLUMNS when set; 80 otherwise) less 3."""
    return shutil.get_terminal_size((80, 24)).columns - 3


def from_view(d: SessionDag) -> Text:
    where = {id(n): i for i, n in enumerate(d.nodes)}
    rows = [
        Row(
            n.position - 1,
            n.view.id,
            n.view.step.label if n.view.step else n.view.id[:12],
            _title(n.labels, n.view.job.argv),
            len(n.view.job.inputs),
            len(n.view.job.outputs),
            n.consumed,
            n.state,
            n.depends_on,
            n.labels,
            n.view.job.type == "build",
        )
        for n in d.nodes
    ]
    outs = [
        Out(where[id(a.producer)], _basename(a.ref.path), a.terminal, a.orphaned)
        for a in d.artifacts
    ]
    return Text(
        d.total_steps,
        d.stale_count,
        d.stale_artifacts,
        d.superseded_artifacts,
        d.expanded,
        d.labels,
        rows,
        outs,
    )


def from_index(
    index: Any,
    ref: str,
    stale_of: Callable[[dict[str, str], dict[str, list[rules.Read]]], set[str]],
    labels_of: Callable[[list[str]], dict[str, dict[str, Any]]],
    *,
    expanded: bool,
    stale_only: bool,
    all_outputs: bool = False,
) -> Text:
    """The rows from the session index alone (`SessionIndex.dag_text_rows`). Only
    the terminal outputs are listed unless `all_outputs`; when nothing is stale and
    only live steps are shown, they come ready from the index (`live_ends`)."""
    steps = index.dag_text_rows(ref)
    live = [r for r in steps if not r.superseded]
    stale: set[str] = set()
    if len(live) < len(steps):  # only a re-run can make a step stale
        stale = stale_of({r.label: r.job for r in live}, index.stale_reads(ref))
    ranked = rules.order(
        map(operator.itemgetter(1, 4, 5), live),  # (label, step_kind, step)
        {r.label: r.parents.split(",") for r in live if r.parents},
    )
    shown = [
        r for r in steps if (expanded or not r.superseded) and (not stale_only or r.label in stale)
    ]
    # Shown by rank; live steps alone are already in it unless a re-run reordered them.
    if expanded or ranked != [r.label for r in live]:
        position = {label: i for i, label in enumerate(ranked)}
        shown.sort(key=lambda r: position[r.label])
    row_of = {r.seq: i for i, r in enumerate(shown)}
    found = labels_of([r.job for r in shown])
    rows = []
    add = rows.append
    for seq, label, job, superseded, kind, _, parents, command, ins, outs, cons in shown:
        state = "superseded" if superseded else "stale" if label in stale else "active"
        labels = found.get(job, {})
        name = labels.get("name")
        add(
            Row(
                seq,
                job,
                label,
                str(name) if name is not None else command,
                ins,
                outs,
                cons,
                state,
                parents.split(",") if parents else [],
                labels,
                kind == "build",
            )
        )
    if not (all_outputs or expanded or stale_only or stale):
        ends = index.live_ends(ref)
        if all(s in row_of for s, _, _ in ends):  # else a step arrived while this read
            outs = [Out(row_of[s], _basename(p), True, False) for s, p, _ in ends]
            return Text(len(live), 0, 0, 0, False, {}, rows, outs)
    by_seq: dict[int, tuple[list[tuple[bytes, str]], list[tuple[bytes, str]]]] = {
        r.seq: ([], []) for r in steps
    }
    for seq, role, path, digest in index.dag_artifacts(ref):
        if seq in by_seq:
            by_seq[seq][role == "out"].append((path, digest))
    ends = rules.shown_outputs([by_seq[r.seq][1] for r in shown], [by_seq[r.seq][0] for r in shown])
    stale_outputs = {d for r in live if r.label in stale for _, d in by_seq[r.seq][1]}
    old_outputs = {d for r in shown if r.superseded for _, d in by_seq[r.seq][1]}
    return Text(
        len(live),
        len(stale),
        len(stale_outputs),
        len(old_outputs) if expanded else 0,
        expanded,
        {},
        rows,
        [
            Out(o.row, _basename(o.path), o.terminal, o.orphaned)
            for o in ends
            if o.terminal or all_outputs
        ],
    )


def _title(labels: dict[str, Any], argv: list[bytes]) -> str:
    name = labels.get("name")
    return str(name) if name is not None else " ".join(os.fsdecode(a) for a in argv)


def _basename(path: bytes) -> str:
    text = os.fsdecode(path).rstrip("/")
    return os.path.basename(text) or text


def header(d: Text) -> str:
    text = f"Pipeline: {d.total_steps} steps"
    if d.expanded:
        text += f" ({len(d.rows)} runs shown)"
        if d.stale_count or d.superseded_artifacts:
            text += f" ({d.stale_count} stale steps, {d.superseded_artifacts} superseded)"
    elif d.stale_count:
        text += f" ({d.stale_count} stale steps, {d.stale_artifacts} stale artifacts)"
    return text


def _labels(labels: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in sorted(labels.items()))


def _value(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def render(
    d: Text,
    *,
    show_artifacts: bool = False,
    notes: dict[int, list[str]] | None = None,
    cols: int | None = None,
) -> list[str]:
    """The lines `roar dag` prints (without colour); `notes` (by row seq) are drawn
    under their step as `<- text` (ours: inputs from outside the steps shown)."""
    cols = width() if cols is None else cols
    lines = [header(d)]
    if d.labels:
        lines.append(printable(f"Labels: {_labels(d.labels)}"))
    lines.append("")
    if not d.rows:
        return [*lines, "No steps in pipeline."]
    # Each step is drawn under the latest drawn execution of the first step it read from.
    drawn: dict[str, int] = {}
    children: dict[int | None, list[int]] = {}
    for i, r in enumerate(d.rows):
        parent = None
        for p in r.depends_on:
            if p in drawn:
                parent = drawn[p]
                break
        children.setdefault(parent, []).append(i)
        drawn[r.label] = i
    outputs: dict[int, list[Out]] = {}
    for o in d.outputs:
        if o.terminal or show_artifacts:
            outputs.setdefault(o.row, []).append(o)
    notes = notes or {}
    # Depth first without recursion: (row, connector, prefix below it, depth); a row
    # with outputs is pushed again as ~row to draw them after the steps below it.
    todo: list[tuple[int, str, str, int]] = [(i, "", "", 0) for i in children.get(None, [])][::-1]
    push, pop, add = todo.append, todo.pop, lines.append
    while todo:
        i, connector, below, depth = pop()
        if i < 0:
            r = d.rows[~i]
            lines += [printable(f"{below}    └──> ({o.name}){_marks(r, o)}") for o in outputs[~i]]
            continue
        r = d.rows[i]
        add(_step_line(r, connector, cols))
        if r.labels:
            visible = {k: v for k, v in r.labels.items() if not k.startswith("roar.")}
            if visible:
                add(printable(f"{connector}    labels: {_labels(visible)}"))
        if r.seq in notes:
            lines += [printable(f"{below}    <- {text}") for text in notes[r.seq]]
        if i in outputs:
            push((~i, connector, below, depth))
        kids = children.get(i)
        if not kids:
            continue
        if depth >= MAX_DEPTH:
            todo += [(child, connector, below, depth) for child in reversed(kids)]
            continue
        push((kids[-1], below + "└──>", below + "    ", depth + 1))
        todo += [
            (child, below + "├──>", below + "│   ", depth + 1) for child in reversed(kids[:-1])
        ]
    lines.append("")
    legend = ["* = stale"]
    if any(r.build for r in d.rows):
        legend.append("B = build step")
    if any(r.state == "superseded" for r in d.rows):
        legend.append("[superseded] = previous run")
    lines.append("Legend: " + ", ".join(legend))
    return lines


def _step_line(r: Row, connector: str, cols: int) -> str:
    left = printable(f"{connector}{r.label} {r.title}")
    marks = " *" if r.state == "stale" else " [superseded]" if r.state == "superseded" else ""
    right = f"in:{r.inputs} out:{r.outputs} cons:{r.consumed}{marks}"
    return left + " " * max(1, cols - len(left) - len(right)) + right


def _marks(r: Row, o: Out) -> str:
    marks = f" [{r.state}]" if r.state != "active" else ""
    if not o.terminal:
        marks += " [orphaned] (intermediate)" if o.orphaned else " (intermediate)"
    return marks
