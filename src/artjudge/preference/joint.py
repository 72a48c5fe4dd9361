"""Joint fusion: one latent per item explains both the judgments and the ratings.

    judgments:  P(i beats j) from BT (Davidson ties) or Thurstone (threshold ties) on s_i - s_j
    ratings:    rating_k = a + b * s_item(k) + beta_annotator(k) + e,  e ~ N(0, sigma^2)

fitted together by maximum a posteriori (weak prior ``alpha * sum(s**2)`` on s, a ridge on
the annotator biases beta). The ratings anchor the level and tie together items that the
comparisons alone connect only loosely (a locally dense design is a long chain: on its own
its global order drifts); the comparisons fix the order where the ratings are coarse; and
each annotator's rating bias is estimated and removed instead of being averaged in.
The fused score is ``a + b * s_i`` (on the rating scale), its SE ``|b| * se(s_i)`` from the
observed information in s (a, b, beta, sigma held at their estimates).

The rating noise sigma is estimable only where items were rated more than once: with one
rating per item (one annotator, say) a + b * s fits every rating exactly, sigma went to 0
and the intervals with it (``fuse`` with one annotator gave se 1.6e-07). With fewer than
``MIN_REPLICATED`` items rated twice or more, sigma is therefore held at least at the
spread of the ratings themselves (an uninformative bound: one rating tells no more than
where ratings lie in general), the intervals are wide, and ``notes_`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from artjudge.errors import InputError
from artjudge.preference.graph import Comparisons, components, encode, single_threaded
from artjudge.preference.models import Z95, BradleyTerry, Thurstone

#: Items rated at least twice needed to estimate the rating noise from the data.
MIN_REPLICATED = 3


def rating_noise_floor(ratings: pd.DataFrame) -> tuple[float, str | None]:
    """The least rating noise sigma to allow, and a note when it binds.

    0 (no floor) when at least ``MIN_REPLICATED`` items have two or more ratings; otherwise
    the standard deviation of the ratings (1 when they do not vary).
    """
    counts = ratings.groupby("item")["score"].size()
    replicated = int((counts >= 2).sum())
    if replicated >= MIN_REPLICATED:
        return 0.0, None
    spread = float(np.std(ratings["score"].to_numpy(float))) or 1.0
    n_ann = ratings["annotator"].nunique() if "annotator" in ratings else 1
    note = (
        f"{replicated} item(s) rated more than once ({n_ann} annotator(s)): the rating noise cannot "
        f"be estimated, so it is held at the ratings' own spread ({spread:.3g}) and the intervals are "
        "wide by design; more annotators rating the same items narrow them"
    )
    return spread, note


@dataclass
class JointParams:
    intercept: float
    slope: float
    sigma: float
    tie: float
    annotator_bias: dict[str, float]


class JointFusion:
    """Fit judgments and ratings of one dimension together; ``result_`` is a frame per item.

    unanchored: compared items whose whole component has no rating cannot be placed on the
    rating scale: refuse (default), or drop them (listed in ``dropped_``)."""

    def __init__(
        self,
        method: str = "bt",
        alpha: float = 0.01,
        bias_ridge: float = 1.0,
        annotator_bias: bool = True,
        scale: tuple[float, float] | None = None,
        max_iter: int = 3000,
        unanchored: Literal["refuse", "drop"] = "refuse",
    ) -> None:
        self.unanchored = unanchored
        if method not in ("bt", "thurstone"):
            raise InputError("--method", f"joint fusion supports bt and thurstone, not {method!r}")
        self.method = method
        self.alpha = alpha
        self.bias_ridge = bias_ridge
        self.annotator_bias = annotator_bias
        self.scale = scale
        self.max_iter = max_iter

    @single_threaded
    def fit(self, judgments: pd.DataFrame, ratings: pd.DataFrame) -> JointFusion:
        judgments = self._anchored(judgments, ratings)
        d = _JointData.build(judgments, ratings, self.method, self.annotator_bias)
        floor, note = rating_noise_floor(ratings)
        self.notes_: list[str] = [note] if note else []
        # Start from the rating means so the optimiser begins near the answer.
        means = pd.Series(d.r_val).groupby(d.r_item).mean()
        a0 = float(d.r_val.mean())
        b0 = float(np.std(means.to_numpy())) or 1.0
        s0 = np.zeros(d.n)
        s0[means.index.to_numpy()] = (means.to_numpy() - a0) / b0
        sig0 = float(np.std(d.r_val - means.loc[d.r_item].to_numpy())) or float(np.std(d.r_val)) or 1.0
        x0 = np.concatenate([s0, [a0, b0, np.log(max(sig0, floor)), 0.0], np.zeros(d.n_ann)])
        bounds: list[tuple[float | None, float | None]] | None = None
        if floor > 0:  # log sigma held at or above the uninformative bound
            bounds = [(None, None)] * len(x0)
            bounds[d.n + 2] = (float(np.log(floor)), None)
        res = minimize(
            lambda x: self._objective(d, x),
            x0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": self.max_iter, "gtol": 1e-7},
        )
        s, a, b, ls, theta, beta = d.unpack(res.x)
        se_s = self._latent_se(d, s, b, ls, theta)
        self.result_ = self._frame(d, ratings, s, a, b, se_s)
        self.params_ = JointParams(
            float(a),
            float(b),
            float(np.exp(ls)),
            float(np.exp(theta)) if d.has_ties else 0.0,
            {k: float(beta[i]) for i, k in enumerate(d.annotators)} if d.n_ann else {},
        )
        self.converged_ = bool(res.success)
        return self

    def _anchored(self, judgments: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
        """The judgments whose items can be placed on the rating scale (``unanchored`` policy)."""
        rated = set(ratings["item"])
        floating = [g for g in components(encode(judgments)) if not rated & set(g)]
        self.dropped_: list[str] = []
        if not floating:
            return judgments
        if self.unanchored == "refuse":
            shown = ", ".join(floating[0][:4])
            raise InputError(
                "ratings",
                f"{len(floating)} group(s) of compared items have no rating to anchor them (e.g. {shown})",
            )
        self.dropped_ = sorted(i for g in floating for i in g)
        return judgments[~judgments["item_a"].isin(set(self.dropped_))]

    def _objective(self, d: _JointData, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log posterior and its gradient (layout: s (n), a, b, log sigma, theta, beta)."""
        n, off = d.n, d.n
        s, a, b, ls, theta, beta = d.unpack(x)
        g = np.zeros_like(x)
        ll, dd, dt = d.terms(s[d.a_idx] - s[d.b_idx], theta)
        wd = d.w * dd
        g[:n] = -(np.bincount(d.a_idx, wd, n) - np.bincount(d.b_idx, wd, n)) + 2 * self.alpha * s
        f = -float(np.sum(d.w * ll)) + self.alpha * float(s @ s)
        if d.has_ties:
            f += 1e-3 * 0.5 * theta * theta
            g[off + 3] = -float(np.sum(d.w * dt)) + 1e-3 * theta
        mu = a + b * s[d.r_item] + (beta[d.r_ann] if d.n_ann else 0.0)
        e = d.r_val - mu
        inv = np.exp(-2 * ls)
        f += 0.5 * inv * float(e @ e) + len(d.r_val) * ls
        de = -e * inv  # d f / d mu
        g[:n] += np.bincount(d.r_item, de * b, n)
        g[off] = float(de.sum())
        g[off + 1] = float(de @ s[d.r_item])
        g[off + 2] = -inv * float(e @ e) + len(d.r_val)
        if d.n_ann:
            f += self.bias_ridge * float(beta @ beta)
            g[off + 4 :] = np.bincount(d.r_ann, de, d.n_ann) + 2 * self.bias_ridge * beta
        return f, g

    def _latent_se(self, d: _JointData, s: np.ndarray, b: float, ls: float, theta: float) -> np.ndarray:
        """SE of each latent from the observed information in s (a, b, beta, sigma held fixed)."""
        n, h = d.n, 1e-4
        diff = s[d.a_idx] - s[d.b_idx]
        curv = -d.w * (d.terms(diff + h, theta)[1] - d.terms(diff - h, theta)[1]) / (2 * h)
        a_idx, b_idx = d.a_idx, d.b_idx
        hess = np.zeros(n * n)
        hess += np.bincount(a_idx * n + a_idx, curv, n * n) + np.bincount(b_idx * n + b_idx, curv, n * n)
        hess -= np.bincount(a_idx * n + b_idx, curv, n * n) + np.bincount(b_idx * n + a_idx, curv, n * n)
        hess = hess.reshape(n, n) + 2 * self.alpha * np.eye(n)
        hess[np.diag_indices(n)] += np.bincount(d.r_item, minlength=n) * b * b * np.exp(-2 * ls)
        cov = np.linalg.inv(hess)
        return np.sqrt(np.maximum(np.diag(cov), 0.0))

    def _frame(
        self, d: _JointData, ratings: pd.DataFrame, s: np.ndarray, a: float, b: float, se_s: np.ndarray
    ) -> pd.DataFrame:
        """One row per item: latent, fused score on the rating scale, SE and 95% interval."""
        fused = a + b * s
        fused_se = abs(b) * se_s
        lo, hi = fused - Z95 * fused_se, fused + Z95 * fused_se
        if self.scale is not None:
            fused, lo, hi = (np.clip(v, *self.scale) for v in (fused, lo, hi))
        g = ratings.groupby("item")["score"]
        frame = pd.DataFrame(
            {
                "item": d.items,
                "latent": s - s.mean(),
                "latent_se": se_s,
                "n_comparisons": d.comp.counts(),
                "rating_mean": g.mean().reindex(d.items).to_numpy(),
                "n_ratings": g.size().reindex(d.items).fillna(0).to_numpy(int),
                "preference_mapped": a + b * s,
                "fused": fused,
                "fused_se": fused_se,
                "lower": lo,
                "upper": hi,
            }
        )
        frame["latent_lower"] = frame["latent"] - Z95 * se_s
        frame["latent_upper"] = frame["latent"] + Z95 * se_s
        frame["component"] = 1
        return frame


