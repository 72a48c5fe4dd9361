"""Score <-> distribution math on artjudge's one scale (0-100, higher is better).

Two views of a score live here:

* **Token-As-Score**: 101 ordered bins ``0, 1, ..., 100``; a model emits a distribution
  over them, the score is its expectation and its standard deviation the opinion spread
  (how far raters would differ; the model's error interval is :mod:`.intervals`).
* **Level-As-Score** (Q-Align): 5 ordered levels ``bad, poor, fair, good, excellent``
  placed at ``0, 25, 50, 75, 100`` (evenly spread over the whole scale, so that the
  expectation over levels spans exactly the same 0-100 range as the bins and the two
  views agree on the ends; Q-Align's 1..5 weights map onto these by ``25 * (w - 1)``).

Soft labels turn a (score, std) pair into a target distribution whose discrete
expectation equals the score *exactly* (DeQA-Score style): a discretised Gaussian of
the given sigma, truncated to the bins and renormalised, whose centre is solved for so
that the truncation does not drag the mean towards the middle. Without a std, sigma
follows :func:`sigma_rule` (ArtQuant-style score-based distribution estimation).

Everything is pure math in numpy, so reading a dataset's soft labels never needs torch;
the differentiable views and the training losses live in :mod:`artjudge.scoring.losses`.
This package imports nothing else from artjudge (it sits at the bottom of the graph), so
bad inputs raise ``ValueError`` with one line naming the input and the reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BINS",
    "LEVEL_NAMES",
    "LEVEL_SCORES",
    "N_BINS",
    "SCORE_MAX",
    "SCORE_MIN",
    "SIGMA_FLOOR",
    "SIGMA_K",
    "TINY_SIGMA_BINS",
    "distribution_from_votes",
    "distribution_std",
    "distribution_std_batch",
    "expectation",
    "expectation_batch",
    "levels_to_score",
    "score_from_logits",
    "score_to_level_dict",
    "score_to_levels",
    "sigma_rule",
    "soft_label",
    "soft_labels",
]

SCORE_MIN: float = 0.0
SCORE_MAX: float = 100.0
N_BINS: int = 101
BINS: NDArray[np.int64] = np.arange(N_BINS)
"""The Token-As-Score bins: the integers 0..100."""

LEVEL_NAMES: tuple[str, ...] = ("bad", "poor", "fair", "good", "excellent")
LEVEL_SCORES: NDArray[np.float64] = np.linspace(SCORE_MIN, SCORE_MAX, len(LEVEL_NAMES))
"""Level-As-Score anchors: 0, 25, 50, 75, 100."""

SIGMA_K: float = 0.25
"""Slope of the no-std sigma rule: sigma(s) = SIGMA_K * sqrt(s * (100 - s)).

