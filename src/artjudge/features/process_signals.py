"""Measured signals of a painting process: what changed on the canvas, frame by frame.

The process judge reads frames through a frozen ImageNet encoder, which knows what a
picture *shows* but not how much paint is on it: a blank two-colour canvas looked "deep"
to it, and a painting being erased looked more stable than one being made. These signals
measure the canvas directly (numpy only, every frame at a fixed analysis size, a few
milliseconds each), so a readout of them cannot make those mistakes:

per frame (:data:`FRAME_SIGNALS`, each 0-1, higher = more paint / more developed)
    ``coverage``       fraction of the canvas that differs from the paper (the brightest
                       quartile of the first frame: paper is the lightest thing on a page)
    ``saturation``     mean HSV saturation of the painted pixels, paper counting 0 (washes
                       and layers add colour; pencil and paper have none)
    ``colourfulness``  Hasler-Suesstrunk colourfulness of the colour relative to the paper, 0-1
    ``value_range``    spread of values, 95th minus 5th percentile of luminance
    ``edge_density``   fraction of pixels with a strong luminance gradient
    ``detail``         high-frequency energy: mean |luminance - its 3x3 box blur|, scaled
    ``value``          pigment laid down: mean darkening of the luminance below the paper's,
                       relative to the paper (transparent washes and ink accumulate it)

between consecutive frames (:data:`STEP_SIGNALS`)
    ``removed``        paint removed: coverage and detail lost (0 when the step only adds)
    ``layout_shift``   change of the 8x8 luminance structure (low-res layout), 0-1
    ``palette_drift``  total-variation distance of 4x4x4 colour histograms, 0-1

:func:`summarise` turns the signals of frames 1..t into a fixed-length vector (level at the
last frame, net gain since the first, direction of change, amount removed, trend against
time, shortfall from the best frame, step shifts and drifts): the input of the signals readout the process judge blends with its network
(:mod:`artjudge.models.process.signals_readout`). :class:`SignalTracker` computes the same
thing incrementally, so ``update()`` frame by frame equals ``judge()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

ANALYSIS_SIZE = 128  # frames are analysed at this size (longer side), aspect kept
FRAME_SIGNALS: tuple[str, ...] = (
    "coverage",
    "saturation",
    "colourfulness",
    "value_range",
    "edge_density",
    "detail",
    "value",
)
STEP_SIGNALS: tuple[str, ...] = ("removed", "layout_shift", "palette_drift")
PAINT_THRESHOLD = 0.12  # max channel difference from the paper (0-1) that counts as paint
EDGE_THRESHOLD = 0.08  # luminance gradient magnitude (0-1 per pixel) that counts as an edge
SIGNAL_PARTS: tuple[str, ...] = ("last", "gain", "direction", "removed", "trend", "shortfall")
TREND_SCALE = 0.02  # a change of a frame signal this size counts as about 3/4 of a clear rise


def _array(img: Image.Image | np.ndarray) -> np.ndarray:
    """RGB float32 in 0-1 at the analysis size (longer side ``ANALYSIS_SIZE``)."""
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img.astype(np.uint8))
    img = img.convert("RGB")
    w, h = img.size
    scale = ANALYSIS_SIZE / max(w, h)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    if size != img.size:
        img = img.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def paper_colour(first: np.ndarray) -> np.ndarray:
    """The paper's colour: the median colour of the brightest quartile of the first frame."""
    lum = first.mean(axis=-1).ravel()
    bright = first.reshape(-1, 3)[lum >= np.quantile(lum, 0.75)]
    return np.median(bright, axis=0)


def _luminance(a: np.ndarray) -> np.ndarray:
    return 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]


def _box3(x: np.ndarray) -> np.ndarray:
    p = np.pad(x, 1, mode="edge")
    out = np.zeros_like(x)
    for i in range(3):
        for j in range(3):
            out += p[i : i + x.shape[0], j : j + x.shape[1]]
    return out / 9.0


