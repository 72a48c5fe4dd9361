"""The real landscape time-lapse from the Inverse Painting sample (10 frames, timestamps).

File names are ``frameindex_min:sec.jpg``; natural order of the index is painting order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from artjudge.errors import InputError
from artjudge.io.images import load_image
from artjudge.io.keyframes import list_frame_files

SAMPLE_SUBDIR = Path("data/sample_data/train/rgb/example")


@dataclass
class TimeLapse:
    frames: list[Image.Image]
    paths: list[Path]
    seconds: list[float | None]


def frame_dir(root: str | Path) -> Path:
    """The folder of frames under the sample's root (or the folder itself)."""
    r = Path(root)
    return r / SAMPLE_SUBDIR if (r / SAMPLE_SUBDIR).is_dir() else r


def load_timelapse(root: str | Path) -> TimeLapse:
    d = frame_dir(root)
    if not d.is_dir():
        raise InputError(str(root), "Inverse Painting frames folder not found")
    paths = list_frame_files(d)
    if not paths:
        raise InputError(str(d), "no frames")
    secs: list[float | None] = []
    for p in paths:
        m = re.match(r"\d+_(\d+):(\d+)$", p.stem)
        secs.append(int(m.group(1)) * 60 + int(m.group(2)) if m else None)
    frames = []
    for p in paths:
        frames.append(load_image(p).image)
    return TimeLapse(frames=frames, paths=paths, seconds=secs)
