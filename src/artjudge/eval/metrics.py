"""Agreement between predicted and human scores, with bootstrap confidence intervals.

Correlations come from ``scipy.stats`` so that our numbers are the numbers other papers
report: SRCC (Spearman), PLCC (Pearson, raw and after the VQEG 4-parameter logistic
mapping), KRCC (Kendall tau-b). Errors (MSE, MAE) and ACC (PPJudge's rounded-score
agreement) are on the scale the caller passes. Distribution metrics (KL, JS, EMD)
compare predicted and target score distributions row by row.

Constant input: a correlation with a constant vector is undefined; the correlation
functions return ``nan`` (without scipy's warning) rather than raising, so a report on a
collapsed model still prints, and bootstrap resamples that happen to be constant are
dropped from the interval. Inputs of different lengths, fewer than 2 items or
non-finite values raise :class:`MetricInputError` with one line naming the input.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from artjudge.errors import ArtjudgeError

__all__ = [
    "LogisticFit",
    "MetricInputError",
    "MetricReport",
    "MetricValue",
    "acc",
    "bootstrap_ci",
    "emd",
    "js_div",
    "kl_div",
    "krcc",
    "logistic4",
    "mae",
    "mse",
    "plcc",
    "plcc_logistic",
    "report",
    "srcc",
]

Array = NDArray[np.float64]
Index = NDArray[np.int64]


class MetricInputError(ArtjudgeError, ValueError):
    """Predictions and targets that cannot be compared, and why."""


def _pair(pred: ArrayLike, target: ArrayLike) -> tuple[Array, Array]:
    x = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(target, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise MetricInputError(f"pred/target: lengths differ ({x.size} predictions, {y.size} targets)")
    if x.size < 2:
        raise MetricInputError(f"pred/target: need at least 2 items, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise MetricInputError(f"pred: {int(np.sum(~np.isfinite(x)))} non-finite value(s)")
    if not np.all(np.isfinite(y)):
        raise MetricInputError(f"target: {int(np.sum(~np.isfinite(y)))} non-finite value(s)")
    return x, y


def _constant(v: Array) -> bool:
    return bool(np.all(v == v[0]))


# -------------------------------------------------------------------- point metrics


def srcc(pred: ArrayLike, target: ArrayLike) -> float:
    """Spearman rank correlation (ties get average ranks); nan for constant input."""
    x, y = _pair(pred, target)
    if _constant(x) or _constant(y):
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def plcc(pred: ArrayLike, target: ArrayLike) -> float:
    """Pearson linear correlation of the raw scores; nan for constant input."""
    x, y = _pair(pred, target)
    if _constant(x) or _constant(y):
        return math.nan
    return float(stats.pearsonr(x, y).statistic)


def krcc(pred: ArrayLike, target: ArrayLike) -> float:
    """Kendall rank correlation (tau-b, which corrects for ties); nan for constant input."""
    x, y = _pair(pred, target)
    if _constant(x) or _constant(y):
        return math.nan
    return float(stats.kendalltau(x, y).statistic)


def mse(pred: ArrayLike, target: ArrayLike) -> float:
    """Mean squared error, in the caller's units squared."""
    x, y = _pair(pred, target)
    return float(np.mean((x - y) ** 2))


def mae(pred: ArrayLike, target: ArrayLike) -> float:
    """Mean absolute error, in the caller's units."""
    x, y = _pair(pred, target)
    return float(np.mean(np.abs(x - y)))


def _to_scale(v: Array, scale: tuple[float, float] | None, source: tuple[float, float]) -> Array:
    if scale is None:
        return v
    lo, hi = float(scale[0]), float(scale[1])
    s0, s1 = float(source[0]), float(source[1])
    if not (hi > lo and s1 > s0):
        raise MetricInputError(f"scale: need (min, max) with max > min, got scale={scale}, source={source}")
    return lo + (v - s0) / (s1 - s0) * (hi - lo)


