"""Error intervals (issue 25.1): the conformal formula, and scores carrying their calibrated interval.

Two spreads travel with a score: ``std`` (what raters would say) and ``interval`` (where the
true mean opinion probably lies given the model's measured error). These tests check the
formula on exchangeable data, that the shipped default and the prompt-consistency score fill
``interval`` from their cards, that a reference comparison (no human target) leaves it null,
and that a rubric model's closed-form heads read their card's ``cv_std_widened`` calibration.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import artjudge
from artjudge.scoring.intervals import (
    IntervalCalibration,
    conformal_quantile,
    coverage,
    interval,
    oracle_width,
    read_calibration,
)
from helpers_extras import needs_extra
from helpers_images import write_paintings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# ----------------------------------------------------------------------------- the formula
def test_conformal_quantile_covers_the_level_on_exchangeable_data() -> None:
    """Calibrated on 100 rows, new rows fall inside 90-93% of the time (the split-conformal guarantee)."""
    rng = np.random.default_rng(0)
    covs = []
    for _ in range(400):
        r = np.abs(rng.standard_t(4, size=300))
        q = conformal_quantile(r[:100], 0.9)
        covs.append(float(np.mean(r[100:] <= q)))
    assert 0.9 <= float(np.mean(covs)) <= 0.93


def test_too_few_rows_give_the_whole_range_not_a_narrow_guess() -> None:
    q = conformal_quantile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9)  # rank ceil(6 * 0.9) = 6 > 5 rows
    assert math.isinf(q)
    assert interval(40.0, q) == (0.0, 100.0)
    assert conformal_quantile(np.arange(1.0, 10.0), 0.9) == 9.0  # rank 9 of 9


def test_interval_is_score_plus_minus_q_scale_clipped_to_the_scale() -> None:
    assert interval(50.0, 2.0, 3.0) == (44.0, 56.0)
    assert interval(3.0, 2.0, 3.0) == (0.0, 9.0)
    assert interval(99.0, 1.5) == (97.5, 100.0)
    assert coverage([1.0, 5.0, 9.0], [0.0, 6.0, 9.0], [2.0, 7.0, 9.0]) == pytest.approx(2 / 3)
    assert oracle_width([0.0, 0.0, 0.0, 0.0], [1.0, -2.0, 3.0, 0.5], 0.5) == 4.0  # 2 x |r| at rank 2 of 4


def test_read_calibration_keeps_only_usable_heads() -> None:
    card = {
        "calibration": {
            "level": 0.8,
            "method": "test",
            "heads": {
                "overall": {"q": 1.2, "scale": "opinion_std", "coverage": 0.81, "mean_width": 9.0, "n": 300},
                "noise": {"q": None, "scale": "cv_std_widened", "n": 6},
                "odd": {"q": 1.0, "scale": "a scale nobody wrote", "n": 50},
            },
        }
    }
    cal = read_calibration(card)
    assert set(cal) == {"overall"}
    assert cal["overall"] == IntervalCalibration(1.2, "opinion_std", 0.8, 0.81, 9.0, 300)
    assert read_calibration({}) == {} and read_calibration({"calibration": {"heads": None}}) == {}
    # the card format round-trips
    assert IntervalCalibration.from_dict(cal["overall"].to_dict(), level=0.8) == cal["overall"]


# ----------------------------------------------------------------------------- the shipped default
def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.zeros((160, 200, 3), np.uint8)
    arr[:] = rng.integers(0, 255, 3)
    for _ in range(5):
        x, y = (int(v) for v in rng.integers(0, 150, 2))
        arr[y : y + 40, x : x + 50] = rng.integers(0, 255, 3)
    return Image.fromarray(arr)


@pytest.fixture(scope="module")
def scorer() -> Any:
    return artjudge.load("default")


def _expected(score: float, std: float, cal: IntervalCalibration) -> list[float]:
    scale = {"constant": 1.0, "opinion_std": std}[cal.scale]
    return [round(v, 2) for v in interval(score, cal.q, scale)]


def test_every_default_record_carries_its_calibrated_interval(scorer: Any) -> None:
    cal = read_calibration(scorer.card)["overall"]
    assert cal.level == 0.9 and cal.coverage is not None and 0.85 <= cal.coverage <= 0.95
    recs = scorer.assess_many([_image(i) for i in range(4)])
    for rec in recs:
        o = rec.overall
        assert o.interval_level == 0.9 and o.interval is not None
        assert o.interval[0] <= o.score <= o.interval[1]
        assert o.interval == _expected(o.score, o.std, cal)
        # the error interval is not the raters' spread: narrower than +-1 std on this model
        assert o.interval[1] - o.interval[0] < 2 * o.std
    d = json.loads(recs[0].to_json())
    assert d["overall"]["interval"] == recs[0].overall.interval and d["overall"]["interval_level"] == 0.9


# ----------------------------------------------------------------------------- consistency
@needs_extra("text")
def test_prompt_consistency_has_an_interval_and_a_reference_has_none(scorer: Any) -> None:
    from artjudge.models.consistency import WEIGHTS_PATH, card_calibration

    cal = card_calibration(WEIGHTS_PATH)["prompt"]
    c = scorer.assess(_image(1), prompt="a red car on a street").consistency
    assert c is not None and c.interval_level == cal.level == 0.9
    assert c.interval == [round(v, 2) for v in interval(c.score, cal.q)]
    r = scorer.assess(_image(1), reference=_image(2)).consistency
    assert r is not None and r.source == "reference" and r.interval is None and r.interval_level is None


# ----------------------------------------------------------------------------- rubric heads
@pytest.fixture(scope="module")
def rubric(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small rubric model trained through the public CLI on generated works (closed-form heads)."""
    from artjudge.cli import main as cli_main

    root = tmp_path_factory.mktemp("rubric")
    paths = write_paintings(root / "imgs", 30)
    rng = np.random.default_rng(0)
    lines = ["file,overall,colour"]
    for p in paths:
        hsv = np.asarray(Image.open(p).convert("HSV"), dtype=np.float64) / 255.0
        sat, val = float(hsv[..., 1].mean()), float(hsv[..., 2].mean())
        lines.append(f"{p.name},{1 + 4 * val + rng.normal(0, 0.2):.3f},{1 + 4 * sat:.3f}")
    (root / "grades.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    argv = ["train", "--dataset", "csv", "--labels", str(root / "grades.csv"), "--images", str(root / "imgs")]
    argv += ["--score-col", "overall", "--scale", "1,5", "--image-col", "file", "--attr-cols", "colour"]
    argv += ["--out", str(root / "M"), "--set", "small_families=[ridge,kernel]", "--set", "cv_folds=3"]
    with redirect_stdout(StringIO()):
        assert cli_main(argv) == 0
    return root


def test_rubric_heads_take_their_interval_from_the_cards_calibration(rubric: Path, tmp_path: Path) -> None:
    """``cv_std_widened``: score +- q x (the head's CV residual std, widened far from the graded works).

    The calibration block is set here (as the trainer writes it, in the shared format) so the
    reading side is checked whatever q the trainer measured: one head with a q, one with none.
    """
    import torch

    from artjudge.features.extract import FeatureExtractor
    from artjudge.models.embedded import _torch_head
    from artjudge.models.weights import read_card, seal_folder

    model = tmp_path / "M"
    shutil.copytree(rubric / "M", model)
    card = read_card(model)
    card["calibration"] = {
        "level": 0.9,
        "method": "set by the test",
        "heads": {
            "overall": {"q": 1.5, "scale": "cv_std_widened", "coverage": None, "mean_width": None, "n": 30},
            "colour": {"q": None, "scale": "cv_std_widened", "coverage": None, "mean_width": None, "n": 2},
        },
    }
    (model / "card.json").write_text(json.dumps(card), encoding="utf-8")
    seal_folder(model)
    works = sorted((rubric / "imgs").glob("*.jpg"))[:3] + [_image(7)]
    recs = artjudge.load(str(model)).assess_many(works)
    head = _torch_head(model)
    feats = FeatureExtractor(head.config.resolution).encode(
        [Image.open(w).convert("RGB") if isinstance(w, Path) else w for w in works]
    )
    with torch.inference_mode():
        x = head.frozen_input(torch.from_numpy(feats.pooled), torch.from_numpy(feats.handcrafted))
        std = head.closed_form_scores(x)[1].numpy()[:, head.closed_targets.index("overall")]
    for rec, s in zip(recs, std, strict=True):
        o = rec.overall
        assert o.interval_level == 0.9 and o.interval is not None
        assert o.interval == pytest.approx(
            [max(0.0, o.score - 1.5 * s), min(100.0, o.score + 1.5 * s)], abs=0.02
        )
        assert "colour" not in rec.attributes or rec.attributes["colour"].interval is None
    # the generated work lies far from the graded ones: its interval is the widest
    widths = [r.overall.interval[1] - r.overall.interval[0] for r in recs if r.overall.interval]
    assert widths[-1] >= max(widths[:-1])


def test_a_trained_rubric_models_records_carry_the_trainers_calibration(rubric: Path) -> None:
    """End to end: ``artjudge train`` writes the calibration block, ``assess`` shows each head's interval."""
    from artjudge.models.weights import read_card

    cal = read_calibration(read_card(rubric / "M"))
    assert "overall" in cal and all(c.scale == "cv_std_widened" for c in cal.values())
    rec = artjudge.load(str(rubric / "M")).assess(sorted((rubric / "imgs").glob("*.jpg"))[0])
    shown = {"overall": rec.overall, **rec.attributes}
    for name, dist in shown.items():
        if name in cal:
            assert dist.interval is not None and dist.interval[0] <= dist.score <= dist.interval[1], name
            assert dist.interval_level == cal[name].level
        else:
            assert dist.interval is None, name


def test_cli_table_names_the_two_spreads_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from artjudge.cli import main

    monkeypatch.setenv("COLUMNS", "240")
    img = tmp_path / "work.png"
    _image(3).save(img)
    assert main(["assess", str(img), "--format", "table", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "\tlikely\traters ± std" in out  # two columns, named apart (plain rows off a terminal)
    assert re.search(r"\d+-\d+ \(90%\)", out), out
    assert "how far people's opinions would spread" in out
