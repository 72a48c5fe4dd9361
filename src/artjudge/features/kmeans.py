"""k-means (k-means++ seeding, Lloyd iterations) in NumPy, for the evidence's colour palette.

The palette is measured on at most 2,048 pixels with k <= 5, so the algorithm is tiny; it
used to come from scikit-learn, which (with SciPy) would put 160 MB into the base install
for this one call. This follows scikit-learn's ``KMeans(n_init=1, random_state=seed)``
step by step (mean-centred data, greedy k-means++ with ``2 + log k`` local trials drawn
from ``RandomState(seed)``, Lloyd until the labels stop changing or the centre shift is
below ``1e-4`` times the mean variance, a last assignment when it stopped on the shift), so
the shipped palettes do not change; ``tests/test_filters.py`` compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KMeansResult:
    """Cluster centres (k, d), each point's label (n,) and the Lloyd iterations run."""

    centers: np.ndarray
    labels: np.ndarray
    n_iter: int


def _sq_dist(a: np.ndarray, b: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Squared distances (len(a), len(b)) as ``-2 a.b + |a|^2 + |b|^2``, clipped at 0."""
    d = -2.0 * (a @ b.T)
    d += np.einsum("ij,ij->i", a, a)[:, None]
    d += b_sq[None, :]
    return np.maximum(d, 0.0, out=d)


def _plusplus(x: np.ndarray, k: int, x_sq: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    n = len(x)
    trials = 2 + int(np.log(k))
    centers = np.empty((k, x.shape[1]), dtype=x.dtype)
    weights = np.ones(n)
    first = rng.choice(n, p=weights / weights.sum())
    centers[0] = x[first]
    closest = _sq_dist(centers[0:1], x, x_sq)[0]
    pot = closest @ weights
    for c in range(1, k):
        draws = rng.uniform(size=trials) * pot
        ids = np.searchsorted(np.cumsum(weights * closest), draws)
        np.clip(ids, None, n - 1, out=ids)
        cand = np.minimum(closest, _sq_dist(x[ids], x, x_sq))
        pots = cand @ weights
        best = int(np.argmin(pots))
        pot, closest = pots[best], cand[best]
        centers[c] = x[ids[best]]
    return centers


def _assign(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    c_sq = np.einsum("ij,ij->i", centers, centers)
    return np.argmin(c_sq[None, :] - 2.0 * (x @ centers.T), axis=1)


def _update(x: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    k = len(centers)
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    # per column, bincount adds the points in index order as np.add.at does (same sums, to the
    # bit) at a fraction of its cost: the palette runs about a dozen of these per image
    sums = np.stack([np.bincount(labels, weights=x[:, j], minlength=k) for j in range(x.shape[1])], axis=1)
    new = centers.copy()
    filled = counts > 0
    new[filled] = sums[filled] / counts[filled, None]
    if not filled.all():  # an empty cluster takes the points farthest from their centre
        far = np.argsort(-((x - centers[labels]) ** 2).sum(axis=1))
        for j, idx in zip(np.flatnonzero(~filled), far, strict=False):
            new[j] = x[idx]
    return new


def kmeans(points: np.ndarray, k: int, seed: int = 0, max_iter: int = 300, tol: float = 1e-4) -> KMeansResult:
    """Cluster ``points`` (n, d) into ``k`` groups, deterministically for a given ``seed``."""
    x = np.array(points, dtype=np.float64)
    if x.ndim != 2 or len(x) < k or k < 1:
        raise ValueError(f"kmeans: {x.shape} points cannot form {k} clusters")
    mean = x.mean(axis=0)
    x -= mean  # as scikit-learn: centred data keeps the distance expansion accurate
    threshold = float(np.mean(np.var(x, axis=0))) * tol
    x_sq = np.einsum("ij,ij->i", x, x)
    centers = _plusplus(x, k, x_sq, np.random.RandomState(seed))
    labels_old = np.full(len(x), -1)
    strict = False
    it = 0
    for it in range(max_iter):  # noqa: B007 (the count is reported)
        labels = _assign(x, centers)
        new = _update(x, labels, centers)
        shift = float(((new - centers) ** 2).sum())
        centers = new
        if np.array_equal(labels, labels_old):
            strict = True
            break
        if shift <= threshold:
            break
        labels_old = labels
    if not strict:
        labels = _assign(x, centers)
    return KMeansResult(centers=centers + mean, labels=labels, n_iter=it + 1)