def acc(
    pred: ArrayLike,
    target: ArrayLike,
    scale: tuple[float, float] | None = None,
    source: tuple[float, float] = (0.0, 100.0),
) -> float:
    """Fraction of items whose rounded predicted score equals the rounded target (PPJudge).

    Both are first mapped linearly from ``source`` (default 0-100) onto ``scale`` (e.g.
    ``(1, 10)``), clipped to it, then rounded half-up to integers. Without ``scale``
    the values are rounded as given. The scale decides how strict ACC is: on 1-10 one
    step is 11 points of 0-100.
    """
    x, y = _pair(pred, target)
    xs, ys = _to_scale(x, scale, source), _to_scale(y, scale, source)
    if scale is not None:
        xs, ys = np.clip(xs, scale[0], scale[1]), np.clip(ys, scale[0], scale[1])
    rx, ry = np.floor(xs + 0.5), np.floor(ys + 0.5)
    return float(np.mean(rx == ry))


# ------------------------------------------------------------- 4-parameter logistic


def logistic4(x: ArrayLike, b1: float, b2: float, b3: float, b4: float) -> Array:
    """VQEG mapping ``f(x) = (b1 - b2) / (1 + exp(-(x - b3) / |b4|)) + b2``."""
    xv = np.asarray(x, dtype=np.float64)
    z = np.clip(-(xv - b3) / max(abs(b4), 1e-12), -700.0, 700.0)
    return np.asarray((b1 - b2) / (1.0 + np.exp(z)) + b2, dtype=np.float64)


@dataclass(frozen=True)
class LogisticFit:
    """PLCC after the logistic mapping, with what the eval plots need to draw the curve.

    ``fitted`` is False when every curve fit failed and the mapping fell back to the
    least-squares line (whose PLCC equals the raw PLCC).
    """

    plcc: float
    params: tuple[float, float, float, float]
    mapped: Array = field(repr=False)
    fitted: bool

    def predict(self, x: ArrayLike) -> Array:
        """Map new raw predictions through the fitted curve (or the fallback line)."""
        if self.fitted:
            return logistic4(x, *self.params)
        slope, intercept = self.params[0], self.params[1]
        return np.asarray(slope * np.asarray(x, dtype=np.float64) + intercept, dtype=np.float64)


def plcc_logistic(pred: ArrayLike, target: ArrayLike) -> LogisticFit:
    """PLCC between the target and the 4-parameter-logistic mapping of the prediction.

    Fitted with ``scipy.optimize.curve_fit`` from a few starting points (the standard
    ``[max(y), min(y), mean(x), std(x)]``, swapped for a decreasing relation, and
    narrower/wider slopes); the fit with the smallest squared error wins. If none
    converges, or the mapping comes out constant, the least-squares line is used.
    """
    x, y = _pair(pred, target)
    if _constant(x) or _constant(y):
        return LogisticFit(math.nan, (math.nan,) * 4, np.full_like(x, np.mean(y)), False)
    r = stats.pearsonr(x, y).statistic
    hi_y, lo_y = (float(y.max()), float(y.min())) if r >= 0 else (float(y.min()), float(y.max()))
    sx = float(np.std(x)) or 1.0
    starts = [[hi_y, lo_y, float(np.mean(x)), s] for s in (sx, sx / 4, sx * 4)]
    starts.append([hi_y, lo_y, float(np.median(x)), sx])
    best: tuple[float, Array] | None = None
    for p0 in starts:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                popt, _ = optimize.curve_fit(logistic4, x, y, p0=p0, maxfev=10000)
        except (RuntimeError, ValueError, optimize.OptimizeWarning):
            continue
        if not np.all(np.isfinite(popt)):
            continue
        sse = float(np.sum((logistic4(x, *popt) - y) ** 2))
        if best is None or sse < best[0]:
            best = (sse, popt)
    if best is not None:
        mapped = logistic4(x, *best[1])
        if not _constant(mapped) and np.all(np.isfinite(mapped)):
            b1, b2, b3, b4 = (float(v) for v in best[1])
            params = (b1, b2, b3, b4)
            return LogisticFit(float(stats.pearsonr(mapped, y).statistic), params, mapped, True)
    slope, intercept = np.polyfit(x, y, 1)
    mapped = slope * x + intercept
    return LogisticFit(float(r), (float(slope), float(intercept), math.nan, math.nan), mapped, False)


# ------------------------------------------------------------ distribution metrics


