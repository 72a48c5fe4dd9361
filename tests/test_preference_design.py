"""Pair designs: budgets, balance, connectivity, locality, active re-planning; the CSV readers' refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artjudge.errors import InputError
from artjudge.preference.design import PairDesigner, active_plan
from artjudge.preference.formats import read_items, read_judgments, read_ratings
from artjudge.preference.graph import components, encode
from artjudge.preference.simulate import Panel, simulate_judgments

ITEMS = [f"img{k:03d}" for k in range(60)]


@pytest.mark.parametrize("design", ["dense", "random", "round-robin"])
def test_plans_respect_budget_balance_and_connect(design: str) -> None:
    plan = PairDesigner(design, budget=300, annotators=4, seed=1).plan(ITEMS)
    assert len(plan) == 300
    counts = plan["annotator"].value_counts()
    assert counts.max() - counts.min() <= 1 and len(counts) == 4
    assert not (plan["item_a"] == plan["item_b"]).any()
    df = plan.assign(winner="a")
    assert len(components(encode(df))) == 1
    # An annotator never sees the same unordered pair twice when it can be avoided.
    key = plan.apply(lambda r: (r.annotator, *sorted((r.item_a, r.item_b))), axis=1)
    assert key.duplicated().sum() == 0


def test_dense_design_compares_neighbours_in_the_prior_ranking() -> None:
    scores = np.arange(len(ITEMS), dtype=float)
    plan = PairDesigner("dense", budget=240, annotators=2, long_range=0.2, seed=0).plan(ITEMS, scores)
    pos = {k: i for i, k in enumerate(ITEMS)}
    gaps = np.abs(plan["item_a"].map(pos) - plan["item_b"].map(pos))
    assert (gaps <= 4).mean() >= 0.78  # the local part: 192 pairs fill gaps 1-3 (174) and part of 4
    assert (gaps > 10).sum() >= 20  # the long-range part ties the ranking together
    rnd = PairDesigner("random", budget=240, seed=0).plan(ITEMS)
    rgaps = np.abs(rnd["item_a"].map(pos) - rnd["item_b"].map(pos))
    assert np.median(gaps) < np.median(rgaps)


def test_round_robin_covers_every_pair_once_before_repeating() -> None:
    items = ITEMS[:10]
    plan = PairDesigner("round-robin", budget=45, annotators=3).plan(items)
    pairs = {tuple(sorted(p)) for p in zip(plan.item_a, plan.item_b, strict=True)}
    assert len(pairs) == 45


def test_active_plan_targets_uncertain_neighbours_and_new_items() -> None:
    items = ITEMS[:30]
    mean = pd.Series(np.linspace(0, 5, 30), index=items)
    std = pd.Series(0.8, index=items)
    panel = Panel.make(3, bias_sd=0.0)
    first = PairDesigner("random", budget=120, annotators=panel.annotators, seed=0).plan(items[:25])
    judged = simulate_judgments(first, mean, std, panel, seed=0)
    plan = active_plan(items, judged, budget=40, annotators=2, seed=0)
    assert len(plan) == 40
    new = set(items[25:])
    seen = set(plan.item_a) | set(plan.item_b)
    assert new <= seen  # never-compared items are brought in first
    assert not (plan["item_a"] == plan["item_b"]).any()
    pairs = [tuple(sorted(p)) for p in zip(plan.item_a, plan.item_b, strict=True)]
    assert len(set(pairs)) == len(pairs)  # no pair is asked twice in one plan
    # Between already-compared items the plan asks about neighbours in the ranking, so
    # their true-score gaps are smaller than a random plan's over the same items.
    rank = {k: i for i, k in enumerate(items)}  # ``mean`` rises with the index
    old_pairs = [p for p in pairs if not (set(p) & new)]
    gaps = [abs(rank[a] - rank[b]) for a, b in old_pairs]
    rnd = PairDesigner("random", budget=40, seed=0).plan(items[:25])
    rgaps = np.abs(rnd["item_a"].map(rank) - rnd["item_b"].map(rank))
    assert len(old_pairs) >= 30 and np.median(gaps) < np.median(rgaps)
    # The seed fixes the plan: the same call gives the same pairs.
    again = active_plan(items, judged, budget=40, annotators=2, seed=0)
    pd.testing.assert_frame_equal(plan.reset_index(drop=True), again.reset_index(drop=True))


def test_bad_design_inputs() -> None:
    with pytest.raises(InputError, match="at least 2 items"):
        PairDesigner("dense", budget=5).plan(["only"])
    with pytest.raises(InputError, match="budget"):
        PairDesigner("dense", budget=0).plan(ITEMS)
    with pytest.raises(InputError, match="unknown design"):
        PairDesigner("spiral", budget=5)  # type: ignore[arg-type]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_judgment_csv_refusals(tmp_path: Path) -> None:
    head = "annotator,item_a,item_b,winner\n"
    with pytest.raises(InputError, match="self-comparison.*line 3"):
        read_judgments(_write(tmp_path, "j1.csv", head + "x,a,b,a\nx,c,c,a\n"))
    with pytest.raises(InputError, match="winner must be one of a, b, tie; got 'left' at line 2"):
        read_judgments(_write(tmp_path, "j2.csv", head + "x,a,b,left\n"))
    with pytest.raises(InputError, match="missing column"):
        read_judgments(_write(tmp_path, "j3.csv", "annotator,item_a,winner\nx,a,a\n"))
    with pytest.raises(InputError, match="file is empty"):
        read_judgments(_write(tmp_path, "j4.csv", ""))
    with pytest.raises(InputError, match="confidence"):
        read_judgments(_write(tmp_path, "j5.csv", "annotator,item_a,item_b,winner,confidence\nx,a,b,a,1.5\n"))
    with pytest.warns(UserWarning, match="single judgment"):
        df = read_judgments(_write(tmp_path, "j6.csv", head + "x,a,b,a\nx,b,c,tie\ny,a,c,B\n"))
    assert list(df["winner"]) == ["a", "tie", "b"] and set(df["dimension"]) == {"overall"}


def test_rating_and_item_csv_refusals(tmp_path: Path) -> None:
    head = "annotator,item,score\n"
    with pytest.raises(InputError, match=r"score 7 outside the scale \[1, 5\] at line 3"):
        read_ratings(_write(tmp_path, "r1.csv", head + "x,a,3\nx,b,7\n"), scale=(1, 5))
    with pytest.raises(InputError, match="not a number"):
        read_ratings(_write(tmp_path, "r2.csv", head + "x,a,good\n"))
    with pytest.raises(InputError, match="duplicate item 'a'"):
        read_items(_write(tmp_path, "i.csv", "item\na\nb\na\n"))
