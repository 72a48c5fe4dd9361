"""The NumPy filters and k-means that replaced SciPy and scikit-learn on the scoring path agree with them."""

from __future__ import annotations

import numpy as np
import pytest

from artjudge.features import filters
from artjudge.features.kmeans import kmeans

ndimage = pytest.importorskip(
    "scipy.ndimage", reason="needs the [analysis] extra: pip install -e '.[analysis]'"
)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_filters_match_scipy(dtype: type) -> None:
    x = np.random.default_rng(0).random((37, 53)).astype(dtype)
    tol = 1e-12 if dtype is np.float64 else 1e-6
    pairs = [
        (filters.laplace(x), ndimage.laplace(x)),
        (filters.sobel(x, 1), ndimage.sobel(x, axis=1, mode="reflect")),
        (filters.sobel(x, 0), ndimage.sobel(x, axis=0, mode="reflect")),
        (filters.uniform_filter(x, 5), ndimage.uniform_filter(x, 5)),
        (filters.uniform_filter(x, 3, mode="nearest"), ndimage.uniform_filter(x, 3, mode="nearest")),
        (filters.gaussian_filter(x, 64 / 24), ndimage.gaussian_filter(x, 64 / 24)),
    ]
    for ours, theirs in pairs:
        assert ours.dtype == theirs.dtype
        assert np.abs(ours.astype(np.float64) - theirs).max() <= tol


def test_gaussian_per_axis_sigma_zero_leaves_axis() -> None:
    x = np.random.default_rng(1).random((20, 30, 3))
    ours = filters.gaussian_filter(x, (1.0, 1.0, 0.0))
    assert np.abs(ours - ndimage.gaussian_filter(x, (1.0, 1.0, 0.0))).max() <= 1e-12


def test_bad_kernel_and_mode_are_refused() -> None:
    with pytest.raises(ValueError, match="odd-length"):
        filters.correlate1d(np.zeros((4, 4)), (1.0, 1.0), 0)
    with pytest.raises(ValueError, match="boundary mode"):
        filters.correlate1d(np.zeros((4, 4)), (1.0,), 0, mode="constant")


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_kmeans_matches_scikit_learn(k: int) -> None:
    KMeans = pytest.importorskip(
        "sklearn.cluster", reason="needs the [analysis] extra: pip install -e '.[analysis]'"
    ).KMeans
    rng = np.random.default_rng(k)
    blobs = np.concatenate([rng.normal(c, 4.0, (300, 3)) for c in ([20, 0, 0], [60, 30, -20], [80, -10, 40])])
    ref = KMeans(n_clusters=k, n_init=1, random_state=0).fit(blobs)
    ours = kmeans(blobs, k, seed=0)
    assert np.abs(ours.centers - ref.cluster_centers_).max() <= 1e-9
    assert np.array_equal(ours.labels, ref.labels_)


def test_kmeans_refuses_too_few_points() -> None:
    with pytest.raises(ValueError, match="cannot form 3 clusters"):
        kmeans(np.zeros((2, 3)), 3)
