"""Key frames of a painting process, from a video or a folder of frames, in bounded memory.

A time-lapse of a painting is mostly redundant: long stretches where a few strokes change.
Judging it needs the frames where the picture *changed*, so a frame is kept when its pixel
L2 distance (on a small thumbnail) from the last kept frame exceeds a threshold. The
threshold adapts to the whole video's visual change (total path length of the thumbnails
divided by the number of key frames wanted), so a slow, subtle process and a busy one both
yield a useful number of key frames.

Memory stays bounded for any length: a first streamed pass keeps only thumbnails of every
k-th frame (k doubles, and every other thumbnail is dropped, whenever the thumbnail store
is full), and a second streamed pass decodes again and keeps only the chosen frames,
downscaled to ``max_side``. Nothing ever holds the whole video.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from artjudge.errors import InputError
from artjudge.io.images import check_pixel_limit, image_size, load_image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".gif"}


@dataclass(frozen=True)
class KeyframeConfig:
    """How key frames are chosen; defaults suit a time-lapse of one painting."""

    every_k: int = 1  # look at every k-th frame at least (k grows for very long videos)
    min_keyframes: int = 4
    max_keyframes: int = 16
    sensitivity: float = 1.0  # >1 keeps fewer frames (higher threshold), <1 keeps more
    thumb_size: int = 32  # thumbnails are thumb_size x thumb_size RGB, used only for distances
    max_thumbnails: int = 4096  # bound on the first pass's memory (~12 MB at 32 px)
    max_side: int = 512  # kept frames are downscaled so their longer side is at most this
    max_pixels: int | None = None  # per-frame pixel limit; None: load_image's (ARTJUDGE_MAX_PIXELS)

    def __post_init__(self) -> None:
        if self.every_k < 1:
            raise ValueError("every_k must be >= 1")
        if not 1 <= self.min_keyframes <= self.max_keyframes:
            raise ValueError("need 1 <= min_keyframes <= max_keyframes")
        if self.max_keyframes < 2:
            raise ValueError("max_keyframes must be >= 2 (first and last frame)")
        if self.sensitivity <= 0:
            raise ValueError("sensitivity must be > 0")


@dataclass
class Keyframes:
    """The chosen frames, their indices in the source's frame order, and what was noticed."""

    source: str
    frames: list[Image.Image]
    indices: list[int]
    n_frames_seen: int
    threshold: float
    total_change: float
    notes: list[str] = field(default_factory=list)
    timestamps: list[float | None] = field(default_factory=list)


