"""Secret redaction, by variable name and by value pattern.

Applied to environment variables before a job is written, so a secret
never enters the store, let alone leaves the machine.
"""

from __future__ import annotations

import re

REDACTED = b"<redacted>"

_SECRET_NAME = re.compile(
    rb"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|"
    rb"SESSION_?KEY|COOKIE|DSN|CONNECTION_?STRING)",
    re.IGNORECASE,
)
_SECRET_VALUE = re.compile(
    rb"(AKIA[0-9A-Z]{16}"  # AWS access key id
    rb"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    rb"|github_pat_[A-Za-z0-9_]{30,}"
    rb"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack
    rb"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style keys
    rb"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    rb"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    rb"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWT
    rb"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    rb"|://[^/\s:@]+:[^/\s@]+@)"  # credentials in a URL
)


def is_secret(name: bytes, value: bytes) -> bool:
    return bool(_SECRET_NAME.search(name) or _SECRET_VALUE.search(value))


def redact_env(env: dict[bytes, bytes]) -> list[list[bytes]]:
    """Sorted [name, value] pairs with secret values replaced."""
    return [[k, REDACTED if is_secret(k, v) else v] for k, v in sorted(env.items())]


def find_secrets_in_argv(argv: list[bytes]) -> list[int]:
    """Indexes of argv elements that hold a secret (the value after a secret-named flag too)."""
    hits = []
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition(b"=")
        if _SECRET_VALUE.search(arg) or (
            eq and name.startswith(b"-") and _SECRET_NAME.search(name)
        ):
            hits.append(i)
        elif arg.startswith(b"-") and not eq and _SECRET_NAME.search(arg) and i + 1 < len(argv):
            hits.append(i + 1)
    return hits
