"""Soft labels, expectation and levels: properties (hypothesis) and real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from artjudge import scoring as S
from artjudge.scoring import losses as L

scores = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)
stds = st.one_of(st.none(), st.floats(min_value=0.0, max_value=40.0, allow_nan=False))
# Deterministic examples and no example database: CI runs are repeatable and write nothing.
FAST = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@FAST
@given(scores, stds)
def test_soft_label_expectation_is_the_score(s: float, sd: float | None) -> None:
    p = S.soft_label(s, sd)
    assert p.shape == (101,)
    assert abs(S.expectation(p) - s) <= 1e-6
    assert abs(p.sum() - 1.0) <= 1e-12
    assert p.min() >= 0.0


@FAST
@given(scores, scores, stds)
def test_soft_label_is_monotone_in_the_score(a: float, b: float, sd: float | None) -> None:
    """First-order stochastic dominance: the higher score's CDF lies nowhere above the lower's.

    Holds for a fixed std (a monotone-likelihood-ratio family) and, as this test checks,
    also for the sigma rule, although sigma changes with the score there.
    """
    lo, hi = min(a, b), max(a, b)
    cdf_lo = np.cumsum(S.soft_label(lo, sd))
    cdf_hi = np.cumsum(S.soft_label(hi, sd))
    assert np.all(cdf_hi <= cdf_lo + 1e-9)


@FAST
@given(scores, stds)
def test_level_labels_have_the_exact_mean(s: float, sd: float | None) -> None:
    p = S.score_to_levels(s, sd)
    assert p.shape == (5,)
    assert abs(S.levels_to_score(p) - s) <= 1e-6
    assert abs(p.sum() - 1.0) <= 1e-12 and p.min() >= 0.0


def test_soft_label_is_the_plain_gaussian_away_from_the_ends() -> None:
    """Mid-scale there is nothing to truncate: the label is the sampled normal density."""
    p = S.soft_label(50.0, 8.0)
    ref = stats.norm.pdf(S.BINS, loc=50.0, scale=8.0)
    np.testing.assert_allclose(p, ref / ref.sum(), atol=1e-12)
    assert S.distribution_std(p) == pytest.approx(8.0, abs=1e-3)


def test_soft_label_near_the_end_moves_the_centre_not_the_mean() -> None:
    """A naive truncated Gaussian at 3 with sigma 10 has mean ~9; ours keeps 3 and peaks at 0."""
    naive = stats.norm.pdf(S.BINS, loc=3.0, scale=10.0)
    naive /= naive.sum()
    assert S.expectation(naive) > 8.0
    p = S.soft_label(3.0, 10.0)
    assert S.expectation(p) == pytest.approx(3.0, abs=1e-9)
    assert int(np.argmax(p)) == 0
    assert np.all(np.diff(p) <= 0)  # a decaying half-bell, not a spike


def test_tiny_std_splits_between_neighbours() -> None:
    p = S.soft_label(42.3, 0.2)
    assert np.count_nonzero(p) == 2
    assert p[42] == pytest.approx(0.7) and p[43] == pytest.approx(0.3)
    assert S.soft_label(100.0, 10.0)[100] == 1.0
    assert S.soft_label(0.0, None)[0] == 1.0


def test_labels_mirror_around_mid_scale() -> None:
    np.testing.assert_allclose(S.soft_label(20.0, 12.0), S.soft_label(80.0, 12.0)[::-1], atol=1e-12)


def test_sigma_rule_is_widest_mid_scale() -> None:
    sig = S.sigma_rule(np.array([0.0, 10.0, 50.0, 90.0, 100.0]))
    assert sig[2] == pytest.approx(12.5)
    assert sig[0] == sig[4] == S.SIGMA_FLOOR
    assert sig[1] == pytest.approx(sig[3]) and S.SIGMA_FLOOR < sig[1] < sig[2]
    assert S.distribution_std(S.soft_label(50.0)) == pytest.approx(12.5, abs=0.05)


def test_soft_labels_vectorised_matches_single_and_mixes_unknown_stds() -> None:
    s = np.array([0.0, 7.5, 50.0, 99.0, 100.0])
    sd = np.array([3.0, np.nan, 0.1, 20.0, 5.0])
    batch = S.soft_labels(s, sd)
    for i in range(len(s)):
        one = S.soft_label(float(s[i]), None if np.isnan(sd[i]) else float(sd[i]))
        np.testing.assert_allclose(batch[i], one, atol=1e-12)
    np.testing.assert_allclose(S.expectation_batch(batch), s, atol=1e-9)


def test_bad_inputs_raise_one_clear_line() -> None:
    with pytest.raises(ValueError, match="score"):
        S.soft_label(101.0, 5.0)
    with pytest.raises(ValueError, match="NaN"):
        S.soft_label(float("nan"))
    with pytest.raises(ValueError, match="stds"):
        S.soft_label(50.0, -1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        S.expectation(np.ones(101))
    with pytest.raises(ValueError, match="levels"):
        S.levels_to_score([0.5, 0.5])


def test_expectation_and_std_agree_between_numpy_and_torch() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 101))
    score, std, probs = S.score_from_logits(logits)
    t = torch.tensor(logits, requires_grad=True)
    e = L.expectation_t(t)
    np.testing.assert_allclose(e.detach().numpy(), score, atol=1e-9)
    np.testing.assert_allclose(L.distribution_std_t(t).detach().numpy(), std, atol=1e-9)
    np.testing.assert_allclose(L.expectation_t(torch.tensor(probs), logits=False).numpy(), score, atol=1e-9)
    e.sum().backward()
    assert t.grad is not None and torch.all(torch.isfinite(t.grad)) and t.grad.abs().sum() > 0
    one = S.score_from_logits(torch.tensor(logits[0]))
    assert isinstance(one[0], float) and one[0] == pytest.approx(score[0])


def test_five_level_logits_score_like_q_align() -> None:
    """Q-Align: softmax over the 5 level tokens, weights 1..5; ours is 25 * (that - 1)."""
    logits = np.array([0.1, 0.5, 2.0, 1.0, -1.0])
    p = np.exp(logits) / np.exp(logits).sum()
    q_align = float(p @ np.arange(1, 6))
    score, _, _ = S.score_from_logits(logits)
    assert score == pytest.approx(25.0 * (q_align - 1.0))
    assert S.levels_to_score(p) == pytest.approx(score)


def test_votes_keep_the_mean_on_real_ava_histograms(shared_data: Path) -> None:
    rows = json.loads((shared_data / "labels" / "ava" / "ava_labels_test.json").read_text())[:500]
    counts = np.array([r["label"] for r in rows], dtype=float)
    labels = S.distribution_from_votes(counts, levels=np.arange(1, 11))
    vote_mean = counts @ np.arange(1, 11) / counts.sum(axis=1)
    np.testing.assert_allclose(S.expectation_batch(labels), (vote_mean - 1) / 9 * 100, atol=1e-9)
    assert labels.shape == (500, 101)
    assert np.all(labels >= 0)
    # Kernels fill the gaps between the 10 levels: no run of empty bins mid-histogram.
    assert np.count_nonzero(labels[0] > 1e-6) > 50


def test_votes_with_zero_kernel_are_exact_two_bin_splits() -> None:
    lab = S.distribution_from_votes([1, 0, 3], levels=[1, 2, 3], kernel_std=0.0)
    assert lab[0] == pytest.approx(0.25) and lab[100] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="no votes"):
        S.distribution_from_votes([0, 0, 0])


def test_real_agiqa_labels_are_exact_and_fast(agiqa_dir: Path) -> None:
    df = pd.read_csv(agiqa_dir / "data.csv")
    mos = df["mos_quality"].to_numpy() * 20.0  # about 0-5 -> 0-100
    sd = df["std_quality"].to_numpy() * 20.0
    assert mos.min() >= 0 and mos.max() <= 100
    labels = S.soft_labels(mos, sd)
    np.testing.assert_allclose(S.expectation_batch(labels), mos, atol=1e-6)
    unknown = S.soft_labels(mos)
    np.testing.assert_allclose(S.expectation_batch(unknown), mos, atol=1e-6)
    # The sigma rule was fitted to these stds: its typical label spread matches theirs.
    assert np.median(S.distribution_std_batch(unknown)) == pytest.approx(np.median(sd), rel=0.1)
