"""Data for the signals readout: signal summaries of synthetic processes, and photographed stages.

The readout (:mod:`artjudge.models.process.signals_readout`) is fitted on the synthetic
processes the network was trained on (same generator, seed and targets: the first ``n``
processes of that dataset are the same processes). Its blend with the network is chosen on
*validation* processes: a new seed, plus the same processes shown as a few photographed
stages (:func:`photographed_stages`) in their true order, reversed and shuffled, the form
real painting processes usually come in (a sketch, first washes, the finished piece).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance

from artjudge.data.process.synthetic import PROCESS_KEYS, SyntheticProcess
from artjudge.features.process_signals import process_signals


@dataclass
class SignalRows:
    """Summary after the last frame of each process, and its labels (1-10, PROCESS order)."""

    x: np.ndarray  # (N, n_summary)
    labels: np.ndarray  # (N, 8)

    def label(self, key: str) -> np.ndarray:
        return self.labels[:, PROCESS_KEYS.index(key)]


def signal_rows(processes: Sequence[SyntheticProcess]) -> SignalRows:
    xs = [process_signals(p.frames)[1][-1] for p in processes]
    return SignalRows(np.stack(xs), np.stack([p.labels for p in processes]))


def photograph(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One photo of a page: exposure, white balance, slight scale/crop, sensor noise."""
    w, h = img.size
    out = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.85, 1.12)))
    arr = np.asarray(out, np.float32) * rng.uniform(0.93, 1.07, 3)
    s = float(rng.uniform(0.0, 0.06))
    x0, y0 = (rng.uniform(0, s, 2) * (w, h)).astype(int)
    crop = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).crop(
        (x0, y0, x0 + int(w * (1 - s)), y0 + int(h * (1 - s)))
    )
    arr = np.asarray(crop.resize((w, h), Image.Resampling.BILINEAR), np.float32)
    arr += rng.normal(0, 3.0, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def photographed_stages(p: SyntheticProcess, rng: np.random.Generator) -> list[Image.Image]:
    """3-4 stages of a process (always its first and last frame), each photographed anew."""
    n = len(p.frames)
    k = int(rng.integers(3, 5))
    middle = sorted(rng.choice(np.arange(1, n - 1), size=k - 2, replace=False).tolist())
    return [photograph(p.frames[i], rng) for i in [0, *middle, n - 1]]


def other_orders(k: int, rng: np.random.Generator, n: int = 3) -> list[list[int]]:
    """The reversed order first, then up to ``n`` other random orders (never the true one)."""
    orders = [list(range(k))[::-1]]
    tries = 0
    while len(orders) < n + 1 and tries < 100:
        tries += 1
        o = rng.permutation(k).tolist()
        if o != list(range(k)) and o not in orders:
            orders.append(o)
    return orders
