"""Persistent variables injected into every `roar run` and `roar build`.

Stored as `.roar/env.json`; `roar env set|get|list|unset` edits them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roar.workspace import Workspace

ENV_FILE = "env.json"


def load_env(ws: Workspace) -> dict[str, str]:
    try:
        return dict(json.loads((ws.dir / ENV_FILE).read_text()))
    except FileNotFoundError:
        return {}


def save_env(ws: Workspace, values: dict[str, str]) -> None:
    from roar.atomic import write_atomic

    text = json.dumps(values, indent=2, sort_keys=True) + "\n"
    write_atomic(ws.dir / ENV_FILE, text.encode())
