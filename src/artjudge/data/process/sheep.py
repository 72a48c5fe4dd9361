"""Sheep Market drawings (stroke-3) rasterised into progressive frames.

Each drawing is an (N, 3) array of pen offsets (dx, dy, pen_lifted) in the order a person
drew them (sketch-rnn's stroke-3 format). Cutting the sequence of strokes into K
cumulative parts gives a real drawing process; permuting the strokes gives the same final
drawing reached in an order no person chose, which the judge should find less stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from artjudge.errors import InputError


@dataclass
class Drawing:
    """One drawing as a list of strokes, each an (M, 2) array of absolute points."""

    strokes: list[np.ndarray]
    index: int
    split: str


def load_sheep(path: str | Path, split: str = "test") -> list[Drawing]:
    """Read ``aaron_sheep.npz`` (a folder holding it, or the file) and split strokes."""
    p = Path(path)
    if p.is_dir():
        p = p / "aaron_sheep.npz"
    if not p.is_file():
        raise InputError(str(p), "Sheep Market file aaron_sheep.npz not found")
    data = np.load(p, allow_pickle=True, encoding="latin1")
    if split not in data.files:
        raise InputError(str(p), f"no split {split!r}; has {', '.join(data.files)}")
    out = []
    for i, seq in enumerate(data[split]):
        out.append(Drawing(strokes=to_strokes(np.asarray(seq)), index=i, split=split))
    return out


def to_strokes(seq: np.ndarray) -> list[np.ndarray]:
    """stroke-3 offsets -> absolute polylines, cut where the pen lifts."""
    pts = np.cumsum(seq[:, :2].astype(np.float32), axis=0)
    cuts = np.nonzero(seq[:, 2] == 1)[0] + 1
    strokes = [s for s in np.split(pts, cuts) if len(s)]
    return strokes


def rasterise(
    strokes: list[np.ndarray],
    n_frames: int = 8,
    size: int = 128,
    order: np.ndarray | None = None,
    width: int = 2,
) -> list[Image.Image]:
    """Cumulative frames: frame k shows the first ceil((k+1) * S / n_frames) strokes."""
    if not strokes:
        raise InputError("drawing", "no strokes")
    allpts = np.concatenate(strokes)
    lo, hi = allpts.min(axis=0), allpts.max(axis=0)
    scale = (size * 0.85) / max(1.0, float((hi - lo).max()))
    offset = (size - (hi - lo) * scale) / 2
    order = np.arange(len(strokes)) if order is None else order
    frames = []
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    drawn = 0
    n = len(strokes)
    for k in range(n_frames):
        upto = int(np.ceil((k + 1) * n / n_frames))
        for j in order[drawn:upto]:
            pts = (strokes[j] - lo) * scale + offset
            if len(pts) == 1:
                x, y = pts[0]
                draw.ellipse([x - 1, y - 1, x + 1, y + 1], fill=(0, 0, 0))
            else:
                draw.line([tuple(map(float, q)) for q in pts], fill=(0, 0, 0), width=width)
        drawn = max(drawn, upto)
        frames.append(canvas.copy())
    return frames