def _frame_values(a: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """(len(FRAME_SIGNALS),) signals of one frame ``a`` (H, W, 3) in 0-1."""
    painted = np.abs(a - paper).max(axis=-1) > PAINT_THRESHOLD
    mx, mn = a.max(axis=-1), a.min(axis=-1)
    sat = np.where(painted & (mx > 1e-6), (mx - mn) / np.maximum(mx, 1e-6), 0.0)  # paper adds none
    d = a - paper  # colour relative to the paper: a tinted blank page is not colourful
    rg = d[..., 0] - d[..., 1]
    yb = 0.5 * (d[..., 0] + d[..., 1]) - d[..., 2]
    colourful = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    lum = _luminance(a)
    lo, hi = np.quantile(lum, [0.05, 0.95])
    gy, gx = np.gradient(lum)
    grad = np.hypot(gx, gy)
    coverage = float(painted.mean())
    paper_lum = max(0.05, float(_luminance(paper)))
    value = float(np.clip((paper_lum - lum) / paper_lum, 0.0, 1.0).mean())
    return np.array(
        [
            coverage,
            float(sat.mean()),
            float(min(1.0, colourful / 0.6)),
            float(hi - lo),
            float((grad > EDGE_THRESHOLD).mean()),
            float(min(1.0, np.abs(lum - _box3(lum)).mean() / 0.05)),
            value,
        ],
        dtype=np.float64,
    )


def _layout(a: np.ndarray) -> np.ndarray:
    """8x8 luminance thumbnail, the low-resolution structure of the frame."""
    img = Image.fromarray((_luminance(a) * 255).astype(np.uint8)).resize((8, 8), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.float64) / 255.0


def _palette(a: np.ndarray) -> np.ndarray:
    q = np.minimum((a * 4).astype(np.int64), 3)
    hist = np.bincount((q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).ravel(), minlength=64).astype(np.float64)
    return hist / hist.sum()


@dataclass
class ProcessSignals:
    """Per-frame and between-frame signals of a process, and their summary after each frame."""

    frames: list[dict[str, float]] = field(default_factory=list)  # FRAME_SIGNALS per frame
    steps: list[dict[str, float]] = field(default_factory=list)  # STEP_SIGNALS; steps[0] is all zeros

    def to_dict(self) -> dict[str, list[dict[str, float]]]:
        return {"frames": list(self.frames), "steps": list(self.steps)}


def _step(
    prev: np.ndarray,
    v: np.ndarray,
    prev_lay: np.ndarray,
    lay: np.ndarray,
    prev_pal: np.ndarray,
    pal: np.ndarray,
) -> np.ndarray:
    """STEP_SIGNALS between two consecutive frames (their values, layouts and palettes)."""
    removed = max(0.0, prev[0] - v[0]) + max(0.0, prev[5] - v[5]) + max(0.0, prev[4] - v[4])
    shift = float(np.abs(lay - prev_lay).mean())
    drift = float(0.5 * np.abs(pal - prev_pal).sum())
    return np.array([removed, shift, drift])


class SignalTracker:
    """Signals frame by frame: ``add(frame)`` costs one frame's analysis, never a recompute."""

    def __init__(self) -> None:
        self.paper: np.ndarray | None = None
        self._prev_layout: np.ndarray | None = None
        self._prev_palette: np.ndarray | None = None
        self.values: list[np.ndarray] = []  # (len(FRAME_SIGNALS),) per frame
        self.step_values: list[np.ndarray] = []  # (len(STEP_SIGNALS),) per frame

    def add(self, frame: Image.Image | np.ndarray) -> np.ndarray:
        """Analyse one more frame; the summary vector of every frame so far."""
        a = _array(frame)
        if self.paper is None:
            self.paper = paper_colour(a)
        v = _frame_values(a, self.paper)
        lay, pal = _layout(a), _palette(a)
        if self.values:
            assert self._prev_layout is not None and self._prev_palette is not None
            step = _step(self.values[-1], v, self._prev_layout, lay, self._prev_palette, pal)
        else:
            step = np.zeros(len(STEP_SIGNALS))
        self.values.append(v)
        self.step_values.append(step)
        self._prev_layout, self._prev_palette = lay, pal
        return summarise(np.stack(self.values), np.stack(self.step_values))

    def signals(self) -> ProcessSignals:
        return ProcessSignals(
            frames=[
                {k: round(float(x), 4) for k, x in zip(FRAME_SIGNALS, v, strict=True)} for v in self.values
            ],
            steps=[
                {k: round(float(x), 4) for k, x in zip(STEP_SIGNALS, s, strict=True)}
                for s in self.step_values
            ],
        )


def summary_names() -> list[str]:
    """Names of :func:`summarise`'s outputs, in order."""
    names = [f"{k}_{part}" for k in FRAME_SIGNALS for part in SIGNAL_PARTS]
    return names + [
        "removed_total",
        "layout_shift_mean",
        "layout_shift_max",
        "palette_drift_mean",
        "palette_drift_max",
        "accumulation_order",
        "accumulation_trend",
    ]


def summarise(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """(T, F) frame signals and (T, S) step signals -> the summary vector after frame T.

    Per frame signal (:data:`SIGNAL_PARTS`): its level at the last frame, its net gain
    since the first, the direction of its changes ((rises - falls) / (rises + falls), 0
    with one frame), the amount it fell, its ``trend`` (a soft Kendall tau against time:
    the mean over frame pairs i < j of tanh((v_j - v_i) / TREND_SCALE); +1 when every
    later frame has more of it than every earlier one, whatever the photo noise between
    neighbours) and its ``shortfall`` (how far the last frame is below the best frame: a
    process that ends before its fullest state). Then the total paint removed, mean and
    max layout shift and palette drift, ``accumulation_order`` (the mean direction over
    coverage, saturation, colourfulness and detail: +1 every step adds paint, -1 every
    step takes it away) and ``accumulation_trend`` (the mean trend over coverage,
    saturation, colourfulness, detail and value).
    """
    diffs = np.diff(values, axis=0) if len(values) > 1 else np.zeros((0, values.shape[1]))
    rises = np.clip(diffs, 0, None).sum(axis=0)
    falls = np.clip(-diffs, 0, None).sum(axis=0)
    direction = (rises - falls) / (rises + falls + 1e-3)
    t = len(values)
    if t > 1:
        i, j = np.triu_indices(t, 1)
        trend = np.tanh((values[j] - values[i]) / TREND_SCALE).mean(axis=0)
    else:
        trend = np.zeros(values.shape[1])
    shortfall = values.max(axis=0) - values[-1]
    parts = np.stack([values[-1], values[-1] - values[0], direction, falls, trend, shortfall], axis=1).ravel()
    st = steps[1:] if len(steps) > 1 else np.zeros((1, steps.shape[1]))
    order = float(direction[[0, 1, 2, 5]].mean())
    extra = np.array(
        [
            st[:, 0].sum(),
            st[:, 1].mean(),
            st[:, 1].max(),
            st[:, 2].mean(),
            st[:, 2].max(),
            order,
            float(trend[[0, 1, 2, 5, 6]].mean()),
        ]
    )
    return np.concatenate([parts, extra])


def process_signals(frames: Sequence[Image.Image | np.ndarray]) -> tuple[ProcessSignals, np.ndarray]:
    """Signals of a whole process and the (T, n_summary) summary after each frame."""
    tr = SignalTracker()
    summaries = np.stack([tr.add(f) for f in frames])
    return tr.signals(), summaries


def order_summaries(
    frames: Sequence[Image.Image | np.ndarray], orders: Sequence[Sequence[int]]
) -> np.ndarray:
    """(len(orders), n_summary): the final summary of ``frames`` shown in each order.

    Equal to ``process_signals([frames[i] for i in o])[1][-1]`` for every order ``o``, but
    each frame is analysed once per distinct first frame (the paper comes from the first
    frame) instead of once per order: judging all 24 orders of 4 photos costs 16 frame
    analyses, not 96.
    """
    arrs = [_array(f) for f in frames]
    lays, pals = [_layout(a) for a in arrs], [_palette(a) for a in arrs]
    papers: dict[int, np.ndarray] = {}
    vals: dict[tuple[int, int], np.ndarray] = {}
    rows = []
    for o in orders:
        first = int(o[0])
        if first not in papers:
            papers[first] = paper_colour(arrs[first])
        for i in o:
            if (first, int(i)) not in vals:
                vals[first, int(i)] = _frame_values(arrs[int(i)], papers[first])
        v = np.stack([vals[first, int(i)] for i in o])
        steps = [np.zeros(len(STEP_SIGNALS))] + [
            _step(v[t - 1], v[t], lays[o[t - 1]], lays[o[t]], pals[o[t - 1]], pals[o[t]])
            for t in range(1, len(o))
        ]
        rows.append(summarise(v, np.stack(steps)))
    return np.stack(rows)


__all__ = [
    "ANALYSIS_SIZE",
    "FRAME_SIGNALS",
    "SIGNAL_PARTS",
    "STEP_SIGNALS",
    "ProcessSignals",
    "SignalTracker",
    "paper_colour",
    "order_summaries",
    "process_signals",
    "summarise",
    "summary_names",
]