@dataclass
class _JointData:
    """The encoded judgments and ratings of one fit, and the parameter layout."""

    items: list[str]
    comp: Comparisons
    model: BradleyTerry | Thurstone
    has_ties: bool
    r_item: np.ndarray
    r_val: np.ndarray
    r_ann: np.ndarray
    annotators: list[str]
    n_ann: int

    @classmethod
    def build(
        cls, judgments: pd.DataFrame, ratings: pd.DataFrame, method: str, annotator_bias: bool
    ) -> _JointData:
        items = sorted(set(judgments["item_a"]) | set(judgments["item_b"]) | set(ratings["item"]))
        index = {k: i for i, k in enumerate(items)}
        comp = encode(judgments, items)
        y = comp.outcome
        annotators = sorted(ratings["annotator"].astype(str).unique())
        ann_index = {k: i for i, k in enumerate(annotators)}
        return cls(
            items,
            comp,
            BradleyTerry() if method == "bt" else Thurstone(),
            bool(np.any((y != 0.0) & (y != 1.0))),
            ratings["item"].map(index).to_numpy(np.int64),
            ratings["score"].to_numpy(float),
            ratings["annotator"].astype(str).map(ann_index).to_numpy(np.int64),
            annotators,
            len(annotators) if annotator_bias else 0,
        )

    @property
    def n(self) -> int:
        return len(self.items)

    @property
    def a_idx(self) -> np.ndarray:
        return self.comp.a

    @property
    def b_idx(self) -> np.ndarray:
        return self.comp.b

    @property
    def w(self) -> np.ndarray:
        return self.comp.weight

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, float, float, float, float, np.ndarray]:
        """s, a, b, log sigma, theta (-inf without ties), beta."""
        off = self.n
        theta = x[off + 3] if self.has_ties else -np.inf
        return x[:off], x[off], x[off + 1], x[off + 2], theta, x[off + 4 : off + 4 + self.n_ann]

    def terms(self, d: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Log-likelihood terms of the judgments and their derivatives in d (and theta)."""
        y = self.comp.outcome
        if np.isfinite(theta):
            return self.model._terms(d, y, theta)
        from artjudge.preference.models import _threshold_terms

        return _threshold_terms(d, y, 0.0, self.model.link)
