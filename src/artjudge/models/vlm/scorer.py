"""The VLM behind the scorer interface: ``assess`` / ``assess_many`` return Assessment records.

Many images go through one forward pass (left padding keeps every score position at a
known index); each image's overall score and, only when the checkpoint was trained on
them, its attribute scores are read as distributions over the score tokens.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artjudge.errors import ArtjudgeError, InputError
from artjudge.io import ImageSource, load_image
from artjudge.models.base import NO_CONSISTENCY, BaseScorer, RecordCritic, ScorerInfo, make_info
from artjudge.models.vlm.backbone import Sample
from artjudge.models.vlm.core import VLM, load_vlm
from artjudge.models.weights import SEAL_FILE, folder_digest, versioned
from artjudge.record import Assessment, Failure, ModelInfo, ScoreDistribution
from artjudge.scoring import LEVEL_NAMES, LEVEL_SCORES, distribution_std, expectation

ImageLike = ImageSource  # a path, file bytes, a PIL image or an HxW(xC) uint8 array
LEVEL_BINS = "levels:" + ",".join(LEVEL_NAMES)


def open_image(item: ImageLike) -> tuple[str, str, Image.Image]:
    """(input label, sha256, RGB image) through :func:`artjudge.io.load_image`, the one loader.

    A PIL image opened from a file keeps its file name as the label.
    """
    name = None
    if isinstance(item, Image.Image):
        name = str(getattr(item, "filename", "") or "") or None
    loaded = load_image(item, name=name)
    return loaded.source, loaded.sha256, loaded.image


class VLMScorer(BaseScorer):
    """Token-As-Score (101 bins) or Level-As-Score (5 levels) read from a VLM.

    Implements :class:`artjudge.models.base.Scorer`; ``critic`` (injected by
    ``artjudge.load``, usually the VLM critic on the same model) writes critiques.
    """

    def __init__(
        self, vlm: VLM, batch_size: int = 8, mode: str = "token", critic: RecordCritic | None = None
    ) -> None:
        if mode not in ("token", "level"):
            raise InputError("mode", f"{mode!r} is not one of token, level")
        if mode == "level" and vlm.level_tokens is None:
            raise InputError("mode", "this checkpoint has no level tokens; use mode='token'")
        self.vlm = vlm
        self.batch_size = max(1, int(batch_size))
        self.mode = mode
        self.critic = critic
        #: The sealed folder's digest (checked on load), "" for an unsealed folder or a hub id.
        self.digest = ""

    @property
    def model_id(self) -> str:
        return f"vlm:{self.vlm.name}"

    @property
    def model_version(self) -> str:
        """The checkpoint's version, plus its folder's digest when the folder is sealed (``seal.json``)."""
        version = str(self.vlm.meta.version)
        return versioned(version, self.digest) if self.digest else version

    @property
    def version(self) -> str:
        return self.model_version

    def info(self) -> ScorerInfo:
        """Id, version, what the score means and what taught it (the checkpoint's artjudge_vlm.json)."""
        m = self.vlm.meta
        trained = m.levels if self.mode == "level" else m.overall
        meaning = (
            "expected score over the 5 quality levels mapped onto 0-100 (Level-As-Score)"
            if self.mode == "level"
            else "expected score over the 101 score tokens 0-100 (Token-As-Score)"
        )
        if not trained:
            meaning += (
                "; this checkpoint was not fine-tuned to score, so the number carries no trained meaning"
            )
        stages = ", ".join(str(st.get("stage", st.get("tag", "?"))) for st in m.stages) or "none"
        return make_info(
            id=self.model_id,
            version=self.model_version,
            kind="vlm",
            score_meaning=meaning,
            training_data=f"base {m.base or self.vlm.name}; artjudge fine-tuning stages: {stages}",
            attributes=self.attributes,
            card=m.to_dict(),
            unsupported=self._unsupported(),
        )

    def _unsupported(self) -> dict[str, str]:
        """What this VLM cannot do: no consistency component; critique only with a critic; its attributes."""
        out = {"prompt": NO_CONSISTENCY, "reference": NO_CONSISTENCY}
        if self.critic is None:
            out["critique"] = "no critic attached; load it with artjudge.load('vlm:PATH')"
        if not self.attributes:
            out["attributes"] = "this checkpoint was not fine-tuned on attribute scores"
        return out

    @property
    def attributes(self) -> list[str]:
        return list(self.vlm.meta.attributes)

    def _notes(self) -> list[str]:
        m = self.vlm.meta
        trained = m.levels if self.mode == "level" else m.overall
        if not trained:
            return [
                f"{self.model_id}: not fine-tuned for {self.mode} scoring with artjudge; "
                "the score tokens carry no trained meaning"
            ]
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
            chunk = jobs[start : start + self.batch_size]
            overall_ids = (
                self.vlm.level_tokens.ids
                if self.mode == "level" and self.vlm.level_tokens
                else self.vlm.score_tokens.ids
            )
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

    def _record(
        self, label: str, digest: str, dists: dict[str | None, np.ndarray], seconds: float
    ) -> Assessment:
        p = dists[None]
        if self.mode == "level":
            overall = ScoreDistribution(
                score=expectation(p, LEVEL_SCORES),
                std=distribution_std(p, LEVEL_SCORES),
                distribution=[float(x) for x in p],
                bins=LEVEL_BINS,
            )
        else:
            overall = ScoreDistribution(
                score=expectation(p), std=distribution_std(p), distribution=[float(x) for x in p]
            )
        attrs = {
            k: ScoreDistribution(
                score=expectation(q), std=distribution_std(q), distribution=[float(x) for x in q]
            )
            for k, q in dists.items()
            if k is not None
        }
        return Assessment(
            input=label,
            sha256=digest,
            model=ModelInfo(self.model_id, self.model_version),
            overall=overall,
            attributes=attrs,
            notes=self._notes(),
            timings={"score_s": seconds},
        )

    def _score_batch(
        self, chunk: list[ImageLike], critique: bool, skip_errors: bool
    ) -> list[Assessment | Failure]:
        """One forward pass over ``chunk`` (the base class batches and streams)."""
        results: list[Assessment | Failure | None] = [None] * len(chunk)
        loaded: list[tuple[int, str, str, Image.Image]] = []
        for i, item in enumerate(chunk):
            try:
                label, digest, img = open_image(item)
                loaded.append((i, label, digest, img))
            except ArtjudgeError as err:
                if not skip_errors:
                    raise
                results[i] = Failure(
                    input=str(item) if not isinstance(item, bytes) else "<upload>", error=str(err)
                )
        if loaded:
            t0 = time.perf_counter()
            dists = self.distributions([x[3] for x in loaded])
            dt = (time.perf_counter() - t0) / len(loaded)
            for (i, label, digest, img), d in zip(loaded, dists, strict=True):
                rec = self._record(label, digest, d, dt)
                if critique:
                    assert self.critic is not None
                    t1 = time.perf_counter()
                    self.critic(img, rec)
                    rec.timings["critique_s"] = time.perf_counter() - t1
                results[i] = rec
        return [r for r in results if r is not None]

    @torch.no_grad()
    def embed(self, images: Sequence[ImageLike]) -> np.ndarray:
        """Mean of the last hidden layer over the scoring prompt's tokens, per image."""
        feats = []
        for start in range(0, len(images), self.batch_size):
            imgs = [open_image(x)[2] for x in images[start : start + self.batch_size]]
            enc = self.vlm.encoder.encode([self.vlm.score_sample(im) for im in imgs])
            inputs = self.vlm.encoder.to_device(enc["inputs"])
            out = self.vlm.model(**inputs, output_hidden_states=True)
            h = out.hidden_states[-1].float()
            m = inputs["attention_mask"].unsqueeze(-1).to(h.dtype)
            feats.append(((h * m).sum(1) / m.sum(1)).cpu().numpy())
        return np.concatenate(feats, axis=0) if feats else np.zeros((0, 0))


def load_vlm_scorer(
    path: str | os.PathLike[str],
    *,
    batch_size: int = 8,
    mode: str = "token",
    critic: RecordCritic | None = None,
    **kw: Any,
) -> VLMScorer:
    """``artjudge.load("vlm:PATH")`` lands here; ``kw`` goes to :func:`load_vlm` (dtype, device...).

    A sealed folder (``seal.json``, written by ``artjudge merge-vlm`` and the VLM trainer) has
    every file checked against its seal before loading, and its digest joins the version; an
    unsealed one (a bare transformers checkpoint) is loaded as it is, its version the checkpoint's.
    """
    folder = Path(path).expanduser()
    digest = folder_digest(folder) if (folder / SEAL_FILE).is_file() else ""
    scorer = VLMScorer(load_vlm(path, **kw), batch_size=batch_size, mode=mode, critic=critic)
    scorer.digest = digest
    return scorer
