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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from artjudge.errors import InputError
from artjudge.preference.graph import components, encode, single_threaded
from artjudge.preference.models import Z95, BradleyTerry, Thurstone


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
        rated = set(ratings["item"])
        judged_groups = components(encode(judgments))
        floating = [g for g in judged_groups if not rated & set(g)]
        self.dropped_: list[str] = []
        if floating:
            shown = ", ".join(floating[0][:4])
            if self.unanchored == "refuse":
                raise InputError(
                    "ratings",
                    f"{len(floating)} group(s) of compared items have no rating to anchor them (e.g. {shown})",
                )
            self.dropped_ = sorted(i for g in floating for i in g)
            judgments = judgments[~judgments["item_a"].isin(set(self.dropped_))]
        items = sorted(set(judgments["item_a"]) | set(judgments["item_b"]) | rated)
        index = {k: i for i, k in enumerate(items)}
        comp = encode(judgments, items)
        model = BradleyTerry() if self.method == "bt" else Thurstone()
        n = len(items)
        a_idx, b_idx, y, w = comp.a, comp.b, comp.outcome, comp.weight
        has_ties = bool(np.any((y != 0.0) & (y != 1.0)))
        r_item = ratings["item"].map(index).to_numpy(np.int64)
        r_val = ratings["score"].to_numpy(float)
        annotators = sorted(ratings["annotator"].astype(str).unique())
        ann_index = {k: i for i, k in enumerate(annotators)}
        r_ann = ratings["annotator"].astype(str).map(ann_index).to_numpy(np.int64)
        n_ann = len(annotators) if self.annotator_bias else 0
        m = len(r_val)
        # Start from the rating means so the optimiser begins near the answer.
        means = pd.Series(r_val).groupby(r_item).mean()
        a0 = float(r_val.mean())
        b0 = float(np.std(means.to_numpy())) or 1.0
        s0 = np.zeros(n)
        s0[means.index.to_numpy()] = (means.to_numpy() - a0) / b0
        sig0 = float(np.std(r_val - means.loc[r_item].to_numpy())) or float(np.std(r_val)) or 1.0
        off = n  # layout: s (n), a, b, log sigma, theta, beta (n_ann)

        def unpack(x: np.ndarray) -> tuple[np.ndarray, float, float, float, float, np.ndarray]:
            return (
                x[:n],
                x[off],
                x[off + 1],
                x[off + 2],
                (x[off + 3] if has_ties else -np.inf),
                x[off + 4 : off + 4 + n_ann],
            )

        def terms(d: np.ndarray, theta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            if np.isfinite(theta):
                return model._terms(d, y, theta)
            from artjudge.preference.models import _threshold_terms

            return _threshold_terms(d, y, 0.0, model.link)

        def objective(x: np.ndarray) -> tuple[float, np.ndarray]:
            s, a, b, ls, theta, beta = unpack(x)
            g = np.zeros_like(x)
            d = s[a_idx] - s[b_idx]
            ll, dd, dt = terms(d, theta)
            wd = w * dd
            g[:n] = -(np.bincount(a_idx, wd, n) - np.bincount(b_idx, wd, n)) + 2 * self.alpha * s
            f = -float(np.sum(w * ll)) + self.alpha * float(s @ s)
            if has_ties:
                f += 1e-3 * 0.5 * theta * theta
                g[off + 3] = -float(np.sum(w * dt)) + 1e-3 * theta
            mu = a + b * s[r_item] + (beta[r_ann] if n_ann else 0.0)
            e = r_val - mu
            inv = np.exp(-2 * ls)
            f += 0.5 * inv * float(e @ e) + m * ls
            de = -e * inv  # d f / d mu
            g[:n] += np.bincount(r_item, de * b, n)
            g[off] = float(de.sum())
            g[off + 1] = float(de @ s[r_item])
            g[off + 2] = -inv * float(e @ e) + m
            if n_ann:
                f += self.bias_ridge * float(beta @ beta)
                g[off + 4 :] = np.bincount(r_ann, de, n_ann) + 2 * self.bias_ridge * beta
            return f, g

        x0 = np.concatenate([s0, [a0, b0, np.log(sig0), 0.0], np.zeros(n_ann)])
        res = minimize(
            objective, x0, jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter, "gtol": 1e-7}
        )
        s, a, b, ls, theta, beta = unpack(res.x)
        # Observed information in s, the other parameters held at their estimates.
        h = 1e-4
        d = s[a_idx] - s[b_idx]
        curv = -w * (terms(d + h, theta)[1] - terms(d - h, theta)[1]) / (2 * h)
        hess = np.zeros(n * n)
        hess += np.bincount(a_idx * n + a_idx, curv, n * n) + np.bincount(b_idx * n + b_idx, curv, n * n)
        hess -= np.bincount(a_idx * n + b_idx, curv, n * n) + np.bincount(b_idx * n + a_idx, curv, n * n)
        hess = hess.reshape(n, n) + 2 * self.alpha * np.eye(n)
        hess[np.diag_indices(n)] += np.bincount(r_item, minlength=n) * b * b * np.exp(-2 * ls)
        cov = np.linalg.inv(hess)
        se_s = np.sqrt(np.maximum(np.diag(cov), 0.0))
        fused = a + b * s
        fused_se = abs(b) * se_s
        lo, hi = fused - Z95 * fused_se, fused + Z95 * fused_se
        if self.scale is not None:
            fused, lo, hi = (np.clip(v, *self.scale) for v in (fused, lo, hi))
        g = ratings.groupby("item")["score"]
        frame = pd.DataFrame(
            {
                "item": items,
                "latent": s - s.mean(),
                "latent_se": se_s,
                "n_comparisons": comp.counts(),
                "rating_mean": g.mean().reindex(items).to_numpy(),
                "n_ratings": g.size().reindex(items).fillna(0).to_numpy(int),
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
        self.params_ = JointParams(
            float(a),
            float(b),
            float(np.exp(ls)),
            float(np.exp(theta)) if has_ties else 0.0,
            {k: float(beta[i]) for i, k in enumerate(annotators)} if n_ann else {},
        )
        self.converged_ = bool(res.success)
        self.result_ = frame
        return self
