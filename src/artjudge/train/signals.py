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
from artjudge.models.process.signals_readout import SignalsReadout, blend_scores


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


def readout_predictions(
    readout: SignalsReadout, network_pred: np.ndarray, processes: Sequence[SyntheticProcess]
) -> tuple[np.ndarray, np.ndarray]:
    """Signals-only and shipped (network blended with the readout) predictions, (N, 8) on 1-10.

    The one place benchmarks and the residual-std script turn the network's predictions on
    synthetic processes into what the shipped judge reports; attributes the readout does not
    cover (consistency) keep the network's value in the blend and are NaN signals-only.
    """
    summ = np.stack([process_signals(p.frames)[1][-1] for p in processes])
    signals_pred, shipped_pred = network_pred.copy(), network_pred.copy()
    signals_pred[:, PROCESS_KEYS.index("consistency")] = np.nan
    for a, v in readout.predict(summ).items():
        j = PROCESS_KEYS.index(a)
        signals_pred[:, j] = v
        shipped_pred[:, j] = blend_scores(a, readout.blend.get(a, 1.0), network_pred[:, j], v)
    return signals_pred, shipped_pred


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


def order_faults(order: Sequence[int], faults: dict[str, float]) -> dict[str, float]:
    """The faults a process shows when its frames come in ``order`` (``order[i]`` = true index).

    Frames out of order are paint that disappears and comes back: a ``regression`` of the
    share of frame pairs out of order (Kendall distance; 1 reversed). A sequence that ends
    before the process's last frame never got its detail, colour or structure: ``no_detail``,
    ``flat_colour`` and ``unfinished`` of 1 - (true position of the last frame) / (k - 1).
    Each is the larger of that and the process's own fault, so the labels keep the stroke
    generator's meaning (:func:`artjudge.data.process.synthetic.labels_from_faults`).
    """
    k = len(order)
    o = np.asarray(order)
    i, j = np.triu_indices(k, 1)
    discord = float((o[i] > o[j]).mean()) if k > 1 else 0.0
    short = 1.0 - float(o[-1]) / max(1, k - 1)
    out = dict(faults)
    for name, m in (
        ("regression", discord),
        ("no_detail", short),
        ("flat_colour", short),
        ("unfinished", short),
    ):
        if m > 0:
            out[name] = max(out.get(name, 0.0), m)
    return out


def stage_order_rows(
    processes: Sequence[SyntheticProcess], rng: np.random.Generator, per_process: int = 2
) -> SignalRows:
    """Rows of 3-5 photographed stages per process: the true order, then random other orders.

    The readout learns from these what the whole processes cannot show it: the same
    stages in another order remove paint, and a sequence that ends on its sketch is not
    deep (labels from :func:`order_faults`).
    """
    from artjudge.data.process.camera import photograph_all
    from artjudge.data.process.synthetic import labels_from_faults

    xs, ys = [], []
    for p in processes:
        n = len(p.frames)
        k = int(rng.integers(3, min(5, n) + 1))
        middle = sorted(rng.choice(np.arange(1, n - 1), size=k - 2, replace=False).tolist())
        stages = photograph_all([p.frames[i] for i in [0, *middle, n - 1]], rng, "photo")
        orders = [list(range(k))]
        while len(orders) < per_process:
            o = rng.permutation(k).tolist()
            if o not in orders:
                orders.append(o)
        for o in orders:
            xs.append(process_signals([stages[i] for i in o])[1][-1])
            ys.append(labels_from_faults(order_faults(o, p.faults)))
    return SignalRows(np.stack(xs), np.stack(ys).astype(np.float32))
