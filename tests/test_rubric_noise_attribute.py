"""A rubric with a pure-noise attribute: marked unskilled, and never cited by the critique.

Issue 25's negative control, run through the real ``artjudge train``: 100 AGIQA-3K training
images (the benchmarks' prompt split, seed 0) graded on two real columns (``mos_quality``,
``mos_align``) and one column of random grades. The noise column must come out unskilled
in the card's skill block, no evidence relation may be stored for it (the citing rule: held
on held-out folds and Benjamini-Hochberg over every evidence x attribute pair), no file
property may be stored for any attribute, and no critique sentence may mention it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # trains on 100 real images (~1 min)

NOISE = "chance"


@pytest.fixture(scope="module")
def noisy_model(agiqa_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import pandas as pd

    from artjudge.cli import main as cli_main
    from artjudge.data.splits import split_by_group

    df = pd.read_csv(agiqa_dir / "data.csv").fillna("")
    split = np.asarray(
        split_by_group(df["prompt"].astype(str).tolist(), test_fraction=0.2, val_fraction=0.1, seed=0)
    )
    train = df[split == "train"].sample(n=110, random_state=0)
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("noisy")
    rows = [
        {
            "file": name,
            "quality": round(float(q), 3),
            "align": round(float(a), 3),
            NOISE: int(rng.integers(1, 6)),
            "part": "train" if i < 100 else "test",
        }
        for i, (name, q, a) in enumerate(
            zip(train["name"], train["mos_quality"], train["mos_align"], strict=True)
        )
    ]
    with open(root / "grades.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    model = root / "M"
    args = ["train", "--dataset", "csv", "--labels", str(root / "grades.csv"), "--images"]
    args += [str(agiqa_dir / "images"), "--score-col", "quality", "--scale", "0,5", "--image-col", "file"]
    args += ["--attr-cols", f"align,{NOISE}", "--split-col", "part", "--out", str(model)]
    args += ["--set", 'small_families=["ridge"]']
    assert cli_main(args) == 0
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    rubric = json.loads((model / "rubric.json").read_text(encoding="utf-8"))
    return {"model": model, "card": card, "rubric": rubric, "test": [r["file"] for r in rows[100:]]}


def test_the_noise_attribute_is_unskilled_and_has_no_relation(noisy_model: dict[str, Any]) -> None:
    skill = noisy_model["card"].get("skill")
    assert skill is not None, "the card has no skill block (issue 25.2, written by training)"
    assert skill["heads"][NOISE]["skilled"] is False, skill["heads"][NOISE]
    assert skill["heads"]["overall"]["skilled"] is True, skill["heads"][
        "overall"
    ]  # the real grades are learned
    rubric = noisy_model["rubric"]
    assert rubric["attributes"][NOISE]["explainers"] == []
    assert rubric["pairs_tested"] >= 3 * 20  # every evidence x attribute pair entered the correction
    for name, a in rubric["attributes"].items():
        for x in a["explainers"]:
            assert x["evidence"] not in ("image_size", "transparency"), (name, x)
            assert x["q"] <= 0.05 and x["folds_held"] >= 0.8 * x["folds"], (name, x)


def test_no_critique_sentence_cites_the_noise_attribute(noisy_model: dict[str, Any], agiqa_dir: Path) -> None:
    import artjudge

    scorer = artjudge.load(str(noisy_model["model"]))
    for name in noisy_model["test"][:4]:
        rec = scorer.assess(str(agiqa_dir / "images" / name), critique=True)
        assert NOISE not in rec.attributes  # unskilled: never shown as a grade
        assert rec.critique is not None and NOISE not in rec.critique.attributes
        crit = rec.to_dict()["critique"]
        sents = list(crit["overall"]) + [s for v in crit["attributes"].values() for s in v]
        sents += [s for v in crit["levels"].values() for s in v] + list(crit["limitations"])
        assert sents
        for s in sents:
            assert NOISE not in s["text"] and s["attribute"] != NOISE, s["text"]
            assert "image_size" not in s["evidence_keys"], s["text"]
