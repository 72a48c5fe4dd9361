"""Turn images into the features the scoring head reads, with caching and overlap.

Decoding JPEGs and computing the hand-crafted measures run in a thread pool while the
network encodes the previous batch (PIL and NumPy release the GIL for most of that
work), so on a 2-core machine the pipeline stays close to the bare network's speed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
from PIL import Image

from artjudge.features.cache import FeatureCache
from artjudge.features.handcrafted import handcrafted_vector
from artjudge.features.pixels import preprocess_array

if TYPE_CHECKING:  # torch is needed only by the PyTorch engine and by training
    import torch

ENCODER_ID = "efficientnet-lite0-ms1"

T = TypeVar("T")
R = TypeVar("R")
_END: Any = object()  # sentinel: the input iterable is exhausted


def cache_key(resolution: int) -> str:
    """The feature-cache namespace for this encoder at one input size."""
    return f"{ENCODER_ID}-{resolution}"


def prefetched(items: Iterable[T], load: Callable[[T], R]) -> Iterator[R]:
    """``load(item)`` for each item in order, the next one loading in a thread meanwhile.

    Decoding (I/O, PIL, NumPy: mostly outside the GIL) then overlaps with the network
    working on the current batch.
    """
    with ThreadPoolExecutor(max_workers=1) as loader:
        it = iter(items)
        first = next(it, _END)
        pending = loader.submit(load, first) if first is not _END else None
        while pending is not None:
            result = pending.result()
            nxt = next(it, _END)
            pending = loader.submit(load, nxt) if nxt is not _END else None
            yield result


def in_lanes(items: Iterable[T], work: Callable[[T], R], lanes: int) -> Iterator[R]:
    """``work(item)`` for each item, ``lanes`` items at a time on their own threads; results in order.

    The pipeline lanes of the thread policy (``artjudge.threads``): each lane does all the
    work of one batch (decode, prepare, network, head) while the other lanes do theirs, so
    the cores stay busy with no hand-off between a decode thread and a network pool.
    """
    with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="artjudge-lane") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= lanes:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class Encoder(Protocol):
    """What :class:`FeatureExtractor` needs from an engine (``MultiScaleEncoder`` or ``OnnxEncoder``)."""

    engine: str

    def encode_array(
        self, x: np.ndarray, *, keep_trunk: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass
class FeatureBatch:
    """Features for a batch of images, row-aligned with the inputs."""

    pooled: np.ndarray  # (B, POOLED_DIM) float32
    handcrafted: np.ndarray  # (B, n_hand) float32
    trunk: np.ndarray  # (B, 192, r/32, r/32) float16

    def __len__(self) -> int:
        return int(self.pooled.shape[0])

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        import torch

        trunk = torch.from_numpy(self.trunk.astype(np.float32)) if self.trunk.size else None
        return torch.from_numpy(self.pooled), torch.from_numpy(self.handcrafted), trunk

    @staticmethod
    def concat(batches: Sequence[FeatureBatch]) -> FeatureBatch:
        return FeatureBatch(
            pooled=np.concatenate([b.pooled for b in batches]),
            handcrafted=np.concatenate([b.handcrafted for b in batches]),
            trunk=np.concatenate([b.trunk for b in batches]),
        )

    def take(self, idx: np.ndarray | Sequence[int]) -> FeatureBatch:
        return FeatureBatch(self.pooled[idx], self.handcrafted[idx], self.trunk[idx])


class FeatureExtractor:
    """Encodes PIL images at one resolution; optionally caches by content hash."""

    def __init__(
        self,
        resolution: int,
        *,
        encoder: Encoder | None = None,
        cache: FeatureCache | None = None,
        threads: int = 2,
        keep_trunk: bool = True,
    ) -> None:
        self.resolution = resolution
        self.keep_trunk = keep_trunk
        if encoder is None:  # training and the torch engine; the scorer passes its engine's encoder
            from artjudge.features.encoder import MultiScaleEncoder

            encoder = MultiScaleEncoder()
        self.encoder: Encoder = encoder
        self.cache = cache
        self.threads = threads
        self._pool = ThreadPoolExecutor(max_workers=threads)

    def _prepare(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        """Per-image CPU work that can run beside the network: resize/normalise and measures."""
        tensor = preprocess_array([image], self.resolution)[0]
        return tensor, handcrafted_vector(image)

    def lane_encoder(self) -> Encoder | None:
        """The engine's single-threaded encoder for pipeline lanes, or None (torch: one lane only)."""
        make = getattr(self.encoder, "lane_encoder", None)
        return make() if make is not None else None

    def encode(
        self, images: Sequence[Image.Image], hashes: Sequence[str | None] | None = None, *, lane: bool = False
    ) -> FeatureBatch:
        """Features for ``images``; rows whose hash is cached skip the network entirely.

        ``lane=True`` (a pipeline lane's call): everything runs on the calling thread, the
        network on the single-threaded lane encoder, the other lanes using the other cores.
        """
        n = len(images)
        hashes = list(hashes) if hashes is not None else [None] * n
        cached: dict[int, dict[str, np.ndarray]] = {}
        if self.cache is not None:
            for i, h in enumerate(hashes):
                if h:
                    entry = self.cache.get(h)
                    if entry is not None and (not self.keep_trunk or "trunk" in entry):
                        cached[i] = entry
        todo = [i for i in range(n) if i not in cached]
        fresh: dict[int, dict[str, np.ndarray]] = {}
        if todo:
            encoder = self.encoder
            lane_encoder = self.lane_encoder() if lane else None
            if lane_encoder is not None:
                encoder = lane_encoder
                x = preprocess_array([images[i] for i in todo], self.resolution)
                hand = [handcrafted_vector(images[i]) for i in todo]
            else:
                prepared = list(self._pool.map(self._prepare, [images[i] for i in todo]))
                x = np.stack([p[0] for p in prepared])
                hand = [p[1] for p in prepared]
            pooled_raw, trunk_raw = encoder.encode_array(x, keep_trunk=self.keep_trunk)
            pooled = pooled_raw.astype(np.float32)
            trunk = trunk_raw.astype(np.float16) if trunk_raw is not None else None
            for row, i in enumerate(todo):
                fresh[i] = {"pooled": pooled[row], "handcrafted": hand[row]}
                if trunk is not None:
                    fresh[i]["trunk"] = trunk[row]
                h = hashes[i]
                if self.cache is not None and h:
                    self.cache.put(h, fresh[i])
        rows = [cached.get(i) or fresh[i] for i in range(n)]
        return FeatureBatch(
            pooled=np.stack([r["pooled"] for r in rows]).astype(np.float32),
            handcrafted=np.stack([r["handcrafted"] for r in rows]).astype(np.float32),
            trunk=(
                np.stack([r["trunk"] for r in rows]).astype(np.float16)
                if self.keep_trunk
                else np.zeros((n, 0), dtype=np.float16)
            ),
        )

    def encode_stream(
        self,
        items: Iterable[tuple[Image.Image, str | None]],
        *,
        batch_size: int = 16,
    ) -> Iterator[FeatureBatch]:
        """Encode an iterable of (image, hash) in batches, yielding each batch's features."""
        buf: list[tuple[Image.Image, str | None]] = []
        for item in items:
            buf.append(item)
            if len(buf) == batch_size:
                yield self.encode([b[0] for b in buf], [b[1] for b in buf])
                buf = []
        if buf:
            yield self.encode([b[0] for b in buf], [b[1] for b in buf])

    def encode_paths(
        self,
        paths: Sequence[str],
        *,
        batch_size: int = 16,
        progress: Callable[[int], None] | None = None,
        flip: bool = False,
    ) -> FeatureBatch:
        """Load, hash and encode files, decoding the next batch while this one encodes."""
        from artjudge.io import load_image

        batches: list[FeatureBatch] = []
        chunks = [list(paths[i : i + batch_size]) for i in range(0, len(paths), batch_size)]

        def load_chunk(chunk: list[str]) -> list[tuple[Image.Image, str]]:
            loaded = [load_image(p) for p in chunk]
            if flip:  # mirrored copies for augmentation; hashed apart from the originals
                return [
                    (li.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), li.sha256 + "-flip")
                    for li in loaded
                ]
            return [(li.image, li.sha256) for li in loaded]

        for current in prefetched(chunks, load_chunk):
            batches.append(self.encode([c[0] for c in current], [c[1] for c in current]))
            if progress is not None:
                progress(len(current))
        if not batches:
            raise ValueError("no images to encode")
        return FeatureBatch.concat(batches)
