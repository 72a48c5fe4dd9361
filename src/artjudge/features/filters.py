"""The few separable image filters the scoring path and the evidence use, in NumPy alone.

They replace ``scipy.ndimage`` (laplace, sobel, uniform_filter, gaussian_filter, and the
second difference the hand-crafted measures share between the Laplacian and the noise estimate)
so that scoring, critique included, needs no SciPy: the base install is onnxruntime, NumPy
and Pillow. Each filter keeps SciPy's conventions (correlation, boundary modes, the
Gaussian's ``truncate=4`` radius, output in the input's floating dtype after every 1-D
pass), so results agree with SciPy to rounding (about 1e-15 relative);
``tests/test_filters.py`` checks them against SciPy where it is installed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# scipy.ndimage boundary mode -> numpy.pad mode ("reflect" repeats the edge pixel).
_PAD_MODE = {"reflect": "symmetric", "nearest": "edge", "mirror": "reflect", "wrap": "wrap"}


def correlate1d(
    x: np.ndarray, weights: Sequence[float] | np.ndarray, axis: int, mode: str = "reflect"
) -> np.ndarray:
    """1-D correlation along ``axis`` with an odd-length kernel, centred (``scipy.ndimage.correlate1d``)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) % 2 == 0:
        raise ValueError(f"correlate1d: kernel of length {len(w)}; an odd-length 1-D kernel is needed")
    if mode not in _PAD_MODE:
        raise ValueError(f"correlate1d: boundary mode {mode!r} unknown; use one of {sorted(_PAD_MODE)}")
    out_dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    r = len(w) // 2
    axis = axis % x.ndim
    pad = [(0, 0)] * x.ndim
    pad[axis] = (r, r)
    xp = np.pad(np.asarray(x, dtype=np.float64), pad, mode=_PAD_MODE[mode])  # type: ignore[call-overload]
    n = x.shape[axis]
    acc = np.zeros(x.shape, dtype=np.float64)
    term = np.empty_like(acc)
    index: list[slice] = [slice(None)] * x.ndim
    for j, wj in enumerate(w):
        if wj != 0.0:
            # a view of the padded copy per tap (not a gathered copy), summed in the same order
            index[axis] = slice(j, j + n)
            np.multiply(wj, xp[tuple(index)], out=term)
            acc += term
    return acc.astype(out_dtype, copy=False)


def second_difference(x: np.ndarray, axis: int) -> np.ndarray:
    """``x[i-1] - 2 x[i] + x[i+1]`` along ``axis`` of a 2-D array, edges mirrored (SciPy's "reflect").

    Summed as ``scipy.ndimage.correlate1d`` sums a symmetric kernel, ``(x[i-1] + x[i+1]) - 2 x[i]``,
    so the result is SciPy's to the last bit; three slices instead of a padded copy per tap.
    """
    a = x if axis == 0 else x.T
    out = np.empty_like(a, dtype=np.float64)
    if a.shape[0] == 1:
        out[...] = 0.0
    else:
        if a.dtype == np.float64:  # in place: the same sums, no temporaries to allocate and fault in
            mid = out[1:-1]
            np.add(a[:-2], a[2:], out=mid)
            mid -= np.multiply(a[1:-1], 2.0)
        else:  # summed in the input's precision, then widened
            out[1:-1] = (a[:-2] + a[2:]) - 2.0 * a[1:-1]
        out[0] = (a[0] + a[1]) - 2.0 * a[0]
        out[-1] = (a[-2] + a[-1]) - 2.0 * a[-1]
    return out if axis == 0 else out.T


def laplace(x: np.ndarray, mode: str = "reflect") -> np.ndarray:
    """Sum over axes of the second difference [1, -2, 1] (``scipy.ndimage.laplace``)."""
    if mode == "reflect" and x.ndim == 2 and min(x.shape) >= 2 and np.issubdtype(x.dtype, np.floating):
        xf = np.asarray(x, dtype=np.float64)
        # each 1-D pass in the input's dtype, then their sum, as the general path below
        rows = _laplace_taps(xf).astype(x.dtype, copy=False)
        cols = _laplace_taps(xf.T).T.astype(x.dtype, copy=False)
        rows += cols  # a fresh array of ours: in place, no new memory to fault in
        return rows
    out = correlate1d(x, (1.0, -2.0, 1.0), 0, mode)
    for axis in range(1, x.ndim):
        out = out + correlate1d(x, (1.0, -2.0, 1.0), axis, mode)
    return out


def _laplace_taps(x: np.ndarray) -> np.ndarray:
    """``correlate1d(x, (1, -2, 1), 0)`` with edges repeated, by slices (no padded copy).

    The taps are summed in correlate1d's order, ``(x[i-1] - 2 x[i]) + x[i+1]``, so the result
    is the same to the last bit; computed in place, with no temporaries, it costs a fifth of
    the padded correlation (the evidence's sharpness on 512 x 512: 0.5 ms against 2.4 ms).
    """
    out = np.empty_like(x)
    mid = out[1:-1]
    np.multiply(x[1:-1], 2.0, out=mid)
    np.subtract(x[:-2], mid, out=mid)
    mid += x[2:]
    out[0] = (x[0] - 2.0 * x[0]) + x[1]
    out[-1] = (x[-2] - 2.0 * x[-1]) + x[-1]
    return out


def sobel(x: np.ndarray, axis: int = -1, mode: str = "reflect") -> np.ndarray:
    """Sobel derivative along ``axis`` ([-1, 0, 1]) smoothed by [1, 2, 1] across the others."""
    axis = axis % x.ndim
    out = correlate1d(x, (-1.0, 0.0, 1.0), axis, mode)
    for other in range(x.ndim):
        if other != axis:
            out = correlate1d(out, (1.0, 2.0, 1.0), other, mode)
    return out


def uniform_filter(x: np.ndarray, size: int, mode: str = "reflect") -> np.ndarray:
    """Mean over a ``size``-wide window along every axis (odd ``size``; ``scipy.ndimage.uniform_filter``)."""
    out = x
    for axis in range(x.ndim):
        out = correlate1d(out, np.full(size, 1.0 / size), axis, mode)
    return out


def gaussian_kernel(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised 1-D Gaussian SciPy uses: radius ``int(truncate * sigma + 0.5)``."""
    radius = int(truncate * float(sigma) + 0.5)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 / (float(sigma) ** 2) * t * t)
    return k / k.sum()


def gaussian_filter(
    x: np.ndarray, sigma: float | Sequence[float], mode: str = "reflect", truncate: float = 4.0
) -> np.ndarray:
    """Gaussian blur with one sigma per axis (0 leaves that axis alone), as ``scipy.ndimage.gaussian_filter``."""
    sigmas = (
        [float(sigma)] * x.ndim if isinstance(sigma, int | float | np.floating) else [float(s) for s in sigma]
    )
    if len(sigmas) != x.ndim:
        raise ValueError(f"gaussian_filter: {len(sigmas)} sigmas for an array of {x.ndim} dimensions")
    out = x
    for axis, s in enumerate(sigmas):
        if s > 1e-15:
            out = correlate1d(out, gaussian_kernel(s, truncate), axis, mode)
    return out