def _natural_key(path: Path) -> list[object]:
    """Sort "2_0:40.jpg" before "10_3:21.jpg": numbers compare as numbers."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_frame_files(folder: Path) -> list[Path]:
    """Image files of a folder in natural order (the order a painter's camera wrote them)."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=_natural_key)


def _thumbnail(img: Image.Image, size: int) -> np.ndarray:
    small = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def _downscale(img: Image.Image, max_side: int) -> Image.Image:
    img = img.convert("RGB")
    w, h = img.size
    scale = max_side / max(w, h)
    if scale < 1.0:
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
    return img


def prepare_frame(img: Image.Image, first_size: tuple[int, int] | None, max_side: int) -> Image.Image:
    """The one per-frame preparation every entry point applies (CLI, Python, HTTP, ``--follow``).

    RGB, resized to the process's first frame size when it differs (a camera that changed
    resolution mid-process), then downscaled so the longer side is at most ``max_side``.
    Judging the same frame prepared two ways gave different scores (a 640 px frame resized
    to the encoder's 128 px directly vs via 512 px), so nothing else may resize a frame.
    """
    img = img.convert("RGB")
    if first_size is not None and img.size != first_size:
        img = img.resize(first_size, Image.Resampling.BILINEAR)
    return _downscale(img, max_side)


class _LazyFrame:
    """A decoded frame whose RGB conversion happens only if the frame is looked at."""

    def __init__(self, size: tuple[int, int], load: Callable[[], Image.Image], ts: float | None) -> None:
        self.size = size
        self._load = load
        self.timestamp = ts

    def image(self) -> Image.Image:
        return self._load()


def _iter_video(path: Path, max_pixels: int | None = None) -> Iterator[_LazyFrame]:
    """Decode a video one frame at a time (PyAV); never more than one frame in memory.

    PyAV, not Pillow, decodes video frames, so each frame's size is held to the same pixel
    limit as :func:`artjudge.io.load_image` before it is converted to an image.
    """
    import av

    try:
        container = av.open(str(path))
    except Exception as err:  # PyAV raises several error types for unreadable files
        raise InputError(str(path), f"cannot open as a video ({type(err).__name__}: {err})") from None
    try:
        if not container.streams.video:
            raise InputError(str(path), "the file has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                check_pixel_limit((frame.width, frame.height), str(path), max_pixels)
                ts = float(frame.time) if frame.time is not None else None
                yield _LazyFrame((frame.width, frame.height), frame.to_image, ts)
        except InputError:
            raise
        except Exception as err:
            raise InputError(
                str(path), f"video is corrupt or truncated ({type(err).__name__}: {err})"
            ) from None
    finally:
        container.close()


def _iter_folder(files: list[Path], max_pixels: int | None = None) -> Iterator[_LazyFrame]:
    """Frames of a folder through the one image loader: same limits, EXIF, ICC as a still image.

    The size comes from the header (as loaded: EXIF-rotated), so frames that pass 1 only
    counts are never decoded.
    """
    for p in files:
        size = image_size(p, max_pixels=max_pixels)
        yield _LazyFrame(size, lambda p=p: load_image(p, max_pixels=max_pixels).image, None)  # type: ignore[misc]


class _FrameSource:
    """A re-iterable frame stream over a video file or a folder of images."""

    def __init__(self, source: str | Path, max_pixels: int | None = None) -> None:
        self.path = Path(source)
        self.max_pixels = max_pixels
        if not self.path.exists():
            raise InputError(str(source), "no such file or directory")
        if self.path.is_dir():
            self.files: list[Path] | None = list_frame_files(self.path)
            if not self.files:
                raise InputError(str(source), "the folder holds no image frames")
        else:
            if self.path.stat().st_size == 0:
                raise InputError(str(source), "the file is empty (0 bytes)")
            if self.path.suffix.lower() in IMAGE_SUFFIXES - {".gif"}:
                raise InputError(
                    str(source), "a single image is not a process; give a video or a folder of frames"
                )
            self.files = None

    def __iter__(self) -> Iterator[_LazyFrame]:
        if self.files is not None:
            return _iter_folder(self.files, self.max_pixels)
        return _iter_video(self.path, self.max_pixels)


def select_indices(
    thumbs: np.ndarray, min_keyframes: int, max_keyframes: int, sensitivity: float = 1.0
) -> tuple[list[int], float, float]:
    """Choose key positions among thumbnails: (positions, threshold, total change).

    At most ``max_keyframes`` frames: all of them (the one key-frame policy of every entry
    point). Otherwise the threshold is the total path length of the thumbnail sequence divided by the
    number of key frames wanted (``max_keyframes``), times ``sensitivity``. First and last
    always stay; too many are thinned uniformly, too few are topped up with the frames
    farthest (in frame order) from any kept one.
    """
    n = len(thumbs)
    if n == 0:
        return [], 0.0, 0.0
    if n == 1:
        return [0], 0.0, 0.0
    flat = thumbs.reshape(n, -1)
    steps = np.sqrt(((flat[1:] - flat[:-1]) ** 2).mean(axis=1))
    total = float(steps.sum())
    if n <= max_keyframes:
        # Few frames: every one is a chosen stage (photographed stages, uploaded frames,
        # a live folder); dropping some would make the answer depend on the entry point.
        return list(range(n)), 0.0, total
    threshold = sensitivity * total / max(1, max_keyframes - 1)
    kept = [0]
    for i in range(1, n):
        dist = float(np.sqrt(((flat[i] - flat[kept[-1]]) ** 2).mean()))
        if dist > threshold and threshold > 0:
            kept.append(i)
    if kept[-1] != n - 1:
        kept.append(n - 1)
    if len(kept) > max_keyframes:
        pick = np.unique(np.round(np.linspace(0, len(kept) - 1, max_keyframes)).astype(int))
        kept = [kept[j] for j in pick]
    want = min(min_keyframes, n)
    while len(kept) < want:
        gaps = np.diff(kept)
        j = int(np.argmax(gaps))
        kept.insert(j + 1, kept[j] + int(gaps[j]) // 2)
    return kept, threshold, total


def extract_keyframes(source: str | Path, config: KeyframeConfig | None = None) -> Keyframes:
    """Key frames of a video or a folder of frames, in two streamed passes."""
    cfg = config or KeyframeConfig()
    frames_src = _FrameSource(source, cfg.max_pixels)
    notes: list[str] = []

    # Pass 1: thumbnails of every k-th frame, k doubling when the store is full.
    step = cfg.every_k
    thumbs: list[np.ndarray] = []
    thumb_idx: list[int] = []
    n_seen = 0
    first_size: tuple[int, int] | None = None
    resized = 0
    for i, lazy in enumerate(frames_src):
        n_seen = i + 1
        if first_size is None:
            first_size = lazy.size
        elif lazy.size != first_size:
            resized += 1
        if i % step:
            continue
        thumbs.append(_thumbnail(lazy.image(), cfg.thumb_size))
        thumb_idx.append(i)
        if len(thumbs) >= cfg.max_thumbnails:
            thumbs, thumb_idx = thumbs[::2], thumb_idx[::2]
            step *= 2
    if n_seen == 0:
        raise InputError(str(source), "no frames could be decoded (empty video)")
    last_index = n_seen - 1
    if thumb_idx[-1] != last_index:
        # The last frame is the finished painting: always look at it.
        for i, lazy in enumerate(frames_src):
            if i == last_index:
                thumbs.append(_thumbnail(lazy.image(), cfg.thumb_size))
                thumb_idx.append(i)
    if step > cfg.every_k:
        notes.append(f"long input: looked at every {step}th of {n_seen} frames to bound memory")
    if resized:
        notes.append(f"{resized} frame(s) differ in size from the first; resized to {first_size}")
    if n_seen == 1:
        notes.append("only one frame: a process needs several; scores rest on a single state")

    positions, threshold, total = select_indices(
        np.stack(thumbs), cfg.min_keyframes, cfg.max_keyframes, cfg.sensitivity
    )
    wanted = [thumb_idx[p] for p in positions]
    wanted_set = set(wanted)

    # Pass 2: decode again, keep only the chosen frames (downscaled).
    kept: dict[int, tuple[Image.Image, float | None]] = {}
    for i, lazy in enumerate(frames_src):
        if i in wanted_set:
            kept[i] = (prepare_frame(lazy.image(), first_size, cfg.max_side), lazy.timestamp)
        if i >= wanted[-1]:
            break
    order = sorted(kept)
    return Keyframes(
        source=str(source),
        frames=[kept[i][0] for i in order],
        indices=order,
        n_frames_seen=n_seen,
        threshold=threshold,
        total_change=total,
        notes=notes,
        timestamps=[kept[i][1] for i in order],
    )


def load_frames(source: str | Path, config: KeyframeConfig | None = None) -> Keyframes:
    """Frames of a folder or video: every frame when few, key frames otherwise."""
    return extract_keyframes(source, config)


FrameInput = str | Path | Image.Image


def select_frames(
    source: str | Path | Sequence[FrameInput], config: KeyframeConfig | None = None
) -> Keyframes:
    """The frames to judge from any input, under the one key-frame policy.

    A video or folder goes through :func:`extract_keyframes`; a list of images or paths
    (the HTTP service's uploads, the Python API) is loaded once each through
    :func:`artjudge.io.load_image`, prepared by :func:`prepare_frame` and thinned by the
    same :func:`select_indices`, so the same frames give the same key frames everywhere.
    """
    if isinstance(source, str | Path):
        return extract_keyframes(source, config)
    cfg = config or KeyframeConfig()
    raw = [load_image(f, what="frame", max_pixels=cfg.max_pixels).image for f in source]
    if not raw:
        raise InputError("frames", "no frames given")
    first_size = raw[0].size
    notes: list[str] = []
    resized = sum(im.size != first_size for im in raw)
    if resized:
        notes.append(f"{resized} frame(s) differ in size from the first; resized to {first_size}")
    if len(raw) == 1:
        notes.append("only one frame: a process needs several; scores rest on a single state")
    thumbs = np.stack([_thumbnail(im, cfg.thumb_size) for im in raw])  # as pass 1 of a folder
    positions, threshold, total = select_indices(
        thumbs, cfg.min_keyframes, cfg.max_keyframes, cfg.sensitivity
    )
    return Keyframes(
        source="<frames>",
        frames=[prepare_frame(raw[i], first_size, cfg.max_side) for i in positions],
        indices=list(positions),
        n_frames_seen=len(raw),
        threshold=threshold,
        total_change=total,
        notes=notes,
        timestamps=[None] * len(positions),
    )


__all__ = [
    "KeyframeConfig",
    "Keyframes",
    "extract_keyframes",
    "list_frame_files",
    "load_frames",
    "prepare_frame",
    "select_frames",
    "select_indices",
]