def _rows(p: ArrayLike, q: ArrayLike) -> tuple[Array, Array]:
    a = np.atleast_2d(np.asarray(p, dtype=np.float64))
    b = np.atleast_2d(np.asarray(q, dtype=np.float64))
    if a.shape != b.shape:
        raise MetricInputError(f"p/q: distribution shapes differ ({a.shape} vs {b.shape})")
    for name, m in (("p", a), ("q", b)):
        if not np.all(np.isfinite(m)) or np.any(m < 0):
            raise MetricInputError(f"{name}: distributions must be finite and >= 0")
        if np.any(np.abs(m.sum(axis=1) - 1.0) > 1e-6):
            raise MetricInputError(f"{name}: each distribution (row) must sum to 1")
    return a, b


Reduction = Literal["mean", "none"]


def _reduce(v: Array, reduction: Reduction) -> float | Array:
    if reduction == "mean":
        return float(np.mean(v))
    if reduction == "none":
        return v
    raise MetricInputError(f"reduction: must be 'mean' or 'none', got {reduction!r}")


def kl_div(p: ArrayLike, q: ArrayLike, reduction: Reduction = "mean", eps: float = 1e-12) -> float | Array:
    """KL(p || q) in nats per row; q is floored at ``eps`` so empty predicted bins stay finite."""
    a, b = _rows(p, q)
    return _reduce(np.asarray(stats.entropy(a, np.maximum(b, eps), axis=1), dtype=np.float64), reduction)


def js_div(p: ArrayLike, q: ArrayLike, reduction: Reduction = "mean") -> float | Array:
    """Jensen-Shannon divergence in nats per row (symmetric, bounded by ln 2)."""
    a, b = _rows(p, q)
    m = 0.5 * (a + b)
    js = 0.5 * stats.entropy(a, m, axis=1) + 0.5 * stats.entropy(b, m, axis=1)
    return _reduce(np.asarray(js, dtype=np.float64), reduction)


def emd(
    p: ArrayLike, q: ArrayLike, reduction: Reduction = "mean", bins: ArrayLike | None = None
) -> float | Array:
    """Earth mover's (Wasserstein-1) distance per row in score units.

    Bins default to n points spread evenly over 0..100, so a result of 3 means "three
    points of the 0-100 scale"; equals ``scipy.stats.wasserstein_distance`` on the bins.
    """
    a, b = _rows(p, q)
    n = a.shape[1]
    x = np.linspace(0.0, 100.0, n) if bins is None else np.asarray(bins, dtype=np.float64)
    if x.shape != (n,) or np.any(np.diff(x) <= 0):
        raise MetricInputError(f"bins: need {n} increasing values, got shape {x.shape}")
    cdf_gap = np.abs(np.cumsum(a, axis=1) - np.cumsum(b, axis=1))[:, :-1]
    return _reduce(cdf_gap @ np.diff(x), reduction)


# ------------------------------------------------------------------------ bootstrap


