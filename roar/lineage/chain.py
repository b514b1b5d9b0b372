"""Session chains: which execution of each step is live (docs/lineage.md §2).

Pure functions over lists of `Step`; how a chain is read is the source's
business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from roar.errors import CorruptObject, NotFound, UsageError
from roar.lineage.source import Step
from roar.objects.session import Session

MAX_CHAIN = 10_000_000  # a chain longer than this loops (a damaged store)

STEP_KINDS = ("build", "run")  # also the order of ties in `roar dag`


def walk(head: str, read: Callable[[str], Session | None]) -> list[Step]:
    """The chain ending at session object `head`, oldest first, superseded marked.

    `read(id)` gives the session object, or None when `id` names something
    else. Raises NotFound when `head` is not a session object, CorruptObject
    when the chain reaches one that is not.
    """
    steps: list[Step] = []
    cur: str | None = head
    while cur is not None:
        obj = read(cur)
        if obj is None:
            if cur == head:
                raise NotFound(f"{head} is not a session object")
            raise CorruptObject(f"the session chain of {head} reaches {cur}, not a session")
        steps.append(Step(cur, obj.job, obj.step, obj.step_kind, obj.supersedes, obj.time_ns))
        cur = obj.parent
        if len(steps) > MAX_CHAIN:
            raise CorruptObject(f"the session chain of {head} loops")
    return mark_superseded(steps[::-1])


def mark_superseded(chain: list[Step]) -> list[Step]:
    """The chain (oldest first) with every execution but the newest of its step marked
    superseded."""
    newest = {s.key: i for i, s in enumerate(chain)}
    return [_marked(s, newest[s.key] != i) for i, s in enumerate(chain)]


def _marked(step: Step, superseded: bool) -> Step:
    return step if step.superseded == superseded else step._replace(superseded=superseded)


def live(chain: Iterable[Step]) -> list[Step]:
    """The pipeline: the live execution of each step, in chain order."""
    return [s for s in chain if not s.superseded]


def parse_step(text: str) -> tuple[str, int]:
    """The step key `@N` (run) or `@BN` (build) names; raises UsageError otherwise."""
    body = text[1:] if text.startswith("@") else text
    kind = "build" if body[:1] in ("B", "b") else "run"
    number = body[1:] if kind == "build" else body
    # ASCII digits only ("²".isdigit() is true) and at most 18 of them (int() of
    # thousands of digits is refused by Python, and no session has that many steps)
    if not (number.isascii() and number.isdigit()) or len(number) > 18 or int(number) < 1:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise UsageError(f"not a step: {shown!r} (use @N for run steps, @BN for build steps)")
    return kind, int(number)


def find_step(chain: list[Step], text: str) -> Step:
    """The live execution of the step `@N` / `@BN` names."""
    key = parse_step(text)
    for s in reversed(chain):
        if s.key == key and not s.superseded:
            return s
    other = ("run" if key[0] == "build" else "build", key[1])
    if any(s.key == other for s in chain):  # one counter for both kinds: name the other
        spelled = f"@B{key[1]}" if other[0] == "build" else f"@{key[1]}"
        raise NotFound(f"no step {text} in this session: {spelled} is a {other[0]} step")
    raise NotFound(f"no step {text} in this session (see `roar log`)")
