"""Fusion with ratings and the reliability statistics, against known values and simulated panels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from artjudge.errors import InputError
from artjudge.preference.design import PairDesigner
from artjudge.preference.fusion import RatingFusion, split_half_constructions
from artjudge.preference.reliability import (
    icc,
    intransitive_triads,
    kendalls_w,
    krippendorff_alpha,
    reliability_report,
    split_half,
)
from artjudge.preference.simulate import Panel, simulate_judgments, simulate_ratings

ITEMS = [f"art{k:02d}" for k in range(40)]


def _panel_data(
    seed: int = 0, per_item: int = 4, bias_sd: float = 0.6
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    mean = pd.Series(rng.uniform(1, 5, len(ITEMS)), index=ITEMS)
    std = pd.Series(rng.uniform(0.4, 0.9, len(ITEMS)), index=ITEMS)
    panel = Panel.make(8, bias_sd=bias_sd, seed=seed)
    plan = PairDesigner("dense", budget=400, annotators=panel.annotators, seed=seed).plan(ITEMS)
    j = simulate_judgments(plan, mean, std, panel, tie_margin=0.05, seed=seed)
    r = simulate_ratings(ITEMS, mean, std, panel, per_item, (0, 5), step=0.5, seed=seed)
    return j, r, mean


@pytest.mark.parametrize("method", ["bt", "thurstone", "elo"])
def test_fusion_lands_on_the_rating_scale_and_tracks_the_truth(method: str) -> None:
    j, r, mean = _panel_data()
    res = (
        RatingFusion(method, scale=(0, 5), model_kwargs={"n_bootstrap": 10} if method == "elo" else None)
        .fit(j, r)
        .result_
    )
    f = res.frame.set_index("item")
    truth = mean.loc[f.index]
    assert spearmanr(f["fused"], truth)[0] > 0.9
    assert (
        f["fused"].between(0, 5).all()
        and (f["lower"] <= f["fused"]).all()
        and (f["fused"] <= f["upper"]).all()
    )
    # On the rating scale: the mean absolute error to the truth is small compared with its range (4).
    assert float(np.mean(np.abs(f["fused"] - truth))) < 0.6
    if method == "elo":  # elo goes through the affine map; bt and thurstone through the joint model
        assert next(iter(res.maps.values())).slope > 0
    else:
        assert next(iter(res.joint.values())).slope > 0


def test_affine_link_also_fuses() -> None:
    j, r, mean = _panel_data()
    res = RatingFusion("bt", scale=(0, 5), link="affine").fit(j, r).result_
    f = res.frame.set_index("item")
    assert spearmanr(f["fused"], mean.loc[f.index])[0] > 0.9 and next(iter(res.maps.values())).slope > 0


def test_joint_fusion_removes_annotator_bias() -> None:
    j, r, _ = _panel_data(bias_sd=0.0)
    r = r.copy()
    r.loc[r["annotator"] == "ann1", "score"] = (r.loc[r["annotator"] == "ann1", "score"] - 1.0).clip(0, 5)
    res = RatingFusion("bt", scale=(0, 5)).fit(j, r).result_
    bias = next(iter(res.joint.values())).annotator_bias
    assert bias["ann1"] < -0.4 and abs(np.median(list(bias.values()))) < 0.2


def test_fusion_beats_ratings_alone_and_narrows_intervals() -> None:
    j, r, mean = _panel_data(seed=1, per_item=2, bias_sd=0.8)
    f = RatingFusion("bt", scale=(0, 5)).fit(j, r).result_.frame.set_index("item")
    rating_mean = r.groupby("item")["score"].mean().loc[f.index]
    truth = mean.loc[f.index]
    assert spearmanr(f["fused"], truth)[0] > spearmanr(rating_mean, truth)[0]
    rating_se = r.groupby("item")["score"].std().mean() / np.sqrt(2)
    assert float(f["fused_se"].median()) < rating_se


def test_fusion_per_dimension_and_group() -> None:
    j, r, _ = _panel_data()
    j2, r2 = j.copy(), r.copy()
    j2["dimension"], r2["dimension"] = "colour", "colour"
    both_j, both_r = pd.concat([j, j2]), pd.concat([r, r2])
    both_j["group"] = np.where(both_j["annotator"] < "ann4", "experts", "crowd")
    both_r["group"] = np.where(both_r["annotator"] < "ann4", "experts", "crowd")
    frame = RatingFusion("bt", scale=(0, 5), group_column="group").fit(both_j, both_r).result_.frame
    assert set(frame["dimension"]) == {"overall", "colour"} and set(frame["group"]) == {"experts", "crowd"}
    assert frame.groupby(["dimension", "group"]).size().eq(len(ITEMS)).all()


def test_fusion_refuses_rated_items_never_compared() -> None:
    j, r, _ = _panel_data()
    extra = pd.DataFrame([("ann0", "ghost", 3.0, "overall")], columns=r.columns)
    with pytest.raises(InputError, match="never compared.*ghost"):
        RatingFusion("bt").fit(j, pd.concat([r, extra]))


def test_two_independent_constructions_agree() -> None:
    j, r, _ = _panel_data()
    agree = split_half_constructions(j, r, "bt", scale=(0, 5))
    assert agree.srcc > 0.75 and agree.n_items == len(ITEMS)


def test_icc_matches_shrout_fleiss_1979() -> None:
    x = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    df = pd.DataFrame(
        [(f"j{c}", f"t{i}", x[i, c]) for i in range(6) for c in range(4)],
        columns=["annotator", "item", "score"],
    )
    icc21, icc2k, n = icc(df)
    assert icc21 == pytest.approx(0.29, abs=0.005) and icc2k == pytest.approx(0.62, abs=0.005) and n == 6


def test_kendalls_w_and_alpha_on_known_cases() -> None:
    perfect = pd.DataFrame(
        [(f"j{c}", f"t{i}", float(i)) for i in range(5) for c in range(3)],
        columns=["annotator", "item", "score"],
    )
    assert kendalls_w(perfect) == pytest.approx(1.0)
    assert krippendorff_alpha(perfect, "interval") == pytest.approx(1.0)
    # Two raters in exactly opposite order: W = 0 for m=2 reversed rankings.
    rev = pd.DataFrame(
        [("j0", f"t{i}", float(i)) for i in range(5)] + [("j1", f"t{i}", float(4 - i)) for i in range(5)],
        columns=["annotator", "item", "score"],
    )
    assert kendalls_w(rev) == pytest.approx(0.0)
    # The example in the krippendorff package's docs (3 coders, gaps): interval alpha = 0.811.
    data = [
        [np.nan, np.nan, np.nan, np.nan, np.nan, 3, 4, 1, 2, 1, 1, 3, 3, np.nan, 3],
        [1, np.nan, 2, 1, 3, 3, 4, 3, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        [np.nan, np.nan, 2, 1, 3, 4, 4, np.nan, 2, 1, 1, 3, 3, np.nan, 4],
    ]
    rows = [(f"c{c}", f"u{u}", v) for c, row in enumerate(data) for u, v in enumerate(row) if not np.isnan(v)]
    df = pd.DataFrame(rows, columns=["annotator", "item", "score"])
    assert krippendorff_alpha(df, "interval") == pytest.approx(0.811, abs=0.001)


def test_split_half_spearman_brown() -> None:
    j, r, _ = _panel_data(per_item=6)
    rr, sb = split_half(r)
    assert 0 < rr < 1 and sb == pytest.approx(2 * rr / (1 + rr))


def test_intransitive_triads_counted() -> None:
    cyc = pd.DataFrame(
        [
            ("x", "a", "b", "a"),
            ("x", "b", "c", "a"),
            ("x", "c", "a", "a"),
            ("x", "a", "d", "a"),
            ("x", "b", "d", "a"),
            ("x", "c", "d", "a"),
        ],
        columns=["annotator", "item_a", "item_b", "winner"],
    )
    assert intransitive_triads(cyc) == (1, 4)


def test_report_flags_an_annotator_who_disagrees_with_everyone() -> None:
    j, r, _ = _panel_data()
    rogue_j = j[j["annotator"] == "ann0"].copy()
    rogue_j["annotator"] = "rogue"
    rogue_j["winner"] = rogue_j["winner"].map({"a": "b", "b": "a", "tie": "tie"})
    rogue_r = r[r["annotator"] == "ann0"].copy()
    rogue_r["annotator"] = "rogue"
    rogue_r["score"] = 5 - rogue_r["score"]
    rep = reliability_report(pd.concat([j, rogue_j]), pd.concat([r, rogue_r]))
    assert rep.flagged == ["rogue"]
    assert np.isfinite(rep.krippendorff_alpha_interval) and rep.intransitive_rate < 0.2
    d = rep.to_dict()
    assert d["flagged"] == ["rogue"] and len(d["annotators"]) == 9


def test_joint_fusion_refuses_or_drops_a_component_without_ratings() -> None:
    from artjudge.preference.joint import JointFusion

    j, r, _ = _panel_data()
    island = pd.DataFrame(
        [("ann0", "new1", "new2", "a", "overall", 1.0), ("ann1", "new2", "new3", "b", "overall", 1.0)],
        columns=j.columns,
    )
    both = pd.concat([j, island], ignore_index=True)
    with pytest.raises(InputError, match="no rating to anchor"):
        JointFusion().fit(both, r)
    fit = JointFusion(unanchored="drop").fit(both, r)
    assert fit.dropped_ == ["new1", "new2", "new3"] and "new1" not in set(fit.result_["item"])


def _one_annotator() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The panel's data as if one person gave it all: every judgment, one rating per item."""
    j, r, _ = _panel_data()
    j1 = j.assign(annotator="solo")
    r1 = r.groupby("item", as_index=False).first().assign(annotator="solo")
    return j1, r1


