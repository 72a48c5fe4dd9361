"""The evidence's faster arithmetic gives the numbers the plain formulas give, to the bit.

Training a rubric measures every graded work's evidence, so the measures were sped up
(issue 27: a sliced Laplacian, contiguous HSV planes, bincount sums in k-means, one float64
luminance); the critique's wording and the shipped evidence reference rest on the old
numbers, so each fast path is compared here with the straightforward formula it replaces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from artjudge.features import filters
from artjudge.features.colourspace import rgb_to_hsv
from artjudge.features.evidence import measure, valid_values
from artjudge.features.kmeans import _update
from artjudge.io import load_image


def _plain_hsv(rgb: np.ndarray) -> np.ndarray:
    """The conversion as first written: strided channel views and reductions over the last axis."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    delta = mx - mn
    safe = np.where(delta > 0, delta, 1.0)
    h = np.where(
        mx == r, ((g - b) / safe) % 6.0, np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0)
    )
    h = np.where(delta > 0, h * 60.0, 0.0) % 360.0
    s = np.where(mx > 0, delta / np.where(mx > 0, mx, 1.0), 0.0)
    return np.stack([h, s, mx], axis=-1)


@pytest.mark.parametrize("shape", [(256, 256, 3), (7, 3), (3,), (1, 1, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hsv_equals_the_plain_formula(shape: tuple[int, ...], dtype: type) -> None:
    rng = np.random.default_rng(0)
    rgb = (rng.integers(0, 6, shape) / 5).astype(dtype)  # ties between channels exercise every branch
    fast, plain = rgb_to_hsv(rgb), _plain_hsv(rgb)
    assert fast.dtype == plain.dtype and fast.shape == plain.shape
    assert np.array_equal(fast, plain)


@pytest.mark.parametrize("shape", [(512, 512), (2, 9), (9, 2), (31, 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_laplace_fast_path_equals_the_padded_correlation(shape: tuple[int, int], dtype: type) -> None:
    x = (np.random.default_rng(1).random(shape) * 255 - 40).astype(dtype)
    slow = filters.correlate1d(x, (1.0, -2.0, 1.0), 0) + filters.correlate1d(x, (1.0, -2.0, 1.0), 1)
    fast = filters.laplace(x)
    assert fast.dtype == slow.dtype and np.array_equal(fast, slow)


def test_kmeans_update_sums_equal_add_at() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2048, 3)) * 30
    labels = rng.integers(0, 5, 2048)
    labels[labels == 3] = 4  # an empty cluster keeps its centre
    centers = rng.normal(size=(5, 3))
    sums = np.zeros_like(centers)
    np.add.at(sums, labels, x)
    counts = np.bincount(labels, minlength=5).astype(np.float64)
    expected = centers.copy()
    filled = counts > 0
    expected[filled] = sums[filled] / counts[filled, None]
    got = _update(x, labels, centers)
    assert np.array_equal(got[filled], expected[filled])


def test_valid_values_are_what_measure_reports(agiqa_dir: Path) -> None:
    """Training stores ``valid_values``; the critique reads ``measure``: one set of numbers."""
    paths = sorted((agiqa_dir / "images").glob("*.jpg"))[::300][:8]
    assert paths
    for p in paths:
        image = load_image(p, target_size=(384, 512)).image
        ev = measure(image)
        assert valid_values(image) == {k: m.value for k, m in ev.items() if m.valid}
