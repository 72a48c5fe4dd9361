"""Closed-form heads: ridge and RBF kernel ridge, with the penalty chosen by exact leave-one-out.

* ``ridge``: closed-form ridge regression on the standardised frozen features (alpha by
  efficient leave-one-out in the dual, n << d); the most stable at very small n.
* ``kernel``: RBF kernel ridge on the same features (width and alpha by exact
  leave-one-out on the eigendecomposition of the Gram matrix); bends where ridge cannot.

Both cost one eigendecomposition per fit, shared by every target labelled on the same rows:
seconds for a few hundred works, which is why the small-data path can cross-validate them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "KERNEL_ALPHAS",
    "KERNEL_WIDTHS",
    "RIDGE_ALPHA_FACTORS",
    "ClosedFit",
    "fit_by_mask",
    "fit_closed",
    "fit_closed_many",
    "fit_kernel",
    "fit_ridge",
    "sqdist",
]

KERNEL_WIDTHS: tuple[float, ...] = (0.25, 1.0, 4.0)  # gamma = width / median squared distance
KERNEL_ALPHAS = np.logspace(-3, 1.5, 10)
RIDGE_ALPHA_FACTORS = np.logspace(-2, 2.5, 10)  # times the feature count (standardised inputs)


@dataclass
class ClosedFit:
    """One closed-form head: mean(x) = x.w + b + sum_i dual_i exp(-gamma |x - anchor_i|^2)."""

    family: str
    bias: float
    linear: np.ndarray | None = None
    dual: np.ndarray | None = None
    gamma: float = 0.0
    anchors: np.ndarray | None = None
    alpha: float = 0.0

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = np.full(len(x), self.bias, dtype=np.float64)
        if self.linear is not None:
            out += x @ self.linear
        if self.dual is not None and self.anchors is not None:
            out += np.exp(-self.gamma * sqdist(x, self.anchors)) @ self.dual
        return out


def sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    d = (a64 * a64).sum(1)[:, None] + (b64 * b64).sum(1)[None, :] - 2.0 * a64 @ b64.T
    return np.maximum(d, 0.0)


def _loo_pick(
    s: np.ndarray, u: np.ndarray, yc: np.ndarray, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out MSE per (alpha, column) for the hat matrices U diag(s/(s+a)) U'.

    With K = U diag(s) U', the leave-one-out residual of row i is (y - Hy)_i / (1 - H_ii), so
    every alpha costs one matrix product after one eigendecomposition.
    """
    uty = u.T @ yc
    u2 = u * u
    errs = np.empty((len(alphas), yc.shape[1]))
    for a, alpha in enumerate(alphas):
        shrink = s / (s + alpha)
        fitted = u @ (shrink[:, None] * uty)
        hdiag = u2 @ shrink
        loo = (yc - fitted) / np.maximum(1.0 - hdiag, 1e-9)[:, None]
        errs[a] = np.mean(loo**2, axis=0)
    return errs, uty


def fit_ridge(x: np.ndarray, y: np.ndarray) -> list[ClosedFit]:
    """Ridge per column of ``y`` (n, T); alpha by exact leave-one-out in the dual (n << d)."""
    y2 = y.reshape(len(y), -1)
    xm = x.mean(0)
    xc = x - xm
    s, u = np.linalg.eigh(xc @ xc.T)
    s = np.clip(s, 0.0, None)
    mu = y2.mean(0)
    alphas = RIDGE_ALPHA_FACTORS * x.shape[1]
    errs, uty = _loo_pick(s, u, y2 - mu, alphas)
    fits = []
    for j in range(y2.shape[1]):
        alpha = float(alphas[int(np.argmin(errs[:, j]))])
        dual = u @ (uty[:, j] / (s + alpha))
        w = xc.T @ dual
        fits.append(ClosedFit("ridge", float(mu[j] - xm @ w), linear=w, alpha=alpha))
    return fits


def fit_kernel(x: np.ndarray, y: np.ndarray) -> list[ClosedFit]:
    """RBF kernel ridge per column of ``y``; width and alpha by exact leave-one-out."""
    y2 = y.reshape(len(y), -1)
    d2 = sqdist(x, x)
    med = float(np.median(d2[np.triu_indices(len(x), 1)])) if len(x) > 1 else 1.0
    mu = y2.mean(0)
    yc = y2 - mu
    best_err = np.full(y2.shape[1], np.inf)
    best: list[tuple[float, float, np.ndarray] | None] = [None] * y2.shape[1]
    for width in KERNEL_WIDTHS:
        gamma = width / max(med, 1e-12)
        s, u = np.linalg.eigh(np.exp(-gamma * d2))
        s = np.clip(s, 0.0, None)
        errs, uty = _loo_pick(s, u, yc, KERNEL_ALPHAS)
        for j in range(y2.shape[1]):
            a = int(np.argmin(errs[:, j]))
            if errs[a, j] < best_err[j]:
                best_err[j] = errs[a, j]
                alpha = float(KERNEL_ALPHAS[a])
                best[j] = (gamma, alpha, u @ (uty[:, j] / (s + alpha)))
    fits = []
    for j, b in enumerate(best):
        assert b is not None
        fits.append(ClosedFit("kernel", float(mu[j]), dual=b[2], gamma=b[0], anchors=x, alpha=b[1]))
    return fits


def fit_closed(family: str, x: np.ndarray, y: np.ndarray) -> ClosedFit:
    """One closed-form head for one target (all rows labelled)."""
    return fit_closed_many(family, x, y[:, None])[0]


def fit_closed_many(family: str, x: np.ndarray, y: np.ndarray) -> list[ClosedFit]:
    """Closed-form heads for the columns of ``y`` (n, T): one decomposition shared by all."""
    if family == "ridge":
        return fit_ridge(x, y)
    if family == "kernel":
        return fit_kernel(x, y)
    raise ValueError(f"head family {family!r} is not closed-form (ridge, kernel)")


def fit_by_mask(
    family: str, x: np.ndarray, scores: dict[str, np.ndarray], rows: np.ndarray
) -> dict[str, tuple[np.ndarray, ClosedFit]]:
    """Fits per target on its labelled ``rows``; targets labelled on the same rows share the work."""
    by_mask: dict[bytes, list[str]] = {}
    for t, y in scores.items():
        lab = rows[np.isfinite(y[rows])]
        if len(lab) >= 3:
            by_mask.setdefault(lab.tobytes(), []).append(t)
    out: dict[str, tuple[np.ndarray, ClosedFit]] = {}
    for key, ts in by_mask.items():
        lab = np.frombuffer(key, dtype=rows.dtype)
        fits = fit_closed_many(family, x[lab], np.stack([scores[t][lab] for t in ts], axis=1))
        for t, fit in zip(ts, fits, strict=True):
            out[t] = (lab, fit)
    return out
