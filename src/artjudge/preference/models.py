"""Preference models: latent scores from pairwise judgments, each with its uncertainty.

Shape follows scikit-learn: parameters in the constructor, ``fit(judgments)`` returns
``self`` and leaves the result in ``result_`` (a :class:`PreferenceScores`).

* :class:`BradleyTerry`: maximum likelihood with ties (Davidson, or Rao-Kupper) and a weak
  Gaussian prior ``alpha * sum(s**2)`` (the same penalty as ``choix.opt_pairwise``) so an
  item that never lost stays finite; standard errors from the inverse Hessian.
* :class:`Thurstone`: Case V, probit link, ties by a threshold (Glenn-David); same machinery.
* :class:`Elo`: order-free Elo: the mean over shuffled orders, with a per-item K schedule;
  bootstrap intervals (each bootstrap replicate is also shuffled).
* :class:`TrueSkill`: only when the pure-Python ``trueskill`` package is installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import log_expit, log_ndtr

from artjudge.errors import InputError, ModelNotAvailable
from artjudge.preference.graph import Comparisons, encode, require_connected, single_threaded

Z95 = 1.959963984540054
_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


@dataclass
class PreferenceScores:
    """Latent scores for one set of items; ``score`` is centred (BT, Thurstone) or around 1500 (Elo)."""

    method: str
    items: list[str]
    score: np.ndarray
    se: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_comparisons: np.ndarray
    params: dict[str, float] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "item": self.items,
                "score": self.score,
                "se": self.se,
                "lower": self.lower,
                "upper": self.upper,
                "n_comparisons": self.n_comparisons,
            }
        )

    def as_series(self) -> pd.Series:
        return pd.Series(self.score, index=self.items, name=self.method)


def _as_comparisons(
    judgments: pd.DataFrame | Comparisons, items: Sequence[str] | None, use_confidence: bool
) -> Comparisons:
    if isinstance(judgments, Comparisons):
        return judgments
    if "dimension" in judgments.columns and judgments["dimension"].nunique() > 1:
        dims = ", ".join(sorted(map(str, judgments["dimension"].unique()))[:5])
        raise InputError("judgments", f"several dimensions ({dims}); fit one dimension at a time")
    return encode(judgments, items, use_confidence)


def _centred_variance(cov: np.ndarray) -> np.ndarray:
    """Variance of s_i - mean(s): the prior pins the level only weakly, so remove it."""
    row = cov.mean(axis=1)
    return np.maximum(np.diag(cov) - 2 * row + cov.mean(), 0.0)


# --------------------------------------------------------------------------- paired MLE


def _log_cdf(x: np.ndarray, link: str) -> np.ndarray:
    return log_expit(x) if link == "logit" else log_ndtr(x)


def _log_pdf(x: np.ndarray, link: str) -> np.ndarray:
    if link == "logit":
        return log_expit(x) + log_expit(-x)
    return -0.5 * x * x - _LOG_SQRT_2PI


def _threshold_terms(
    d: np.ndarray, y: np.ndarray, eta: float, link: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-likelihood per comparison and its derivatives in d and eta (threshold ties)."""
    win, loss, tie = y == 1.0, y == 0.0, (y != 1.0) & (y != 0.0)
    ll = np.zeros_like(d)
    dd = np.zeros_like(d)
    de = np.zeros_like(d)
    if win.any():
        x = d[win] - eta
        lc = _log_cdf(x, link)
        ll[win] = lc
        r = np.exp(_log_pdf(x, link) - lc)
        dd[win] = r
        de[win] = -r
    if loss.any():
        x = -d[loss] - eta
        lc = _log_cdf(x, link)
        ll[loss] = lc
        r = np.exp(_log_pdf(x, link) - lc)
        dd[loss] = -r
        de[loss] = -r
    if tie.any():
        a = np.abs(d[tie])  # p_tie is symmetric in d; use the lower tail for accuracy
        hi, lo = _log_cdf(-a + eta, link), _log_cdf(-a - eta, link)
        lpt = hi + np.log1p(-np.exp(np.minimum(lo - hi, -1e-300)))
        ll[tie] = lpt
        dt = d[tie]
        fp, fm = np.exp(_log_pdf(dt + eta, link) - lpt), np.exp(_log_pdf(dt - eta, link) - lpt)
        dd[tie] = fp - fm
        de[tie] = fp + fm
    return ll, dd, de