@pytest.mark.parametrize("method", ["bt", "thurstone"])
def test_one_annotator_gets_wide_intervals_and_a_note(method: str) -> None:
    """With one rating per item the rating noise cannot be estimated: it went to 0 and the
    intervals with it (se 1.6e-07); now it is held at the ratings' spread, with a note."""
    j1, r1 = _one_annotator()
    res = RatingFusion(method, scale=(0, 5)).fit(j1, r1).result_
    f = res.frame
    assert f["fused_se"].min() > 0.05  # on a 0-5 scale: nowhere near 1e-7
    assert (f["upper"] - f["lower"]).median() > 0.5
    assert any("cannot be estimated" in n for n in res.notes)
    j, r, _ = _panel_data()  # several annotators rating the same items: no floor, no note
    full = RatingFusion(method, scale=(0, 5)).fit(j, r).result_
    assert not any("cannot be estimated" in n for n in full.notes)


def test_reliability_with_one_annotator_is_strict_json_with_reasons() -> None:
    import json

    from artjudge.io.files import dumps_strict

    j1, r1 = _one_annotator()
    d = reliability_report(j1, r1).to_dict()
    text = dumps_strict(d)

    def refuse(name: str) -> None:
        raise ValueError(f"non-strict JSON constant {name}")

    back = json.loads(text, parse_constant=refuse)
    assert back["krippendorff_alpha_interval"] is None
    assert "at least 2 annotators" in back["null_reasons"]["krippendorff_alpha_interval"]
    assert "icc_items" not in back["null_reasons"]
