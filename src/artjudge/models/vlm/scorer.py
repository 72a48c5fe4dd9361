"""The VLM behind the scorer interface: ``assess`` / ``assess_many`` return Assessment records.

Many images go through one forward pass (left padding keeps every score position at a
known index); each image's overall score and, only when the checkpoint was trained on
them, its attribute scores are read as distributions over the score tokens.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from artjudge.errors import InputError
from artjudge.models.vlm.backbone import Sample
from artjudge.models.vlm.core import VLM, load_vlm
from artjudge.record import Assessment, Failure, ModelInfo, ScoreDistribution
from artjudge.scoring import LEVEL_NAMES, LEVEL_SCORES, distribution_std, expectation

ImageLike = str | os.PathLike[str] | Image.Image | np.ndarray
LEVEL_BINS = "levels:" + ",".join(LEVEL_NAMES)


def open_image(item: ImageLike) -> tuple[str, str, Image.Image]:
    """(input label, sha256, RGB image) for a path, a PIL image or an HxWx3 array."""
    if isinstance(item, Image.Image):
        img = item
        label = str(getattr(item, "filename", "") or "<image>")
        digest = hashlib.sha256(img.tobytes()).hexdigest()
    elif isinstance(item, np.ndarray):
        if item.ndim not in (2, 3):
            raise InputError("<array>", f"image array must be HxW or HxWxC, got shape {item.shape}")
        img = Image.fromarray(np.ascontiguousarray(item).astype(np.uint8))
        label = "<array>"
        digest = hashlib.sha256(item.tobytes()).hexdigest()
    else:
        label = str(item)
        p = Path(item)
        if not p.is_file():
            raise InputError(label, "no such file")
        data = p.read_bytes()
        if not data:
            raise InputError(label, "file is empty (0 bytes)")
        digest = hashlib.sha256(data).hexdigest()
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as err:
            raise InputError(label, f"not a readable image ({err})") from err
        img = ImageOps.exif_transpose(img) or img
    if min(img.size) < 2:
        raise InputError(label, f"image is too small to judge ({img.size[0]}x{img.size[1]})")
    if img.mode != "RGB":
        img = img.convert("RGBA").convert("RGB") if "A" in img.getbands() or img.mode == "P" else img.convert("RGB")
    return label, digest, img


class VLMScorer:
    """Token-As-Score (101 bins) or Level-As-Score (5 levels) read from a VLM."""

    def __init__(self, vlm: VLM, batch_size: int = 8, mode: str = "token") -> None:
        if mode not in ("token", "level"):
            raise InputError("mode", f"{mode!r} is not one of token, level")
        if mode == "level" and vlm.level_tokens is None:
            raise InputError("mode", "this checkpoint has no level tokens; use mode='token'")
        self.vlm = vlm
        self.batch_size = max(1, int(batch_size))
        self.mode = mode

    @property
    def model_id(self) -> str:
        return f"vlm:{self.vlm.name}"

    @property
    def model_version(self) -> str:
        return str(self.vlm.meta.version)

    @property
    def attributes(self) -> list[str]:
        return list(self.vlm.meta.attributes)

    def _notes(self) -> list[str]:
        m = self.vlm.meta
        trained = m.levels if self.mode == "level" else m.overall
        if not trained:
            return [f"{self.model_id}: not fine-tuned for {self.mode} scoring with artjudge; "
                    "the score tokens carry no trained meaning"]
        return []

    def _samples(self, img: Image.Image) -> list[tuple[str | None, Sample]]:
        v = self.vlm
        main = v.level_sample(img) if self.mode == "level" else v.score_sample(img)
        out: list[tuple[str | None, Sample]] = [(None, main)]
        out += [(a, v.score_sample(img, attribute=a)) for a in self.attributes]
        return out

    def distributions(self, images: Sequence[Image.Image]) -> list[dict[str | None, np.ndarray]]:
        """Per image: {None: overall distribution, attribute: distribution}, batched."""
        jobs: list[tuple[int, str | None, Sample]] = []
        for i, img in enumerate(images):
            jobs += [(i, key, s) for key, s in self._samples(img)]
        res: list[dict[str | None, np.ndarray]] = [{} for _ in images]
        for start in range(0, len(jobs), self.batch_size):
            chunk = jobs[start:start + self.batch_size]
            overall_ids = (self.vlm.level_tokens.ids if self.mode == "level" and self.vlm.level_tokens
                           else self.vlm.score_tokens.ids)
            # overall and attribute samples use different token sets only in level mode
            groups: dict[bool, list[int]] = {}
            for j, (_, key, _s) in enumerate(chunk):
                groups.setdefault(key is None, []).append(j)
            for is_overall, idx in groups.items():
                ids = overall_ids if is_overall else self.vlm.score_tokens.ids
                probs = self.vlm.token_probs([chunk[j][2] for j in idx], ids)
                for row, j in zip(probs, idx, strict=True):
                    res[chunk[j][0]][chunk[j][1]] = row
        return res

    def _record(self, label: str, digest: str, dists: dict[str | None, np.ndarray],
                seconds: float) -> Assessment:
        p = dists[None]
        if self.mode == "level":
            overall = ScoreDistribution(score=expectation(p, LEVEL_SCORES), std=distribution_std(p, LEVEL_SCORES),
                                        distribution=[float(x) for x in p], bins=LEVEL_BINS)
        else:
            overall = ScoreDistribution(score=expectation(p), std=distribution_std(p),
                                        distribution=[float(x) for x in p])
        attrs = {k: ScoreDistribution(score=expectation(q), std=distribution_std(q),
                                      distribution=[float(x) for x in q])
                 for k, q in dists.items() if k is not None}
        return Assessment(input=label, sha256=digest, model=ModelInfo(self.model_id, self.model_version),
                          overall=overall, attributes=attrs, notes=self._notes(),
                          timings={"score_s": seconds})

    def assess(self, image: ImageLike, critique: bool = False) -> Assessment:
        out = self.assess_many([image])[0]
        if isinstance(out, Failure):  # pragma: no cover - skip_errors is False
            raise InputError(out.input, out.error)
        if critique:
            from artjudge.critique.vlm import VLMCritic

            out.critique = VLMCritic(self.vlm).critique(image, out).to_dict()
        return out

    def assess_many(self, images: Sequence[ImageLike], batch_size: int | None = None, progress: bool = False,
                    skip_errors: bool = False) -> list[Assessment | Failure]:
        """Score many inputs; a bad input raises, or with ``skip_errors`` becomes a Failure."""
        bs = batch_size or self.batch_size
        results: list[Assessment | Failure | None] = [None] * len(images)
        from tqdm import tqdm

        bar = tqdm(total=len(images), disable=not progress, unit="img", desc=self.model_id)
        for start in range(0, len(images), bs):
            loaded: list[tuple[int, str, str, Image.Image]] = []
            for i in range(start, min(start + bs, len(images))):
                try:
                    label, digest, img = open_image(images[i])
                    loaded.append((i, label, digest, img))
                except InputError as err:
                    if not skip_errors:
                        raise
                    results[i] = Failure(input=str(images[i]), error=str(err))
            if loaded:
                t0 = time.perf_counter()
                dists = self.distributions([x[3] for x in loaded])
                dt = (time.perf_counter() - t0) / len(loaded)
                for (i, label, digest, _), d in zip(loaded, dists, strict=True):
                    results[i] = self._record(label, digest, d, dt)
            bar.update(min(bs, len(images) - start))
        bar.close()
        return [r for r in results if r is not None]

    def __call__(self, images: Sequence[ImageLike]) -> list[float]:
        """Q-Align style: a list of images in, a list of overall scores out."""
        return [r.overall.score for r in self.assess_many(images) if isinstance(r, Assessment)]

    @torch.no_grad()
    def embed(self, images: Sequence[ImageLike]) -> np.ndarray:
        """Mean of the last hidden layer over the scoring prompt's tokens, per image."""
        feats = []
        for start in range(0, len(images), self.batch_size):
            imgs = [open_image(x)[2] for x in images[start:start + self.batch_size]]
            enc = self.vlm.encoder.encode([self.vlm.score_sample(im) for im in imgs])
            inputs = self.vlm.encoder.to_device(enc["inputs"])
            out = self.vlm.model(**inputs, output_hidden_states=True)
            h = out.hidden_states[-1].float()
            m = inputs["attention_mask"].unsqueeze(-1).to(h.dtype)
            feats.append(((h * m).sum(1) / m.sum(1)).cpu().numpy())
        return np.concatenate(feats, axis=0) if feats else np.zeros((0, 0))


def load_vlm_scorer(path: str | os.PathLike[str], *, batch_size: int = 8, mode: str = "token",
                    **kw: Any) -> VLMScorer:
    """``artjudge.load("vlm:PATH")`` lands here; ``kw`` goes to :func:`load_vlm` (dtype, device...)."""
    return VLMScorer(load_vlm(path, **kw), batch_size=batch_size, mode=mode)