def _davidson_terms(d: np.ndarray, y: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Davidson (1970): P(tie) proportional to nu*sqrt(pi_i pi_j); theta = log nu.

    Written with buffers filled in place: one array per judgment costs 4 MiB at half a
    million judgments, and the plain expressions held eight of them at once (issue 18).
    Every value is the same IEEE operation as ``log_z = logaddexp(logaddexp(d/2, -d/2),
    theta)``, ``ll = where(win, d/2, where(loss, -d/2, theta)) - log_z``, ``dd = where(win,
    0.5, where(loss, -0.5, 0)) - 0.5 * (exp(d/2 - log_z) - exp(-d/2 - log_z))`` and
    ``dtheta = tie - exp(theta - log_z)``, so the fit is bit-for-bit unchanged.
    """
    win, loss = y == 1.0, y == 0.0
    half = d / 2
    neg_half = -half  # -(d/2) == (-d)/2 exactly
    log_z = np.logaddexp(half, neg_half)
    np.logaddexp(log_z, theta, out=log_z)
    ll = np.full(d.shape, theta)
    np.copyto(ll, neg_half, where=loss)
    np.copyto(ll, half, where=win)
    ll -= log_z
    np.subtract(half, log_z, out=half)
    np.exp(half, out=half)
    np.subtract(neg_half, log_z, out=neg_half)
    np.exp(neg_half, out=neg_half)
    half -= neg_half
    del neg_half
    half *= 0.5  # sinh(d/2) / z
    dd = np.zeros(d.shape)
    np.copyto(dd, 0.5, where=win)
    np.copyto(dd, -0.5, where=loss)
    dd -= half
    del half
    dtheta = np.subtract(theta, log_z, out=log_z)
    np.exp(dtheta, out=dtheta)
    np.subtract(~(win | loss), dtheta, out=dtheta)  # tie: y neither 1 nor 0
    return ll, dd, dtheta


class _PairedMLE:
    """Shared maximum-a-posteriori fit for BT and Thurstone (one latent score per item)."""

    method = "paired"
    link: Literal["logit", "probit"] = "logit"

    def __init__(self, alpha: float, ties: str, use_confidence: bool, max_iter: int) -> None:
        self.alpha = alpha
        self.ties = ties
        self.use_confidence = use_confidence
        self.max_iter = max_iter

    def _terms(self, d: np.ndarray, y: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.ties == "davidson":
            return _davidson_terms(d, y, theta)
        eta = float(np.exp(theta))
        ll, dd, de = _threshold_terms(d, y, eta, self.link)
        return ll, dd, de * eta

    @single_threaded
    def fit(self, judgments: pd.DataFrame | Comparisons, items: Sequence[str] | None = None) -> _PairedMLE:
        comp = _as_comparisons(judgments, items, self.use_confidence)
        require_connected(comp)
        n = comp.n_items
        a, b, y, w = comp.a, comp.b, comp.outcome, comp.weight
        has_ties = bool(np.any((y != 0.0) & (y != 1.0)))
        if has_ties and self.ties == "none":
            raise InputError("judgments", f"{self.method} with ties='none' cannot use tie judgments")
        free_theta = has_ties
        theta0 = 0.0 if free_theta else (-np.inf if self.ties == "davidson" else -np.inf)

        def unpack(x: np.ndarray) -> tuple[np.ndarray, float]:
            return x[:n], (float(x[n]) if free_theta else theta0)

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            s, theta = unpack(x)
            d = s[a] - s[b]
            if np.isfinite(theta):
                ll, dd, dt = self._terms(d, y, theta)
            else:  # no ties anywhere: the plain model
                ll, dd, dt = _threshold_terms(d, y, 0.0, self.link)
            wd = w * dd
            grad_s = -(np.bincount(a, wd, n) - np.bincount(b, wd, n)) + 2 * self.alpha * s
            f = -float(np.sum(w * ll)) + self.alpha * float(s @ s)
            if free_theta:
                f += 1e-3 * 0.5 * theta * theta  # keeps the tie parameter finite in odd data
                g_theta = -float(np.sum(w * dt)) + 1e-3 * theta
                return f, np.append(grad_s, g_theta)
            return f, grad_s

        x0 = np.zeros(n + (1 if free_theta else 0))
        res = minimize(
            objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter, "gtol": 1e-7}
        )
        s, theta = unpack(res.x)
        # Observed information in s (tie parameter held at its estimate).
        h = 1e-4
        d = s[a] - s[b]

        def dll(dv: np.ndarray) -> np.ndarray:
            if np.isfinite(theta):
                return self._terms(dv, y, theta)[1]
            return _threshold_terms(dv, y, 0.0, self.link)[1]

        curv = -w * (dll(d + h) - dll(d - h)) / (2 * h)
        hess = np.zeros(n * n)
        hess += np.bincount(a * n + a, curv, n * n) + np.bincount(b * n + b, curv, n * n)
        hess -= np.bincount(a * n + b, curv, n * n) + np.bincount(b * n + a, curv, n * n)
        hess = hess.reshape(n, n) + 2 * self.alpha * np.eye(n)
        cov = np.linalg.inv(hess)  # positive definite: the prior adds 2*alpha to the diagonal
        se = np.sqrt(_centred_variance(cov))
        centred = s - s.mean()
        params: dict[str, float] = {
            "alpha": self.alpha,
            "converged": float(res.success),
            "iterations": float(res.nit),
        }
        if free_theta:
            params["tie_nu" if self.ties == "davidson" else "tie_threshold"] = float(np.exp(theta))
        self.cov_ = cov
        self.theta_ = theta
        self.comparisons_ = comp
        self.result_ = PreferenceScores(
            self.method,
            comp.items,
            centred,
            se,
            centred - Z95 * se,
            centred + Z95 * se,
            comp.counts(),
            params,
        )
        return self

    def predict_proba(self, item_a: str, item_b: str) -> float:
        """P(a judged better than b), ties split evenly."""
        res = self.result_
        idx = {k: i for i, k in enumerate(res.items)}
        d = np.array([res.score[idx[item_a]] - res.score[idx[item_b]]])
        if not np.isfinite(self.theta_):
            return float(np.exp(_log_cdf(d, self.link))[0])
        ll_w = self._terms(d, np.array([1.0]), self.theta_)[0]
        ll_t = self._terms(d, np.array([0.5]), self.theta_)[0]
        return float(np.exp(ll_w)[0] + 0.5 * np.exp(ll_t)[0])


class BradleyTerry(_PairedMLE):
    """Bradley-Terry: P(a beats b) = sigmoid(s_a - s_b); scores in natural log-odds units.

    ties: "davidson" (default), "rao-kupper" (a threshold on the logistic scale) or "none".
    alpha: prior strength (penalty ``alpha * sum(s**2)``, as choix); 0.01 is a prior with sd 7
    log-odds units: weak enough to leave well-measured items alone.
    """

    method = "bt"
    link = "logit"

    def __init__(
        self,
        ties: Literal["davidson", "rao-kupper", "none"] = "davidson",
        alpha: float = 0.01,
        use_confidence: bool = False,
        max_iter: int = 2000,
    ) -> None:
        if ties not in ("davidson", "rao-kupper", "none"):
            raise ValueError(f"ties must be davidson, rao-kupper or none, not {ties!r}")
        super().__init__(alpha, ties, use_confidence, max_iter)


class Thurstone(_PairedMLE):
    """Thurstone Case V: P(a beats b) = Phi(s_a - s_b); ties by a probit threshold."""

    method = "thurstone"
    link = "probit"

    def __init__(
        self,
        ties: Literal["threshold", "none"] = "threshold",
        alpha: float = 0.01,
        use_confidence: bool = False,
        max_iter: int = 2000,
    ) -> None:
        if ties not in ("threshold", "none"):
            raise ValueError(f"ties must be threshold or none, not {ties!r}")
        super().__init__(alpha, ties, use_confidence, max_iter)


# --------------------------------------------------------------------------- Elo


class Elo:
    """Elo made order-free: the mean rating over ``n_shuffles`` random orders.

    K schedule (per item, by games that item has played so far):
    ``K(g) = k_min + (k0 - k_min) / (1 + g / k_halflife)``: new items move fast, settled
    items slowly. Intervals: percentiles over ``n_bootstrap`` resamples of the judgments
    (each replicate in its own shuffled order), so they include order and sampling noise.
    """

    method = "elo"

    def __init__(
        self,
        k0: float = 40.0,
        k_min: float = 4.0,
        k_halflife: float = 10.0,
        n_shuffles: int = 20,
        n_bootstrap: int = 50,
        base: float = 1500.0,
        use_confidence: bool = False,
        seed: int = 0,
    ) -> None:
        self.k0 = k0
        self.k_min = k_min
        self.k_halflife = k_halflife
        self.n_shuffles = n_shuffles
        self.n_bootstrap = n_bootstrap
        self.base = base
        self.use_confidence = use_confidence
        self.seed = seed

    def _run(self, comp: Comparisons, by_step: np.ndarray) -> np.ndarray:
        """Play each column of ``by_step`` (steps x seasons, indices into the judgments) as one
        Elo season; vectorised over seasons.

        Each step gathers its judgments itself: gathering all of them up front held four
        more seasons x judgments arrays of 8 bytes (1.2 GiB at half a million judgments).
        """
        steps, reps = by_step.shape
        n = comp.n_items
        rating = np.full((reps, n), self.base)
        games = np.zeros((reps, n))
        rows = np.arange(reps)
        span = self.k0 - self.k_min
        for t in range(steps):
            o = by_step[t]
            ia, ib = comp.a[o], comp.b[o]
            ra, rb = rating[rows, ia], rating[rows, ib]
            expected = 1.0 / (1.0 + 10.0 ** ((rb - ra) / 400.0))
            delta = (comp.outcome[o] - expected) * comp.weight[o]
            ka = self.k_min + span / (1.0 + games[rows, ia] / self.k_halflife)
            kb = self.k_min + span / (1.0 + games[rows, ib] / self.k_halflife)
            rating[rows, ia] = ra + ka * delta
            rating[rows, ib] = rb - kb * delta
            games[rows, ia] += 1
            games[rows, ib] += 1
        return rating - rating.mean(axis=1, keepdims=True) + self.base

    @single_threaded
    def fit(self, judgments: pd.DataFrame | Comparisons, items: Sequence[str] | None = None) -> Elo:
        comp = _as_comparisons(judgments, items, self.use_confidence)
        require_connected(comp)
        m = len(comp.a)
        rng = np.random.default_rng(self.seed)
        n_shuffles = max(1, self.n_shuffles)
        # One column per season (shuffles, then bootstrap replicates), drawn in the same order
        # from the same generator as ever; int32 when it fits, steps x seasons for the loop.
        by_step = np.empty((m, n_shuffles + self.n_bootstrap), np.int32 if m < 2**31 else np.int64)
        for k in range(n_shuffles):
            by_step[:, k] = rng.permutation(m)
        for k in range(self.n_bootstrap):
            by_step[:, n_shuffles + k] = rng.permutation(rng.integers(0, m, m))
        ratings = self._run(comp, by_step)
        del by_step
        score = ratings[:n_shuffles].mean(axis=0)
        if self.n_bootstrap > 1:
            boot = ratings[n_shuffles:]
            se = boot.std(axis=0, ddof=1)
            lower, upper = np.percentile(boot, [2.5, 97.5], axis=0)
        else:
            se = ratings.std(axis=0, ddof=1) if len(ratings) > 1 else np.zeros(comp.n_items)
            lower, upper = score - Z95 * se, score + Z95 * se
        params = {
            "k0": self.k0,
            "k_min": self.k_min,
            "k_halflife": self.k_halflife,
            "n_shuffles": float(self.n_shuffles),
        }
        self.comparisons_ = comp
        self.result_ = PreferenceScores(
            self.method, comp.items, score, se, lower, upper, comp.counts(), params
        )
        return self

    def predict_proba(self, item_a: str, item_b: str) -> float:
        res = self.result_
        idx = {k: i for i, k in enumerate(res.items)}
        return float(1.0 / (1.0 + 10.0 ** ((res.score[idx[item_b]] - res.score[idx[item_a]]) / 400.0)))


# --------------------------------------------------------------------------- TrueSkill


class TrueSkill:
    """TrueSkill via the pure-Python ``trueskill`` package (optional), averaged over shuffles."""

    method = "trueskill"

    def __init__(self, n_shuffles: int = 10, draw_probability: float | None = None, seed: int = 0) -> None:
        self.n_shuffles = n_shuffles
        self.draw_probability = draw_probability
        self.seed = seed

    def fit(self, judgments: pd.DataFrame | Comparisons, items: Sequence[str] | None = None) -> TrueSkill:
        try:
            import trueskill
        except ImportError as err:
            raise ModelNotAvailable(
                "TrueSkill needs the pure-Python 'trueskill' package (pip install trueskill); "
                "use --method bt|thurstone|elo instead"
            ) from err
        comp = _as_comparisons(judgments, items, False)
        require_connected(comp)
        ties = float(np.mean(comp.outcome == 0.5))
        env = trueskill.TrueSkill(
            draw_probability=self.draw_probability if self.draw_probability is not None else ties
        )
        rng = np.random.default_rng(self.seed)
        mus, sigmas = [], []
        for _ in range(max(1, self.n_shuffles)):
            ratings = [env.create_rating() for _ in comp.items]
            for k in rng.permutation(len(comp.a)):
                i, j, y = comp.a[k], comp.b[k], comp.outcome[k]
                if y == 0.0:
                    i, j = j, i
                ratings[i], ratings[j] = env.rate_1vs1(ratings[i], ratings[j], drawn=bool(y == 0.5))
            mus.append([r.mu for r in ratings])
            sigmas.append([r.sigma for r in ratings])
        score = np.mean(mus, axis=0)
        se = np.mean(sigmas, axis=0)
        self.comparisons_ = comp
        self.result_ = PreferenceScores(
            self.method,
            comp.items,
            score,
            se,
            score - Z95 * se,
            score + Z95 * se,
            comp.counts(),
            {"draw_probability": ties},
        )
        return self


class PreferenceModel(Protocol):
    """What every method here is: fit on judgments, result in ``result_`` (scikit-learn shape)."""

    method: str
    result_: PreferenceScores

    def fit(
        self, judgments: pd.DataFrame | Comparisons, items: Sequence[str] | None = None
    ) -> PreferenceModel: ...


MODELS: dict[str, type[PreferenceModel]] = {
    "bt": BradleyTerry,
    "thurstone": Thurstone,
    "elo": Elo,
    "trueskill": TrueSkill,
}


def make_model(method: str, **kwargs: Any) -> PreferenceModel:
    """The preference model named ``method`` (bt, thurstone, elo, trueskill), unfitted."""
    if method not in MODELS:
        raise InputError("--method", f"unknown method {method!r}; choose from {', '.join(MODELS)}")
    return MODELS[method](**kwargs)
