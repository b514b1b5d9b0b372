"""What a secret looks like, decided in one place: the rules of secret_rules.json.

The rules are data so that another language (the Rust front end of
`roar run`) loads the same file instead of keeping a second copy; the
vectors in tests/vectors/secrets.json pin what they decide. This module
answers three questions with them: is this name a secret's name, where in
this text are secrets, and which parts of this argv are secret. Applied to
environment variables before a job is written, and by `roar register` to
every field that would leave the machine (roar/remote/redaction.py).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

RULES_FILE = Path(__file__).with_name("secret_rules.json")
REDACTED = b"<redacted>"

Span = tuple[int, int]  # [start, end) of a secret within a text


@dataclass(frozen=True)
class Rules:
    names: re.Pattern[bytes]
    values: tuple[tuple[str, re.Pattern[bytes]], ...]  # (what it is, pattern)
    any_value: re.Pattern[bytes]  # all of `values` in one: most text matches none
    program_flags: dict[bytes, tuple[bytes, ...]]
    min_copy_length: int


@cache
def rules() -> Rules:
    """The rules of secret_rules.json, compiled once."""
    data = json.loads(RULES_FILE.read_text())
    if data["redacted"].encode() != REDACTED:
        raise ValueError(f"{RULES_FILE}: 'redacted' is not {REDACTED!r}")
    names = re.compile("|".join(f"(?:{p})" for p in data["secret_names"]).encode())
    values = tuple((v["name"], re.compile(v["pattern"].encode())) for v in data["secret_values"])
    any_value = re.compile(
        "|".join(f"(?:{v['pattern']})" for v in data["secret_values"])
        .replace("(?P<secret>", "(?:")
        .encode()
    )
    flags = {
        prog.encode(): tuple(f.encode() for f in fl) for prog, fl in data["program_flags"].items()
    }
    return Rules(names, values, any_value, flags, int(data["min_copy_length"]))


def _normal_name(name: bytes | str) -> bytes:
    raw = name.encode("utf-8", "surrogateescape") if isinstance(name, str) else name
    return raw.upper().replace(b"-", b"_").replace(b".", b"_")


def is_secret_name(name: bytes | str) -> bool:
    """Whether a variable, flag or key of this name holds a secret (DB_PASS, --api-key)."""
    return bool(rules().names.search(_normal_name(name)))


def secret_spans(text: bytes) -> list[Span]:
    """Where in `text` there are secrets by their shape (tokens, keys, URL passwords)."""
    r = rules()
    if not r.any_value.search(text):
        return []
    spans: list[Span] = []
    for _, pattern in r.values:
        for m in pattern.finditer(text):
            if "secret" in pattern.groupindex and m.group("secret") is not None:
                spans.append(m.span("secret"))
            else:
                spans.append(m.span())
    return _not_redacted(text, merge(spans))


def mask(text: str) -> str:
    """`text` to show on a terminal: every secret by its shape (a URL's password, a
    token) replaced by REDACTED, by the rules of secret_rules.json."""
    raw = os.fsencode(text)
    spans = secret_spans(raw)
    return os.fsdecode(redact_spans(raw, spans)) if spans else text


def is_secret(name: bytes, value: bytes) -> bool:
    return is_secret_name(name) or bool(secret_spans(value))


def redact_env(env: dict[bytes, bytes]) -> list[list[bytes]]:
    """Sorted [name, value] pairs with secret values replaced."""
    return [[k, REDACTED if is_secret(k, v) else v] for k, v in sorted(env.items())]


def argv_spans(argv: list[bytes]) -> dict[int, list[Span]]:
    """The secret parts of each argument, by index: values of secret-named flags
    (--token=X, --db-pass X), of a program's password flags (mysql -pX,
    sshpass -p X), and token-shaped text anywhere."""
    found: dict[int, list[Span]] = {}

    def hide(i: int, start: int = 0) -> None:
        if i < len(argv) and start < len(argv[i]):
            found.setdefault(i, []).append((start, len(argv[i])))

    flags = rules().program_flags.get(os.path.basename(argv[0]) if argv else b"", ())
    for i, arg in enumerate(argv):
        spans = secret_spans(arg)
        if spans:
            found.setdefault(i, []).extend(spans)
        if not arg.startswith(b"-") or i == 0:
            continue
        name, eq, _ = arg.partition(b"=")
        if eq:
            if is_secret_name(name.lstrip(b"-")) or name in flags:
                hide(i, len(name) + 1)
        elif arg in flags or (is_secret_name(arg.lstrip(b"-")) and _is_value(argv, i + 1)):
            hide(i + 1)
        else:
            for flag in flags:
                if len(flag) == 2 and arg.startswith(flag) and len(arg) > 2:
                    hide(i, 2)  # mysql -pSECRET
    out = {i: _not_redacted(argv[i], merge(s)) for i, s in found.items()}
    return {i: s for i, s in out.items() if s}


def _is_value(argv: list[bytes], i: int) -> bool:
    return i < len(argv) and not argv[i].startswith(b"-")


def _not_redacted(text: bytes, spans: list[Span]) -> list[Span]:
    # What was redacted already is not a secret: redacting twice changes nothing.
    return [(a, b) for a, b in spans if text[a:b] != REDACTED]


def merge(spans: list[Span]) -> list[Span]:
    """Sorted, non-overlapping spans covering the same characters."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        elif end > start:
            out.append((start, end))
    return out


def redact_spans(text: bytes, spans: list[Span]) -> bytes:
    """`text` with each span replaced by REDACTED."""
    for start, end in reversed(merge(spans)):
        text = text[:start] + REDACTED + text[end:]
    return text


def copies_pattern(literals: set[bytes]) -> re.Pattern[bytes] | None:
    """A pattern for every copy of known secret values long enough to be told apart."""
    long_enough = sorted(
        (s for s in literals if len(s) >= rules().min_copy_length and s != REDACTED),
        key=len,
        reverse=True,
    )
    if not long_enough:
        return None
    return re.compile(b"|".join(re.escape(s) for s in long_enough))
