"""The secret rules (roar/capture/secret_rules.json) against the shared vectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from roar.capture import secrets

VECTORS = json.loads((Path(__file__).parent / "vectors" / "secrets.json").read_text())


@pytest.mark.parametrize("case", VECTORS["names"], ids=[c["name"] for c in VECTORS["names"]])
def test_secret_names(case: dict) -> None:
    assert secrets.is_secret_name(case["name"]) is case["secret"]


@pytest.mark.parametrize("case", VECTORS["texts"], ids=[c["text"][:40] for c in VECTORS["texts"]])
def test_secret_text(case: dict) -> None:
    text = case["text"].encode()
    assert secrets.redact_spans(text, secrets.secret_spans(text)).decode() == case["redacted"]


@pytest.mark.parametrize(
    "case", VECTORS["argv"], ids=[" ".join(c["argv"]) for c in VECTORS["argv"]]
)
def test_secret_argv(case: dict) -> None:
    argv = [a.encode() for a in case["argv"]]
    spans = secrets.argv_spans(argv)
    got = [secrets.redact_spans(a, spans.get(i, [])).decode() for i, a in enumerate(argv)]
    assert got == case["redacted"]


def test_the_rules_use_only_regex_syntax_every_language_has() -> None:
    """No look-around or backreferences: Rust's regex crate has neither."""
    data = json.loads(secrets.RULES_FILE.read_text())
    patterns = data["secret_names"] + [v["pattern"] for v in data["secret_values"]]
    for p in patterns:
        assert not re.search(r"\(\?[=!<]|\\[1-9]|\(\?P=", p), p
        re.compile(p)
