"""Every JSON artjudge writes is strict: NaN and infinities become null, never ``NaN``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from artjudge.io.files import atomic_write_json, dumps_strict, finite_or_none


def _strict_load(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"non-strict JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_become_null_everywhere(tmp_path: Path) -> None:
    obj = {
        "nan": float("nan"),
        "inf": -math.inf,
        "np": [np.float32("nan"), np.float64(2.5), np.int64(3)],
        "nested": ({"x": np.inf},),
        "ok": 1.5,
        "flag": True,
    }
    back = _strict_load(dumps_strict(obj))
    assert back == {
        "nan": None,
        "inf": None,
        "np": [None, 2.5, 3],
        "nested": [{"x": None}],
        "ok": 1.5,
        "flag": True,
    }
    out = atomic_write_json(tmp_path / "r.json", obj)
    assert _strict_load(out.read_text()) == back


def test_a_default_hook_cannot_smuggle_nan_in() -> None:
    class Odd:
        pass

    assert _strict_load(dumps_strict({"v": Odd()}, default=lambda o: float("nan"))) == {"v": None}
    with pytest.raises(TypeError):
        dumps_strict({"v": Odd()})  # without a hook, what JSON cannot encode is still an error


def test_finite_or_none_leaves_other_values_alone() -> None:
    assert finite_or_none({"a": "NaN", "b": None, "c": [1, 2]}) == {"a": "NaN", "b": None, "c": [1, 2]}