Measured on AGIQA-3K (perceptual quality, scaled to 0-100): the per-image rater std
divided by sqrt(s (100 - s)) has a median of 0.24-0.26 in every decile from 10 to 80,
i.e. the rater spread follows the Bhatia-Davis bound's shape (largest mid-scale, zero at
the ends) with a nearly constant factor. sigma(50) = 12.5 against a measured median of
12.4 for mid-scale images."""

SIGMA_FLOOR: float = 2.0
"""Smallest sigma the no-std rule returns (AGIQA-3K's smallest rater std is 2.2 on 0-100)."""

TINY_SIGMA_BINS: float = 0.5
"""Below this sigma (in bins) a discretised Gaussian is a spike; labels then split the
mass between the two neighbouring bins by linear interpolation (exact mean)."""

_MEAN_TOL: float = 1e-11  # the solver's target accuracy on the mean, in bin units


# ----------------------------------------------------------------------------- helpers


def _bins_for(n: int) -> NDArray[np.float64]:
    """n ordered bins spread evenly over 0..100 (101 -> the integers, 5 -> the levels)."""
    if n < 2:
        raise ValueError(f"distribution: needs at least 2 bins, got {n}")
    return np.linspace(SCORE_MIN, SCORE_MAX, n)


def _check_probs(p: NDArray[np.float64], name: str = "distribution") -> None:
    if p.ndim == 0 or p.shape[-1] < 2:
        raise ValueError(f"{name}: needs a last axis of at least 2 bins, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    if np.any(p < -1e-12):
        raise ValueError(f"{name}: has negative probabilities (min {p.min():.3g})")
    sums = p.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > 1e-6):
        bad = float(np.ravel(sums)[np.argmax(np.abs(np.ravel(sums) - 1.0))])
        raise ValueError(f"{name}: probabilities must sum to 1 (got {bad:.6g}); pass softmax(logits)")


def _check_scores(s: NDArray[np.float64], name: str = "score") -> None:
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    if np.any(s < SCORE_MIN) or np.any(s > SCORE_MAX):
        raise ValueError(
            f"{name}: must lie in [{SCORE_MIN:g}, {SCORE_MAX:g}] "
            f"(got min {s.min():.6g}, max {s.max():.6g}); map the dataset's scale first"
        )


# --------------------------------------------------------------- expectation and spread


def expectation_batch(p: ArrayLike, bins: ArrayLike | None = None) -> NDArray[np.float64]:
    """Expected score of each distribution along the last axis.

    ``bins`` default to ``n`` bins evenly spread over 0..100, so 101-bin Token-As-Score
    distributions and 5-level Level-As-Score distributions both come out on 0-100.
    """
    arr = np.asarray(p, dtype=np.float64)
    _check_probs(arr)
    b = _bins_for(arr.shape[-1]) if bins is None else np.asarray(bins, dtype=np.float64)
    if b.shape != (arr.shape[-1],):
        raise ValueError(f"bins: need {arr.shape[-1]} values to match the distribution, got shape {b.shape}")
    return np.asarray(arr @ b, dtype=np.float64)


def expectation(p: ArrayLike, bins: ArrayLike | None = None) -> float:
    """Expected score of one distribution (Token-As-Score: sum_i i * p_i)."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"distribution: expectation() takes one 1-D distribution, got shape {arr.shape}; "
            "use expectation_batch()"
        )
    return float(expectation_batch(arr, bins))


def distribution_std_batch(p: ArrayLike, bins: ArrayLike | None = None) -> NDArray[np.float64]:
    """Standard deviation of each distribution along the last axis, on the 0-100 scale."""
    arr = np.asarray(p, dtype=np.float64)
    mean = expectation_batch(arr, bins)
    b = _bins_for(arr.shape[-1]) if bins is None else np.asarray(bins, dtype=np.float64)
    var = (arr * (b - mean[..., None]) ** 2).sum(axis=-1)
    return np.sqrt(np.maximum(var, 0.0))


def distribution_std(p: ArrayLike, bins: ArrayLike | None = None) -> float:
    """Standard deviation of one distribution: the opinion spread (not the score's error interval)."""
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(
            f"distribution: distribution_std() takes one 1-D distribution, got shape {arr.shape}"
        )
    return float(distribution_std_batch(arr, bins))


def score_from_logits(
    logits: Any,
) -> tuple[float | NDArray[np.float64], float | NDArray[np.float64], NDArray[np.float64]]:
    """(score, std, probs) from raw bin logits, one row (floats) or a batch (arrays).

    Works for any bin count (101 bins or 5 levels): bins are spread evenly over 0..100.
    """
    if hasattr(logits, "detach"):  # a torch tensor, without importing torch here
        arr = logits.detach().double().cpu().numpy()
    else:
        arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] < 2:
        raise ValueError(f"logits: needs a last axis of at least 2 bins, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("logits: contains NaN or infinite values")
    z = arr - arr.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probs = e / e.sum(axis=-1, keepdims=True)
    score = expectation_batch(probs)
    std = distribution_std_batch(probs)
    if arr.ndim == 1:
        return float(score), float(std), probs
    return score, std, probs


# ----------------------------------------------------------------------- soft labels


def sigma_rule(score: ArrayLike) -> NDArray[np.float64]:
    """Sigma for a score that comes without a std (ArtQuant-style estimation).

    ``sigma(s) = max(SIGMA_FLOOR, SIGMA_K * sqrt(s * (100 - s)))``: raters disagree most
    mid-scale and cannot disagree much near the ends (the Bhatia-Davis bound
    ``var <= s (100 - s)`` for a 0-100 rating with mean s); SIGMA_K is fitted on
    AGIQA-3K's rater stds (see its docstring).
    """
    s = np.asarray(score, dtype=np.float64)
    return np.maximum(SIGMA_FLOOR, SIGMA_K * np.sqrt(np.clip(s * (SCORE_MAX - s), 0.0, None)))


def _gauss_rows(
    theta: NDArray[np.float64], inv2s2: NDArray[np.float64], idx: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Rows p_i ∝ exp(theta * i - i^2 / (2 sigma^2)) with their mean and variance (bin units)."""
    logit = theta[:, None] * idx[None, :] - inv2s2[:, None] * idx[None, :] ** 2
    logit -= logit.max(axis=1, keepdims=True)
    e = np.exp(logit)
    p = e / e.sum(axis=1, keepdims=True)
    m = p @ idx
    v = p @ (idx**2) - m**2
    return p, m, np.maximum(v, 0.0)


def _interp_rows(s_u: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Mass split between floor(s) and ceil(s) so the mean is s exactly (bin units)."""
    lo = np.clip(np.floor(s_u), 0, n - 1).astype(np.int64)
    frac = s_u - lo
    hi = np.clip(lo + 1, 0, n - 1)
    out = np.zeros((s_u.shape[0], n))
    rows = np.arange(s_u.shape[0])
    out[rows, lo] += 1.0 - frac
    out[rows, hi] += frac
    return out


def _exact_gaussian_rows(s_u: NDArray[np.float64], sig_u: NDArray[np.float64], n: int) -> NDArray[np.float64]:
    """Truncated discrete Gaussians on bins 0..n-1 whose mean is exactly s_u (bin units).

    The centre is found in the natural parameter theta = mu / sigma^2: the family
    p_i ∝ exp(theta i - i^2 / 2 sigma^2) is an exponential family in theta, so its mean is
    strictly increasing in theta (d mean / d theta = variance > 0) and the root is unique;
    the family has a monotone likelihood ratio, so a higher score gives a stochastically
    larger label (first-order dominance). Scores above mid-scale are solved by
    reflection, which keeps the bracket small and makes labels exactly mirror-symmetric.
    A safeguarded Newton iteration (bisection whenever Newton leaves the bracket) solves
    every row at once.
    """
    top = float(n - 1)
    flip = s_u > top / 2
    t = np.where(flip, top - s_u, s_u)  # target mean in [0, top/2]
    idx = np.arange(n, dtype=np.float64)
    inv2s2 = 1.0 / (2.0 * sig_u**2)
    lo = np.full_like(t, -60.0)  # mean(theta=-60) < exp(-60) ≈ 1e-26: below any target we solve for
    hi = top / 2 / sig_u**2 + 1.0  # centre past mid-scale: mean >= top/2 >= target
    # Start from the two regimes' closed forms: an untruncated Gaussian (theta = t / sigma^2)
    # far from the end, a geometric law (mean = q / (1 - q), q = e^theta) close to it.
    theta = np.clip(t / sig_u**2 + np.log(t / (1.0 + t)), lo, hi)
    p = np.zeros((t.shape[0], n))
    active = np.arange(t.shape[0])
    for _ in range(200):
        pa, m, v = _gauss_rows(theta[active], inv2s2[active], idx)
        err = m - t[active]
        ok = np.abs(err) <= _MEAN_TOL * np.maximum(1.0, t[active])
        p[active] = pa  # converged rows keep their final value; others are overwritten next round
        if np.all(ok):
            break
        keep = ~ok
        active, err, v = active[keep], err[keep], v[keep]
        th = theta[active]
        hi[active] = np.where(err > 0, th, hi[active])
        lo[active] = np.where(err <= 0, th, lo[active])
        step = th - err / np.maximum(v, 1e-300)
        inside = (step > lo[active]) & (step < hi[active]) & np.isfinite(step)
        theta[active] = np.where(inside, step, 0.5 * (lo[active] + hi[active]))
    return np.where(flip[:, None], p[:, ::-1], p)


def soft_labels(
    scores: ArrayLike, stds: ArrayLike | None = None, n_bins: int = N_BINS
) -> NDArray[np.float64]:
    """Vectorised :func:`soft_label`: one row per score, shape ``(len(scores), n_bins)``.

    ``stds`` may be a scalar, an array matching ``scores``, or None (sigma from
    :func:`sigma_rule`); NaN entries in an array of stds also fall back to the rule.
    """
    s = np.atleast_1d(np.asarray(scores, dtype=np.float64)).ravel()
    _check_scores(s, "scores")
    if stds is None:
        sig = sigma_rule(s)
    else:
        sig = np.broadcast_to(np.asarray(stds, dtype=np.float64), np.asarray(scores).shape).ravel().copy()
        if np.any(sig < 0) or np.any(np.isinf(sig)):
            raise ValueError("stds: must be finite and >= 0 (use None or NaN for 'unknown')")
        unknown = np.isnan(sig)
        sig[unknown] = sigma_rule(s[unknown])
    _bins_for(n_bins)
    spacing = (SCORE_MAX - SCORE_MIN) / (n_bins - 1)
    s_u = (s - SCORE_MIN) / spacing
    sig_u = sig / spacing
    top = float(n_bins - 1)
    # Near an end, a Gaussian label would need a centre far outside the scale; the exact
    # answer there is (almost) a two-bin split, which interpolation gives without a solve.
    tiny = (sig_u < TINY_SIGMA_BINS) | (s_u <= 1e-9) | (s_u >= top - 1e-9)
    out = np.empty((s.shape[0], n_bins))
    if np.any(tiny):
        out[tiny] = _interp_rows(s_u[tiny], n_bins)
    if np.any(~tiny):
        out[~tiny] = _exact_gaussian_rows(s_u[~tiny], sig_u[~tiny], n_bins)
    return out


def soft_label(score: float, std: float | None = None, n_bins: int = N_BINS) -> NDArray[np.float64]:
    """Target distribution over ``n_bins`` bins whose expectation is ``score`` exactly.

    With ``std``: a discretised Gaussian of that sigma, truncated to 0..100 and
    renormalised, its centre solved so the discrete mean equals the score (DeQA-Score);
    below half a bin it becomes the two-bin linear interpolation. Without ``std``: the
    same construction with sigma from :func:`sigma_rule`.
    """
    return soft_labels(np.asarray([score], dtype=np.float64), None if std is None else [std], n_bins)[0]


def score_to_levels(score: float, std: float | None = None) -> NDArray[np.float64]:
    """Soft Level-As-Score label on the 5 levels (0, 25, ..., 100) with the exact mean.

    The same exact-mean Gaussian as :func:`soft_label`, on 5 bins 25 points apart (so a
    std under 12.5 puts the mass on the two levels around the score).
    """
    return soft_label(score, std, n_bins=len(LEVEL_NAMES))


def score_to_level_dict(score: float, std: float | None = None) -> dict[str, float]:
    """:func:`score_to_levels` labelled: ``{level name: probability}`` in order bad..excellent.

    The array form stays for code that does arithmetic on it; this one is for reading and
    for JSON, where a bare 5-vector does not say which entry is which level.
    """
    return {name: float(p) for name, p in zip(LEVEL_NAMES, score_to_levels(score, std), strict=True)}


def levels_to_score(p5: ArrayLike) -> float | NDArray[np.float64]:
    """Score from a distribution over the 5 levels (Q-Align's weighted sum, on 0-100)."""
    arr = np.asarray(p5, dtype=np.float64)
    if arr.shape[-1:] != (len(LEVEL_NAMES),):
        raise ValueError(
            f"levels: need {len(LEVEL_NAMES)} level probabilities ({', '.join(LEVEL_NAMES)}), "
            f"got shape {arr.shape}"
        )
    out = expectation_batch(arr, LEVEL_SCORES)
    return float(out) if arr.ndim == 1 else out


def distribution_from_votes(
    counts: ArrayLike,
    levels: ArrayLike | None = None,
    scale: tuple[float, float] | None = None,
    kernel_std: float | None = None,
    n_bins: int = N_BINS,
) -> NDArray[np.float64]:
    """101-bin label from a vote histogram (e.g. AVA's 10 bins), preserving the mean.

    ``levels`` are the vote values on the dataset's own scale (default 1..k); ``scale``
    is that scale's (min, max) (default: the first and last level), mapped linearly onto
    0..100. Each level's votes are spread by an exact-mean Gaussian of ``kernel_std``
    (default half the level spacing on 0-100, so 10 AVA levels do not leave 90 empty
    bins between them; 0 gives the two-bin interpolation), so the label's expectation is
    the vote mean on 0-100 exactly. Accepts one histogram or a batch (rows).
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim not in (1, 2) or c.shape[-1] < 2:
        raise ValueError(
            f"counts: need one histogram or rows of histograms with >= 2 levels, got shape {c.shape}"
        )
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError("counts: vote counts must be finite and >= 0")
    totals = c.sum(axis=-1)
    if np.any(totals <= 0):
        raise ValueError("counts: a histogram has no votes")
    k = c.shape[-1]
    lv = np.arange(1, k + 1, dtype=np.float64) if levels is None else np.asarray(levels, dtype=np.float64)
    if lv.shape != (k,):
        raise ValueError(f"levels: need {k} values to match the histogram, got shape {lv.shape}")
    lo, hi = (float(lv.min()), float(lv.max())) if scale is None else (float(scale[0]), float(scale[1]))
    if not hi > lo:
        raise ValueError(f"scale: max must exceed min, got ({lo}, {hi})")
    pos = (lv - lo) / (hi - lo) * (SCORE_MAX - SCORE_MIN) + SCORE_MIN
    _check_scores(pos, "levels (mapped to 0-100)")
    if kernel_std is None:
        kernel_std = 0.5 * float(np.min(np.abs(np.diff(np.sort(pos))))) if k > 1 else 0.0
    kernels = soft_labels(pos, np.full(k, kernel_std), n_bins)  # (k, n_bins), exact means
    w = c / totals[..., None]
    return np.asarray(w @ kernels, dtype=np.float64)
