"""Metrics against scipy on known vectors, the logistic fit, bootstrap intervals, the report."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from artjudge import scoring as S
from artjudge.eval import metrics as M


def _noisy(n: int = 300, noise: float = 15.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 100, n)
    return y + rng.normal(0, noise, n), y


def test_perfect_and_reversed_orders() -> None:
    y = np.arange(10.0)
    for fn in (M.srcc, M.plcc, M.krcc):
        assert fn(y, y) == pytest.approx(1.0)
        assert fn(-y, y) == pytest.approx(-1.0)
    assert M.plcc_logistic(y**3, y).plcc > M.plcc(y**3, y) + 0.02  # monotone but curved: the fit helps
    assert M.mse(y, y) == 0.0 and M.mae(y + 2, y) == 2.0 and M.mse(y + 2, y) == 4.0


def test_agree_with_scipy_on_random_and_tied_vectors() -> None:
    x, y = _noisy()
    xt, yt = np.round(x / 20), np.round(y / 25)  # heavy ties
    for a, b in ((x, y), (xt, yt)):
        assert M.srcc(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
        assert M.plcc(a, b) == pytest.approx(stats.pearsonr(a, b).statistic, abs=1e-12)
        assert M.krcc(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
    # A known tied example: Spearman of ranks [1, 2.5, 2.5, 4] vs [1, 2, 3, 4].
    assert M.srcc([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(
        np.corrcoef([1, 2.5, 2.5, 4], [1, 2, 3, 4])[0, 1]
    )


def test_constant_input_gives_nan_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in (M.srcc, M.plcc, M.krcc):
            assert math.isnan(fn([5, 5, 5], [1, 2, 3]))
            assert math.isnan(fn([1, 2, 3], [4, 4, 4]))
        assert math.isnan(M.plcc_logistic([5, 5, 5], [1, 2, 3]).plcc)
        rep = M.report([5.0] * 20, list(range(20)), bootstrap=50)
    assert math.isnan(rep.srcc.value) and math.isnan(rep.srcc.lo)
    assert rep.mae.value == pytest.approx(np.mean(np.abs(5 - np.arange(20))))
    assert json.dumps(rep.to_dict(), allow_nan=False)  # nan -> null


def test_bad_inputs_raise_one_line() -> None:
    with pytest.raises(M.MetricInputError, match="lengths differ"):
        M.srcc([1, 2, 3], [1, 2])
    with pytest.raises(M.MetricInputError, match="at least 2"):
        M.plcc([1], [1])
    with pytest.raises(M.MetricInputError, match="pred: 1 non-finite"):
        M.mae([1, float("nan")], [1, 2])
    with pytest.raises(ValueError):  # MetricInputError is also a ValueError
        M.kl_div([[0.5, 0.5]], [[1.0, 0.5]])


def test_logistic_fit_recovers_a_known_sigmoid() -> None:
    rng = np.random.default_rng(1)
    true = (90.0, 10.0, 55.0, 8.0)
    x = rng.uniform(0, 100, 400)
    y = M.logistic4(x, *true) + rng.normal(0, 0.5, x.size)
    fit = M.plcc_logistic(x, y)
    assert fit.fitted
    b1, b2, b3, b4 = fit.params
    assert (b1, b2, b3, abs(b4)) == pytest.approx(true, rel=0.05)
    assert fit.plcc > 0.99 > M.plcc(x, y)
    np.testing.assert_allclose(fit.mapped, M.logistic4(x, *fit.params))
    np.testing.assert_allclose(fit.predict(x), fit.mapped)


def test_logistic_fit_handles_decreasing_relations_and_never_loses_to_raw() -> None:
    x, y = _noisy(200, 10.0, 3)
    down = M.plcc_logistic(-x, y)
    assert down.fitted and down.plcc > 0.9  # mapped predictions correlate positively
    for seed in range(5):
        a, b = _noisy(60, 30.0, seed)
        assert abs(M.plcc_logistic(a, b).plcc) >= abs(M.plcc(a, b)) - 1e-6


def test_acc_rounds_on_the_chosen_scale() -> None:
    # On 1-10, 0-100 maps by 1 + s * 9 / 100: 50 -> 5.5 -> 6, 44 -> 4.96 -> 5, 45 -> 5.05 -> 5,
    # 60 -> 6.4 -> 6: two of three pairs agree.
    assert M.acc([50, 44, 60], [50, 45, 45], scale=(1, 10)) == pytest.approx(2 / 3)
    assert M.acc([3.4, 3.6, 7.0], [3.0, 4.0, 6.6]) == pytest.approx(1.0)  # rounded as given
    assert M.acc([0, 100], [0, 100], scale=(1, 10)) == 1.0
    assert M.acc([2.5, 1.5], [3.0, 2.0]) == 1.0  # half rounds up (not to even)


def test_distribution_metrics_agree_with_scipy() -> None:
    rng = np.random.default_rng(2)
    p = S.soft_labels(rng.uniform(0, 100, 5), rng.uniform(1, 20, 5))
    q = S.soft_labels(rng.uniform(0, 100, 5), rng.uniform(1, 20, 5))
    bins = np.arange(101.0)
    want_emd = [stats.wasserstein_distance(bins, bins, p[i], q[i]) for i in range(5)]
    np.testing.assert_allclose(M.emd(p, q, reduction="none"), want_emd, rtol=1e-9, atol=1e-12)
    want_js = [jensenshannon(p[i], q[i]) ** 2 for i in range(5)]
    np.testing.assert_allclose(M.js_div(p, q, reduction="none"), want_js, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(M.kl_div(p, p, reduction="none"), 0.0, atol=1e-9)
    assert M.kl_div(p, q) == pytest.approx(np.mean(stats.entropy(p, np.maximum(q, 1e-12), axis=1)))
    # EMD between two spikes is the distance between them, in score points.
    assert M.emd(S.soft_label(20.0, 0.0), S.soft_label(70.0, 0.0)) == pytest.approx(50.0)


def test_bootstrap_fast_path_equals_the_plain_loop() -> None:
    # (its speed is measured by benchmarks/evidence_metrics_speed.py, not asserted here)
    x, y = _noisy(500)
    slow = M.bootstrap_ci(lambda a, b: M.srcc(a, b), x, y, n=200, seed=4)
    fast = M.bootstrap_ci(M.srcc, x, y, n=200, seed=4)
    assert fast == pytest.approx(slow, abs=1e-12)
    xt, yt = np.round(x / 20), np.round(y / 25)  # ties: tau-b's correction must match scipy's
    for fn in (M.srcc, M.plcc, M.krcc, M.mse, M.mae):
        for a, b in ((x, y), (xt, yt)):
            assert M.bootstrap_ci(fn, a, b, n=100, seed=1) == pytest.approx(
                M.bootstrap_ci(lambda p, q, f=fn: f(p, q), a, b, n=100, seed=1), abs=1e-9
            )
    lo, hi = M.bootstrap_ci(M.srcc, x, y, n=1000, seed=0)
    assert lo < M.srcc(x, y) < hi


def test_bootstrap_interval_shrinks_with_more_items_and_is_reproducible() -> None:
    small = M.bootstrap_ci(M.plcc, *_noisy(50), n=500)
    large = M.bootstrap_ci(M.plcc, *_noisy(2000), n=500)
    assert (large[1] - large[0]) < (small[1] - small[0])
    assert M.bootstrap_ci(M.plcc, *_noisy(50), n=500) == small


def test_report_table_and_dict() -> None:
    x, y = _noisy(300)
    rep = M.report(x, y, bootstrap=200, seed=0, scale=(1, 10))
    assert rep.n == 300
    for name, mv in rep.metrics().items():
        assert mv.lo <= mv.value <= mv.hi, name
    assert rep.srcc.value == pytest.approx(M.srcc(x, y))
    assert rep.plcc_logistic.value == pytest.approx(M.plcc_logistic(x, y).plcc)
    assert rep.acc.value == pytest.approx(M.acc(x, y, scale=(1, 10)))
    d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
    assert d["srcc"]["value"] == pytest.approx(rep.srcc.value) and d["scale"] == [1, 10]
    table = rep.format_table("test")
    for name in M.MetricReport.METRICS:
        assert name in table
    bare = M.report(x, y, bootstrap=0)
    assert math.isnan(bare.srcc.lo) and "[" not in bare.format_table()


def test_report_on_real_agiqa_scores(agiqa_dir: Path) -> None:
    """Quality vs alignment MOS on AGIQA-3K: a real, moderate correlation, within its CI."""
    df = pd.read_csv(agiqa_dir / "data.csv")
    q, a = df["mos_quality"].to_numpy() * 20, df["mos_align"].to_numpy() * 20
    rep = M.report(a, q, bootstrap=300)
    assert rep.n == len(df)
    assert rep.srcc.value == pytest.approx(stats.spearmanr(a, q).statistic)
    assert 0.0 < rep.srcc.lo < rep.srcc.value < rep.srcc.hi < 1.0
