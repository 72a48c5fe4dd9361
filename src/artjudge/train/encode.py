"""Encoding works for training through the pipeline that scores them.

Training used to encode on PyTorch eager with full-size decoding, one batch at a time:
about 1.9 images a second, while ``EmbeddedScorer.assess_many`` scores the same images at
15-40 a second. Here training takes the scorer's own pieces: the verified ONNX Runtime
encoder (PyTorch only where onnxruntime is missing), lean decoding at the scorer's decode
target (model input on the short side, the evidence measures' detail size on the long side),
the pipeline lanes of :mod:`artjudge.threads`, and the same content-hash feature cache, so a
work already assessed is not encoded again and a model learns from exactly the features it
will be scored with. The rubric's evidence is measured in the same lane, on the same decoded
copy, while it is in memory.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from artjudge.features.cache import FeatureCache
from artjudge.features.evidence import DETAIL_SIDE
from artjudge.features.extract import FeatureBatch, FeatureExtractor, cache_key, in_lanes
from artjudge.io import LoadedImage, load_image
from artjudge.threads import apply_policy, policy_for
from artjudge.train.rubric_data import evidence_values

__all__ = ["EncodedWorks", "encode_works", "line_progress", "training_extractor"]

MAX_PENDING = 8  # chunks decoded for the evidence thread and not yet measured (16 works each)


@dataclass
class EncodedWorks:
    """Features of every work, row-aligned with the paths, and their evidence when asked for."""

    features: FeatureBatch
    evidence: list[dict[str, float]] | None
    engine: str


def training_extractor(
    resolution: int, *, keep_trunk: bool, cache_dir: str | os.PathLike[str] | None = None
) -> tuple[FeatureExtractor, int]:
    """The scorer's feature extractor and its lane count: ONNX Runtime, else PyTorch in one lane.

    The scorer's thread policy is applied to the process as ``EmbeddedScorer`` applies it
    (BLAS on one thread): the closed-form fits after encoding are small dense problems, and
    multi-threaded BLAS on a loaded machine ran them 20x slower (eigh of 192 x 192: 0.77 s
    against 0.03 s).
    """
    policy = apply_policy(policy_for())
    lanes = 1
    try:
        from artjudge.features.onnx_encoder import OnnxEncoder
        from artjudge.models.weights import ENCODER_ONNX, read_verified

        encoder: object = OnnxEncoder(read_verified(ENCODER_ONNX), policy=policy)
        lanes = max(1, policy.lanes)
    except ImportError:  # onnxruntime missing: training has torch, so the torch encoder does it
        from artjudge.features.encoder import MultiScaleEncoder

        encoder = MultiScaleEncoder()
    cache = FeatureCache(cache_dir, encoder_key=cache_key(resolution))
    extractor = FeatureExtractor(
        resolution,
        encoder=encoder,  # type: ignore[arg-type]
        cache=cache,
        threads=policy.compute,
        keep_trunk=keep_trunk,
    )
    return extractor, lanes


def encode_works(
    paths: Sequence[str],
    resolution: int,
    *,
    keep_trunk: bool = False,
    flip: bool = False,
    evidence: bool | Sequence[bool] = False,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 16,
    progress: Callable[[int], None] | None = None,
) -> EncodedWorks:
    """Decode, encode (and measure) every work in the scorer's lanes; rows follow ``paths``.

    ``evidence``: measure every work's evidence (True), or only the works whose flag is set
    (one flag per path: the graded works, not the held-out ones); ``EncodedWorks.evidence``
    then holds one dict per measured work, in order. ``flip`` encodes mirrored copies
    (augmentation), cached under their own key; evidence is then not measured (it describes
    the work as graded, not its mirror image).
    """
    if not paths:
        raise ValueError("no images to encode")
    extractor, lanes = training_extractor(resolution, keep_trunk=keep_trunk, cache_dir=cache_dir)
    target = (resolution, max(resolution, DETAIL_SIDE))
    root = None if cache_dir is None else Path(cache_dir)
    flags = [bool(evidence)] * len(paths) if isinstance(evidence, bool) else [bool(f) for f in evidence]
    if flip:
        flags = [False] * len(paths)

    # One thread measures the evidence while the lanes decode and encode: the network runs
    # without the GIL, the measures hold it for many small NumPy steps, and two lanes that
    # both measured contended for it. Memory stays bounded: a lane waits when MAX_PENDING
    # chunks' decoded images already await measuring.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="artjudge-evidence") as measurer:
        pending: deque[Future[list[dict[str, float]]]] = deque()
        room = threading.Semaphore(MAX_PENDING)

        def measure(loaded: list[LoadedImage]) -> list[dict[str, float]]:
            try:
                return evidence_values(loaded, root)
            finally:
                room.release()

        def work(chunk: list[tuple[str, bool]]) -> tuple[FeatureBatch, Future[list[dict[str, float]]] | None]:
            loaded: list[LoadedImage] = [load_image(p, target_size=target) for p, _ in chunk]
            measured = [li for li, (_, m) in zip(loaded, chunk, strict=True) if m]
            job = None
            if measured:
                room.acquire()
                job = measurer.submit(measure, measured)
            images = [li.image for li in loaded]
            hashes = [li.sha256 for li in loaded]
            if flip:
                images = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in images]
                hashes = [h + "-flip" for h in hashes]
            return extractor.encode(images, hashes, lane=lanes > 1), job

        items = list(zip(paths, flags, strict=True))
        chunks = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
        batches: list[FeatureBatch] = []
        for feats, job in in_lanes(chunks, work, lanes):
            batches.append(feats)
            if job is not None:
                pending.append(job)
            if progress is not None:
                progress(len(feats))
        measured = [values for job in pending for values in job.result()]
    engine = str(getattr(extractor.encoder, "engine", "torch"))
    return EncodedWorks(FeatureBatch.concat(batches), measured if any(flags) else None, engine)


@contextmanager
def line_progress(total: int, desc: str) -> Iterator[Callable[[int], None]]:
    """A progress callback: a live bar on a terminal, clean lines in a log file.

    A redrawn bar written to a file is one line with a hundred carriage returns; when stderr
    is not a TTY, progress is one line per tenth of the work instead.
    """
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        with tqdm(total=total, unit="img", desc=desc) as bar:
            yield bar.update
        return
    done = 0
    next_mark = 0

    def step(n: int) -> None:
        nonlocal done, next_mark
        done += n
        if done >= next_mark or done == total:
            print(f"{desc}: {done}/{total} images", file=sys.stderr, flush=True)
            next_mark = done + max(1, total // 10)

    yield step
