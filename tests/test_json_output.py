"""`--json` output: orjson's encoder, byte for byte what `json.dumps(indent=2)` writes.

The fast encoder is taken only where the two agree; these pin that they do on
every kind of value a command prints, and that the cases where they would
not (small floats, paths that are bytes) still print json's form.
"""

from __future__ import annotations

import json
import math

from hypothesis import given
from hypothesis import strategies as st

from roar.cli.output import json_text

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(VALUES)
def test_json_text_is_what_json_dumps_writes(value: object) -> None:
    assert json_text(value) == json.dumps(value, indent=2) + "\n"


def test_the_values_json_writes_its_own_way() -> None:
    value = {
        "small": [1e-05, -2.5e-07, 0.0001, 1e16, 5e-324],
        "text": "caf\u00e9 \U0001f600 \x7f \x1b[2K",
        "command": "python train.py --lr 1e-5",
        "empty": [{}, []],
        "big": 2**70,
        "tuple": (1, "a"),
        "int keys": {1: "one"},
    }
    assert json_text(value) == json.dumps(value, indent=2) + "\n"
    assert "1e-05" in json_text(value) and "\\ud83d\\ude00" in json_text(value)


def test_paths_that_are_bytes_take_the_one_path_form() -> None:
    value = {"path": b"/data/\xff.bin", "name": "/data/\udcff.bin", "ok": "/data/a.bin"}
    assert json.loads(json_text(value)) == {
        "path": {"hex": b"/data/\xff.bin".hex()},
        "name": {"hex": b"/data/\xff.bin".hex()},
        "ok": "/data/a.bin",
    }


def test_not_a_number_is_null() -> None:
    assert json_text([math.nan, math.inf]) == "[\n  null,\n  null\n]\n"
