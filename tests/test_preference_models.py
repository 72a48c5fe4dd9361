"""Preference models on simulated and hand-made judgments: recovery, ties, priors, errors, refusals."""

from __future__ import annotations

import choix
import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from artjudge.errors import InputError
from artjudge.preference.fusion import fit_latent
from artjudge.preference.graph import DisconnectedGraphError
from artjudge.preference.models import BradleyTerry, Elo, Thurstone, TrueSkill


def _bt_data(
    n: int = 25, m: int = 1500, tie_rate: float = 0.0, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    true = rng.normal(0, 1.2, n)
    a = rng.integers(0, n, m)
    b = (a + rng.integers(1, n, m)) % n
    p = 1 / (1 + np.exp(-(true[a] - true[b])))
    u = rng.random(m)
    winner = np.where(u < tie_rate, "tie", np.where(rng.random(m) < p, "a", "b"))
    df = pd.DataFrame(
        {
            "annotator": "x",
            "item_a": [f"i{k:02d}" for k in a],
            "item_b": [f"i{k:02d}" for k in b],
            "winner": winner,
        }
    )
    return df, true


def test_bt_matches_choix_without_ties() -> None:
    df, _ = _bt_data()
    model = BradleyTerry(ties="none", alpha=0.01).fit(df)
    res = model.result_
    idx = {k: i for i, k in enumerate(res.items)}
    data = [
        (idx[a], idx[b]) if w == "a" else (idx[b], idx[a])
        for a, b, w in zip(df.item_a, df.item_b, df.winner, strict=True)
    ]
    ref = choix.opt_pairwise(len(res.items), data, alpha=0.01)
    np.testing.assert_allclose(res.score, ref - ref.mean(), atol=1e-3)


@pytest.mark.parametrize(
    "model", [BradleyTerry(), BradleyTerry(ties="rao-kupper"), Thurstone(), Elo(n_bootstrap=20)]
)
def test_models_recover_the_order_with_ties(model: object) -> None:
    df, true = _bt_data(tie_rate=0.15)
    res = model.fit(df).result_  # type: ignore[attr-defined]
    truth = pd.Series(true, index=[f"i{k:02d}" for k in range(len(true))]).loc[res.items]
    assert spearmanr(res.score, truth)[0] > 0.9
    assert np.all(res.se > 0) and np.all(res.lower < res.score) and np.all(res.score < res.upper)


def test_tie_parameter_is_estimated_and_grows_with_ties() -> None:
    few = BradleyTerry().fit(_bt_data(tie_rate=0.05)[0]).result_.params["tie_nu"]
    many = BradleyTerry().fit(_bt_data(tie_rate=0.4)[0]).result_.params["tie_nu"]
    assert 0 < few < many


def test_never_losing_item_stays_finite_and_on_top() -> None:
    rows = [("x", "champ", f"o{k}", "a") for k in range(5)] * 3
    rows += [("x", f"o{k}", f"o{(k + 1) % 5}", "a" if k % 2 else "b") for k in range(5)] * 2
    df = pd.DataFrame(rows, columns=["annotator", "item_a", "item_b", "winner"])
    for model in (BradleyTerry(), Thurstone()):
        res = model.fit(df).result_
        top = res.items[int(np.argmax(res.score))]
        assert top == "champ"
        assert np.all(np.isfinite(res.score)) and np.all(np.isfinite(res.se))
        assert res.upper[res.items.index("champ")] > res.lower[res.items.index("champ")]


def test_bt_standard_errors_cover_the_truth() -> None:
    """About 95% of the 95% intervals should contain the (centred) truth."""
    hits = []
    for seed in range(4):
        df, true = _bt_data(n=20, m=1200, seed=seed)
        res = BradleyTerry(ties="none", alpha=1e-4).fit(df).result_
        t = pd.Series(true, index=[f"i{k:02d}" for k in range(len(true))]).loc[res.items].to_numpy()
        t = t - t.mean()
        hits.append((res.lower <= t) & (t <= res.upper))
    coverage = float(np.mean(np.concatenate(hits)))
    assert 0.85 <= coverage <= 1.0


def test_elo_does_not_depend_on_row_order() -> None:
    df, _ = _bt_data(m=600)
    a = Elo(n_bootstrap=0, n_shuffles=10).fit(df).result_
    shuffled = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b = Elo(n_bootstrap=0, n_shuffles=10).fit(shuffled).result_
    # Same multiset of judgments, different row order: the shuffle average agrees closely.
    assert spearmanr(a.score, b.score)[0] > 0.97
    assert np.max(np.abs(a.score - b.score)) < 40


def test_predict_proba_is_consistent() -> None:
    df, _ = _bt_data(tie_rate=0.1)
    model = BradleyTerry().fit(df)
    res = model.result_
    hi, lo = res.items[int(np.argmax(res.score))], res.items[int(np.argmin(res.score))]
    assert model.predict_proba(hi, lo) > 0.5 > model.predict_proba(lo, hi)
    assert model.predict_proba(hi, lo) + model.predict_proba(lo, hi) == pytest.approx(1.0, abs=1e-9)


def _two_islands() -> pd.DataFrame:
    rows = [
        ("x", "a1", "a2", "a"),
        ("x", "a2", "a3", "b"),
        ("x", "a1", "a3", "a"),
        ("x", "b1", "b2", "a"),
        ("x", "b2", "b3", "a"),
        ("x", "b3", "b1", "tie"),
    ]
    return pd.DataFrame(rows, columns=["annotator", "item_a", "item_b", "winner"])


def test_disconnected_graph_is_refused_with_the_components() -> None:
    with pytest.raises(DisconnectedGraphError) as err:
        BradleyTerry().fit(_two_islands())
    assert "2 disconnected components" in str(err.value)
    assert "a1" in str(err.value) and "b1" in str(err.value)
    with pytest.raises(DisconnectedGraphError):
        fit_latent(_two_islands(), "bt")


def test_disconnected_graph_scored_separately_when_asked() -> None:
    out = fit_latent(_two_islands(), "bt", components_mode="separate")
    assert sorted(out["component"].unique()) == [1, 2]
    assert set(out["item"]) == {"a1", "a2", "a3", "b1", "b2", "b3"}
    for _, part in out.groupby("component"):
        assert abs(part["score"].mean()) < 1e-6


def test_items_never_compared_and_unknown_ids_are_named() -> None:
    df, _ = _bt_data(n=6, m=60)
    items = sorted(set(df.item_a) | set(df.item_b)) + ["lonely"]
    with pytest.raises(InputError, match="never compared: lonely"):
        BradleyTerry().fit(df, items=items)
    with pytest.raises(InputError, match="unknown item id"):
        BradleyTerry().fit(df, items=items[:3])


def test_several_dimensions_refused_by_a_single_model() -> None:
    df, _ = _bt_data(n=6, m=60)
    df["dimension"] = np.where(np.arange(len(df)) % 2, "colour", "composition")
    with pytest.raises(InputError, match="several dimensions"):
        BradleyTerry().fit(df)


def test_trueskill_optional() -> None:
    df, true = _bt_data(n=8, m=200)
    try:
        import trueskill  # noqa: F401
    except ImportError:
        from artjudge.errors import ModelNotAvailable

        with pytest.raises(ModelNotAvailable, match="trueskill"):
            TrueSkill().fit(df)
        return
    res = TrueSkill(n_shuffles=2).fit(df).result_
    assert spearmanr(res.score, true)[0] > 0.7