def _rowwise_pearson(x: Array, y: Array) -> Array:
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    num = np.sum(xc * yc, axis=1)
    den = np.sqrt(np.sum(xc * xc, axis=1) * np.sum(yc * yc, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = num / den
    return np.where(den > 0, np.clip(r, -1.0, 1.0), np.nan)


_KRCC_MATRIX_MAX = 3000  # items: above this the n x n pair matrices cost more memory than a loop saves


def _krcc_from_counts(x: Array, y: Array, counts: Array) -> Array:
    """Kendall tau-b of every resample at once, from how often each item was drawn.

    A resample's pairs are pairs of original items weighted by their draw counts c, so
    with S[k, l] = sign(x_k - x_l) sign(y_k - y_l): concordant - discordant = c'Sc / 2,
    and the pairs untied in x number (m^2 - sum_g C_g^2) / 2, where C_g sums the counts
    of the items sharing the g-th distinct x value and m is the resample size (likewise
    for y). That is scipy's tau-b = (P - Q) / sqrt((n0 - n1)(n0 - n2)) without a loop.
    Every intermediate is an integer below 2^24, so float32 matmuls are exact.
    """
    sgn = (np.sign(x[:, None] - x[None, :]) * np.sign(y[:, None] - y[None, :])).astype(np.float32)
    c32 = counts.astype(np.float32)
    num = np.einsum("rk,rk->r", (c32 @ sgn).astype(np.float64), counts)
    m2 = counts.sum(axis=1) ** 2

    def untied(v: Array) -> Array:
        _, groups = np.unique(v, return_inverse=True)
        per_group = np.zeros((counts.shape[0], int(groups.max()) + 1))
        np.add.at(per_group.T, groups, counts.T)
        return m2 - np.sum(per_group**2, axis=1)

    den = np.sqrt(untied(x) * untied(y))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return np.clip(out, -1.0, 1.0)


def _gathered(fn: Callable[[Array, Array], Array]) -> Callable[[Array, Array, Index], Array]:
    return lambda x, y, idx: fn(x[idx], y[idx])


def _draw_counts(idx: Index, n: int) -> Array:
    """How often each of the n items appears in each resample (rows)."""
    flat = (idx + np.arange(idx.shape[0])[:, None] * n).ravel()
    return np.bincount(flat, minlength=idx.shape[0] * n).reshape(idx.shape[0], n).astype(np.float64)


def _krcc_resamples(x: Array, y: Array, idx: Index) -> Array:
    return _krcc_from_counts(x, y, _draw_counts(idx, x.size))


def _resample_ranks(v: Array, counts: Array) -> Array:
    """Average (tie-sharing) rank of each item within each resample, without sorting.

    Items with equal values form groups; a group's rank in a resample is the number of
    drawn items below it plus (its own draws + 1) / 2, as ``scipy.stats.rankdata`` gives.
    """
    _, g = np.unique(v, return_inverse=True)
    n_groups = int(g.max()) + 1
    r = counts.shape[0]
    flat = (g[None, :] + np.arange(r)[:, None] * n_groups).ravel()
    per_group = np.bincount(flat, weights=counts.ravel(), minlength=r * n_groups).reshape(r, n_groups)
    rank = np.cumsum(per_group, axis=1) - per_group + (per_group + 1.0) / 2.0
    return np.asarray(rank[:, g], dtype=np.float64)


def _srcc_resamples(x: Array, y: Array, idx: Index) -> Array:
    """Spearman of every resample: the count-weighted Pearson of within-resample ranks."""
    c = _draw_counts(idx, x.size)
    rx, ry = _resample_ranks(x, c), _resample_ranks(y, c)
    m = c.sum(axis=1, keepdims=True)
    dx = rx - np.sum(c * rx, axis=1, keepdims=True) / m
    dy = ry - np.sum(c * ry, axis=1, keepdims=True) / m
    num = np.sum(c * dx * dy, axis=1)
    den = np.sqrt(np.sum(c * dx * dx, axis=1) * np.sum(c * dy * dy, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / den, np.nan)
    return np.clip(out, -1.0, 1.0)


_VECTORISED: dict[Callable[..., float], Callable[[Array, Array, Index], Array]] = {
    srcc: _srcc_resamples,
    plcc: _gathered(_rowwise_pearson),
    krcc: _krcc_resamples,
    mse: _gathered(lambda x, y: np.mean((x - y) ** 2, axis=1)),
    mae: _gathered(lambda x, y: np.mean(np.abs(x - y), axis=1)),
}


def bootstrap_ci(
    metric_fn: Callable[[Array, Array], float],
    pred: ArrayLike,
    target: ArrayLike,
    n: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval (``1 - alpha``) of ``metric_fn`` over items.

    Resamples items with replacement ``n`` times from ``numpy.random.default_rng(seed)``;
    srcc, plcc, krcc (up to 3,000 items), mse and mae run on all resamples at once, any other metric in a loop.
    Resamples where the metric is undefined (nan: e.g. all-equal predictions) are left
    out; if all are, the interval is (nan, nan).
    """
    x, y = _pair(pred, target)
    if n < 1:
        raise MetricInputError(f"n: bootstrap needs at least 1 resample, got {n}")
    if not 0.0 < alpha < 1.0:
        raise MetricInputError(f"alpha: must lie in (0, 1), got {alpha}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n, x.size))
    fast = _VECTORISED.get(metric_fn)
    if fast is not None and not (metric_fn is krcc and x.size > _KRCC_MATRIX_MAX):
        vals = fast(x, y, idx)
    else:
        vals = np.array([metric_fn(x[i], y[i]) for i in idx], dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return (math.nan, math.nan)
    lo, hi = np.percentile(vals, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return (float(lo), float(hi))


# -------------------------------------------------------------------------- report


@dataclass(frozen=True)
class MetricValue:
    """One metric: its value on all items and its bootstrap interval (nan when not run)."""

    value: float
    lo: float = math.nan
    hi: float = math.nan


@dataclass(frozen=True)
class MetricReport:
    """Every scalar metric for one (pred, target) pair, as :func:`report` makes it."""

    n: int
    srcc: MetricValue
    plcc: MetricValue
    plcc_logistic: MetricValue
    krcc: MetricValue
    mse: MetricValue
    mae: MetricValue
    acc: MetricValue
    logistic_params: tuple[float, float, float, float]
    logistic_fitted: bool
    bootstrap: int
    alpha: float
    seed: int
    scale: tuple[float, float] | None

    METRICS = ("srcc", "plcc", "plcc_logistic", "krcc", "mse", "mae", "acc")

    def metrics(self) -> dict[str, MetricValue]:
        return {k: getattr(self, k) for k in self.METRICS}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (nan becomes None, which JSON can carry)."""

        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {k: clean(w) for k, w in v.items()}
            if isinstance(v, list | tuple):
                return [clean(w) for w in v]
            return v

        d = asdict(self)
        return {k: clean(v) for k, v in d.items()}

    def format_table(self, title: str | None = None) -> str:
        """Fixed-width text table, one metric a row, with the interval."""
        pct = int(round(100 * (1 - self.alpha)))
        head = f"{'metric':<14}{'value':>10}   {pct}% CI"
        lines = [title] if title else []
        lines += [head, "-" * (len(head) + 12)]
        for k, m in self.metrics().items():
            ci = "" if math.isnan(m.lo) else f"[{m.lo:.4f}, {m.hi:.4f}]"
            lines.append(f"{k:<14}{m.value:>10.4f}   {ci}")
        lines.append(
            f"n={self.n}, bootstrap={self.bootstrap}, seed={self.seed}"
            + (f", acc scale={self.scale[0]:g}-{self.scale[1]:g}" if self.scale else "")
        )
        return "\n".join(lines)


def report(
    pred: ArrayLike,
    target: ArrayLike,
    *,
    bootstrap: int = 1000,
    seed: int = 0,
    scale: tuple[float, float] | None = None,
    alpha: float = 0.05,
) -> MetricReport:
    """All scalar metrics with percentile bootstrap intervals (``bootstrap=0``: none).

    The logistic PLCC's interval resamples the PLCC of the *mapped* predictions with
    the curve fitted once on all items (refitting per resample costs seconds and moves
    the interval little); ``scale`` is passed to :func:`acc`.
    """
    x, y = _pair(pred, target)
    fit = plcc_logistic(x, y)

    def acc_fn(a: Array, b: Array) -> float:
        return acc(a, b, scale=scale)

    pairs: dict[str, tuple[Callable[[Array, Array], float], Array, float]] = {
        "srcc": (srcc, x, srcc(x, y)),
        "plcc": (plcc, x, plcc(x, y)),
        "plcc_logistic": (plcc, fit.mapped, fit.plcc),
        "krcc": (krcc, x, krcc(x, y)),
        "mse": (mse, x, mse(x, y)),
        "mae": (mae, x, mae(x, y)),
        "acc": (acc_fn, x, acc(x, y, scale=scale)),
    }
    values: dict[str, MetricValue] = {}
    for name, (fn, xp, value) in pairs.items():
        if bootstrap > 0:
            lo, hi = bootstrap_ci(fn, xp, y, n=bootstrap, seed=seed, alpha=alpha)
            values[name] = MetricValue(value, lo, hi)
        else:
            values[name] = MetricValue(value)
    return MetricReport(
        n=int(x.size),
        **values,
        logistic_params=fit.params,
        logistic_fitted=fit.fitted,
        bootstrap=bootstrap,
        alpha=alpha,
        seed=seed,
        scale=scale,
    )
