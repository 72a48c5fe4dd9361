"""The embedded scorer: EfficientNet-Lite0 features and a trained distribution head.

One class holds the whole scorer, Q-Align style: give it images, get Assessment
records. The same object serves the CLI, the HTTP service and the batch runner, so the
numbers they print are the numbers a benchmark measures. ``artjudge.load()`` builds it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artjudge import scoring
from artjudge.models.weights import load_checkpoint, resolve_checkpoint
from artjudge.errors import ArtjudgeError
from artjudge.features.cache import FeatureCache
from artjudge.features.extract import FeatureBatch, FeatureExtractor, cache_key, prefetched
from artjudge.io import LoadedImage, load_image
from artjudge.models.head import HeadConfig, ScoringHead
from artjudge.record import Assessment, Failure, ModelInfo, ScoreDistribution

ImageInput = str | Path | bytes | Image.Image | LoadedImage


class EmbeddedScorer:
    """The embedded scorer: EfficientNet-Lite0 features + a trained distribution head."""

    def __init__(
        self,
        head: ScoringHead,
        card: dict[str, Any],
        *,
        cache: bool | str | Path = False,
        threads: int | None = None,
        max_pixels: int | None = None,
    ) -> None:
        self.head = head.eval()
        self.card = card
        self.config: HeadConfig = head.config
        self.model_id = str(card.get("id", "artjudge-embedded"))
        self.model_version = str(card.get("version", "0"))
        self.max_pixels = max_pixels
        feature_cache = None
        if cache:
            root = None if cache is True else Path(cache)
            feature_cache = FeatureCache(root, encoder_key=cache_key(self.config.resolution))
        self.extractor = FeatureExtractor(self.config.resolution, cache=feature_cache, threads=threads or 2,
                                          keep_trunk=self.config.tune_top)
        # Attribute heads are reported only for targets a human label trained.
        self.attribute_targets = [t for t in self.config.targets if t != "overall"]

    # ------------------------------------------------------------------ loading inputs
    def _load(self, image: ImageInput) -> LoadedImage:
        if isinstance(image, LoadedImage):
            return image
        if isinstance(image, Path):
            image = str(image)
        return load_image(image, max_pixels=self.max_pixels)

    # ------------------------------------------------------------------ scoring
    def _records(self, loaded: Sequence[LoadedImage], feats: FeatureBatch, timings: dict[str, float]
                 ) -> list[Assessment]:
        t0 = time.perf_counter()
        with torch.inference_mode():
            p, h, tr = feats.tensors()
            logits = self.head(p, h, tr)
        probs = {t: torch.softmax(lg.double(), dim=-1).numpy() for t, lg in logits.items()}
        head_s = (time.perf_counter() - t0) / max(1, len(loaded))
        out = []
        for i, li in enumerate(loaded):
            dists = {t: self._distribution(pr[i]) for t, pr in probs.items()}
            out.append(Assessment(
                input=li.source,
                sha256=li.sha256,
                model=ModelInfo(self.model_id, self.model_version),
                overall=dists["overall"],
                attributes={t: dists[t] for t in self.attribute_targets},
                notes=list(li.notes),
                timings=dict(timings, head_s=head_s),
            ))
        return out

    @staticmethod
    def _distribution(p: np.ndarray) -> ScoreDistribution:
        return ScoreDistribution(
            score=round(float(scoring.expectation(p)), 4),
            std=round(float(scoring.distribution_std(p)), 4),
            distribution=[round(float(x), 6) for x in p],
        )

    def _score_loaded(self, loaded: Sequence[LoadedImage], *, critique: bool = False,
                      decode_s: float = 0.0) -> list[Assessment]:
        t0 = time.perf_counter()
        feats = self.extractor.encode([li.image for li in loaded], [li.sha256 for li in loaded])
        feat_s = (time.perf_counter() - t0) / max(1, len(loaded))
        records = self._records(loaded, feats, {"decode_s": decode_s, "features_s": feat_s})
        if critique:
            for li, rec in zip(loaded, records, strict=True):
                self._add_critique(li, rec)
        return records

    def _add_critique(self, loaded: LoadedImage, record: Assessment) -> None:
        from artjudge.critique import critique_record

        t0 = time.perf_counter()
        critique_record(loaded.image, record)
        record.timings["critique_s"] = time.perf_counter() - t0

    def assess(self, image: ImageInput, *, critique: bool = False) -> Assessment:
        """Score one image (path, bytes, PIL image); raises InputError on bad input."""
        t0 = time.perf_counter()
        loaded = self._load(image)
        decode_s = time.perf_counter() - t0
        record = self._score_loaded([loaded], critique=critique, decode_s=decode_s)[0]
        record.timings["total_s"] = time.perf_counter() - t0
        return record

    def iter_assess(
        self,
        images: Iterable[ImageInput],
        *,
        batch_size: int = 16,
        critique: bool = False,
        skip_errors: bool = True,
    ) -> Iterator[Assessment | Failure]:
        """Stream records in input order; decoding of the next batch overlaps the network."""

        def load_batch(batch: list[ImageInput]) -> tuple[list[LoadedImage | Failure], float]:
            t0 = time.perf_counter()
            res: list[LoadedImage | Failure] = []
            for item in batch:
                try:
                    res.append(self._load(item))
                except ArtjudgeError as err:
                    if not skip_errors:
                        raise
                    res.append(Failure(input=str(item) if not isinstance(item, bytes) else "<upload>",
                                       error=str(err)))
            return res, (time.perf_counter() - t0) / max(1, len(batch))

        def batches() -> Iterator[list[ImageInput]]:
            buf: list[ImageInput] = []
            for item in images:
                buf.append(item)
                if len(buf) == batch_size:
                    yield buf
                    buf = []
            if buf:
                yield buf

        for loaded, decode_s in prefetched(batches(), load_batch):
            good = [x for x in loaded if isinstance(x, LoadedImage)]
            records = iter(self._score_loaded(good, critique=critique, decode_s=decode_s) if good else [])
            for x in loaded:
                yield next(records) if isinstance(x, LoadedImage) else x

    def assess_many(
        self,
        images: Iterable[ImageInput],
        *,
        batch_size: int = 16,
        progress: bool = False,
        skip_errors: bool = False,
        critique: bool = False,
    ) -> list[Assessment | Failure]:
        """Score many images in batches; with ``skip_errors`` bad inputs become Failure records."""
        items = list(images)
        out: list[Assessment | Failure] = []
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(items), unit="img", desc="assess")
        for rec in self.iter_assess(items, batch_size=batch_size, critique=critique, skip_errors=skip_errors):
            out.append(rec)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        return out

    def __call__(self, images: Sequence[ImageInput]) -> list[float]:
        """Overall scores only, for quick use: ``scorer(["a.jpg", "b.jpg"])``."""
        return [r.overall.score for r in self.assess_many(images) if isinstance(r, Assessment)]

    def embed(self, images: Sequence[ImageInput], *, batch_size: int = 16) -> np.ndarray:
        """Standardised frozen features (pooled multi-scale + hand-crafted) per image."""
        rows = []
        for i in range(0, len(images), batch_size):
            loaded = [self._load(x) for x in images[i : i + batch_size]]
            feats = self.extractor.encode([li.image for li in loaded], [li.sha256 for li in loaded])
            p, h, _ = feats.tensors()
            with torch.inference_mode():
                rows.append(self.head.frozen_input(p, h).numpy())
        return np.concatenate(rows)

    def info(self) -> dict[str, Any]:
        """What ``GET /v1/models`` and ``artjudge models`` show: id, version, targets, card."""
        return {"id": self.model_id, "version": self.model_version, "kind": "embedded",
                "score_range": [0, 100], "lower_better": False,
                "attributes": self.attribute_targets, "card": self.card}


def load_embedded(model: str = "default", **kwargs: Any) -> EmbeddedScorer:
    folder = resolve_checkpoint(model)
    state, card = load_checkpoint(folder)
    config = HeadConfig(**card["config"]["head"])
    head = ScoringHead(config)
    head.load_state_dict(state)
    return EmbeddedScorer(head, card, **kwargs)
