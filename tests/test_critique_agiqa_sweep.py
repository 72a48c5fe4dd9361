"""Sentences that contradict their own evidence, caught over the 479 AGIQA-3K test images.

The images are the benchmarks' test split (``split_by_group`` over prompts, test 0.2, val
0.1, seed 0), decoded the way the scorer decodes them for the critique (JPEG draft at the
scorer's analysis size) and measured once. Each critique must:

* place the focus where the saliency centroid lies (the position a sentence names is the
  centroid's cell), never say a focus between thirds points "lies near the thirds points", nor
  a focus in a corner cell "near the middle of the frame";
* quote only numbers that are the values it cites (each number within rounding of a cited
  measurement's value, its x100 share, its percentile, the record's score or std, or a figure
  written into the phrasebook itself).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from artjudge.critique import compose
from artjudge.critique.base import Sentence
from artjudge.features.evidence import Evidence

pytestmark = pytest.mark.slow  # ~1 min on one core: 479 images measured

NUMBER = re.compile(r"(?<![\w.])[-+−]?\d+(?:\.\d+)?")
CORNERS = {"upper left", "upper right", "lower left", "lower right"}
NEAR = re.compile(
    r"\b(near|close to|right on) (the (rule-of-)?thirds (points|intersections)|them|those points)"
)
NEAR_MIDDLE = re.compile(r"\b(near|close to|right on) the middle of the frame")
SPREAD = ("between the thirds points", "between them", "around the middle of the frame", "balance out")


@pytest.fixture(scope="module")
def measured(agiqa_dir: Path) -> list[tuple[str, Evidence, float]]:
    import pandas as pd

    from artjudge.data.splits import split_by_group
    from artjudge.features.evidence import DETAIL_SIDE, measure
    from artjudge.io.images import load_image

    df = pd.read_csv(agiqa_dir / "data.csv").fillna("")
    split = split_by_group(df["prompt"].astype(str).tolist(), test_fraction=0.2, val_fraction=0.1, seed=0)
    test = df[np.asarray(split) == "test"]
    assert len(test) == 479
    out = []
    for name, mos in zip(test["name"], test["mos_quality"], strict=True):
        img = load_image(str(agiqa_dir / "images" / name), target_size=(384, DETAIL_SIDE)).image
        out.append((str(name), measure(img), float(mos) * 20.0))  # MOS 0-5 to 0-100: every band occurs
    return out


def _literals() -> set[float]:
    """Numbers the phrasebook itself writes (e.g. the '/100' of a score)."""
    text = resources.files("artjudge.critique").joinpath("templates", "en.json").read_text("utf-8")
    table = json.loads(text)
    raw = " ".join(" ".join(v) for v in table["templates"].values())
    raw = re.sub(r"\{[^}]*\}", " ", raw)
    return {float(x) for x in NUMBER.findall(raw)}


def _candidates(s: Sentence, ev: Evidence, record: dict[str, Any]) -> list[float]:
    vals: list[float] = []
    for k in s.evidence_keys:
        if k not in ev:
            continue
        m = ev[k]
        vals += [m.value, 100.0 * m.value]
        if m.percentile is not None:
            vals.append(m.percentile)
        vals += [float(x) for x in m.detail.values() if isinstance(x, (int, float))]
    overall = record.get("overall") or {}
    vals += [float(v) for v in (overall.get("score"), overall.get("std")) if v is not None]
    vals += [float(v) for v in overall.get("interval") or []]
    return vals


def _number_ok(token: str, candidates: list[float], literals: set[float]) -> bool:
    x = float(token.replace("−", "-"))
    decimals = len(token.split(".")[1]) if "." in token else 0
    tol = 0.5 * 10.0**-decimals + 1e-9
    if any(abs(abs(x) - lit) < 1e-9 for lit in literals):
        return True
    if "." not in token and any(abs(x - c) <= 0.5 + 1e-9 for c in candidates):  # ordinals, rounded shares
        return True
    return any(abs(x - c) <= tol for c in candidates)


def _position(ev: Evidence) -> str:
    cx, cy = ev["saliency_thirds"].detail.get("centroid", [0.5, 0.5])
    col = "left" if cx < 0.4 else ("right" if cx > 0.6 else "centre")
    row = "upper" if cy < 0.4 else ("lower" if cy > 0.6 else "middle")
    return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def test_no_critique_contradicts_its_own_evidence(measured: list[tuple[str, Evidence, float]]) -> None:
    from artjudge.critique.phrasebook import load_phrasebook

    positions = load_phrasebook("en").section("positions")
    literals = _literals()
    bad: list[str] = []
    for name, ev, score in measured:
        record = {
            "overall": {
                "score": score,
                "std": 12.0,
                "interval": [max(score - 7.5, 0.0), min(score + 7.5, 100.0)],
            }
        }
        crit = compose(record, ev)
        where = _position(ev) if ev.valid("saliency_thirds") else None
        for s in crit.sentences():
            text = s.text
            for token in NUMBER.findall(text):
                if not _number_ok(token, _candidates(s, ev, record), literals):
                    bad.append(f"{name}: {token!r} matches no cited value: {text}")
            named = [p for p, phrase in positions.items() if phrase in text and p != "centre"]
            if where is not None and "saliency_thirds" in s.evidence_keys:
                for p in named:
                    if p != where:
                        bad.append(f"{name}: says {p!r}, centroid is {where!r}: {text}")
                if NEAR.search(text) and where not in CORNERS and not any(m in text for m in SPREAD):
                    bad.append(f"{name}: focus {where!r} yet near the thirds points: {text}")
                if NEAR_MIDDLE.search(text) and where in CORNERS:
                    bad.append(f"{name}: focus {where!r} yet near the middle of the frame: {text}")
    assert not bad, f"{len(bad)} contradictions, e.g.\n" + "\n".join(bad[:10])
