"""The distilled student as a scorer: ``artjudge.load("student:student.pt")``.

``artjudge distill`` trains a small MLP on frozen image features (``artjudge.train.student``).
A student can score images only if the features it was trained on can be recomputed from
an image, so the file records its feature extractor: a student trained on the default
scorer's ``embed()`` (tag :data:`DEFAULT_EMBED`, with that scorer's id and version) scores
images through the same embed path; one trained on a user's own ``features.csv`` cannot,
and loading it as a scorer says so.

The file is ``torch.save`` of tensors, numbers and JSON strings (read back with
``weights_only=True``) plus ``student.pt.sha256``, checked on every load.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from artjudge.errors import ArtjudgeError, ModelNotAvailable
from artjudge.models.base import NO_CONSISTENCY, BaseScorer, RecordCritic, ScorerInfo, make_info
from artjudge.models.weights import load_weights_file
from artjudge.record import Assessment, Failure, ModelInfo, ScoreDistribution

if TYPE_CHECKING:
    from artjudge.io import LoadedImage
    from artjudge.models.embedded import EmbeddedScorer

STUDENT_FORMAT = "artjudge-student"
STUDENT_FORMAT_VERSION = 2
#: Feature-extractor tag of a student trained on ``artjudge.load("default").embed()``.
DEFAULT_EMBED = "artjudge-default-embed"
#: Tag of a student trained on a features table the user supplied.
USER_FEATURES = "user-features"


def build_student_net(d: int, hidden: int, dropout: float) -> nn.Sequential:
    """The student network; one definition for training and for scoring."""
    return nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, 1))


@dataclass
class StudentFile:
    """What a student file holds, as read (and hash-checked) from disk."""

    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float
    meta: dict[str, Any] = field(default_factory=dict)

    def net(self) -> nn.Sequential:
        net = build_student_net(len(self.x_mean), int(self.config["hidden"]), float(self.config["dropout"]))
        net.load_state_dict(self.state_dict)
        return net.eval()


def read_student_file(path: str | Path) -> StudentFile:
    """Read a student file, refusing one with a bad hash or that is not a student."""
    p = Path(path).expanduser()
    blob = load_weights_file(p)
    if blob.get("format") != STUDENT_FORMAT:
        raise ModelNotAvailable(f"{p}: not a distilled student file (no '{STUDENT_FORMAT}' format tag)")
    if int(blob.get("format_version") or 0) > STUDENT_FORMAT_VERSION:
        raise ModelNotAvailable(
            f"{p}: student format {blob.get('format_version')} is newer than this "
            f"artjudge reads ({STUDENT_FORMAT_VERSION}); upgrade artjudge"
        )
    return StudentFile(
        config=json.loads(blob["config_json"]),
        state_dict=dict(blob["state_dict"]),
        x_mean=blob["x_mean"].double().numpy(),
        x_std=blob["x_std"].double().numpy(),
        y_mean=float(blob["y_mean"]),
        y_std=float(blob["y_std"]),
        meta=json.loads(blob["meta_json"]),
    )


def to_score_scale(raw: np.ndarray, scale: dict[str, Any]) -> np.ndarray:
    """The student's output on 0-100: ``(raw - lo) / (hi - lo) * 100``, clipped.

    ``lo``/``hi`` are recorded at training: 0 and 100 when the pool's scores were already on
    0-100, else the range of the targets (Elo) it was trained on.
    """
    lo, hi = float(scale["lo"]), float(scale["hi"])
    return np.clip((np.asarray(raw, float) - lo) / ((hi - lo) or 1.0) * 100.0, 0.0, 100.0)


class StudentScorer(BaseScorer):
    """A distilled student behind the :class:`~artjudge.models.base.Scorer` protocol.

    Features come from ``embedder`` (the default embedded scorer, whose version must match
    the one the student was trained on); ``std`` is the student's residual RMSE on its
    training rows, on 0-100, the same for every image (it has no per-image uncertainty).
    """

    def __init__(
        self,
        student: StudentFile,
        embedder: EmbeddedScorer,
        *,
        source: str,
        digest: str,
        critic: RecordCritic | None = None,
    ) -> None:
        self.student = student
        self.embedder = embedder
        self.net = student.net()
        self.critic = critic
        self.source = source
        self.model_id = f"student:{Path(source).name}"
        self.model_version = digest[:12]
        self.version = self.model_version
        self.scale: dict[str, Any] = dict(student.meta["output_scale"])
        self.residual = float(student.meta.get("residual_rmse", 0.0))

    def info(self) -> ScorerInfo:
        m = self.student.meta
        fm = m.get("feature_model") or {}
        what = (
            "the judge's pseudo-score, mapped from the pool's 0-100 scores"
            if self.scale.get("kind") == "pool-score"
            else f"the judge's Elo mapped linearly onto 0-100 over the pool's range [{self.scale['lo']:.0f}, "
            f"{self.scale['hi']:.0f}]"
        )
        return make_info(
            id=self.model_id,
            version=self.model_version,
            kind="student",
            score_meaning=f"a distilled student's prediction of {what}; std is its in-sample residual RMSE",
            training_data=(
                f"judge {m.get('judge', '?')}'s pairwise calls on {m.get('n_items', '?')} items against "
                f"pool {m.get('pool', '?')}; features: {fm.get('id', '?')} {fm.get('version', '?')} embed()"
            ),
            card=m,
            unsupported={
                "prompt": NO_CONSISTENCY,
                "reference": NO_CONSISTENCY,
                "attributes": "a student learns the overall score only",
                **(
                    {"critique": "no critic attached; load it with artjudge.load('student:PATH')"}
                    if self.critic is None
                    else {}
                ),
            },
        )

    def _predict(self, feats: np.ndarray) -> np.ndarray:
        s = self.student
        x = torch.from_numpy(((feats - s.x_mean) / s.x_std).astype(np.float32))
        with torch.inference_mode():
            raw = self.net(x).squeeze(-1).double().numpy() * s.y_std + s.y_mean
        return to_score_scale(raw, self.scale)

    def _score_batch(self, chunk: list[Any], critique: bool, skip_errors: bool) -> list[Assessment | Failure]:
        """One embed call over ``chunk`` (the base class batches and streams)."""
        results: list[Assessment | Failure | None] = [None] * len(chunk)
        loaded: list[tuple[int, LoadedImage]] = []
        t0 = time.perf_counter()
        for i, item in enumerate(chunk):
            try:
                loaded.append((i, self.embedder.load_input(item)))
            except ArtjudgeError as err:
                if not skip_errors:
                    raise
                results[i] = Failure(
                    input=str(item) if not isinstance(item, bytes) else "<upload>", error=str(err)
                )
        if loaded:
            scores = self._predict(self.embedder.embed_loaded([li for _, li in loaded]))
            dt = (time.perf_counter() - t0) / len(loaded)
            note = (
                "std: the student's residual RMSE on its training rows (in-sample, so optimistic), "
                "the same for every image"
            )
            for (i, li), score in zip(loaded, scores, strict=True):
                rec = Assessment(
                    input=li.source,
                    sha256=li.sha256,
                    model=ModelInfo(self.model_id, self.model_version),
                    overall=ScoreDistribution(score=round(float(score), 4), std=round(self.residual, 4)),
                    notes=[*li.notes, note],
                    timings={"score_s": dt},
                )
                if critique:
                    assert self.critic is not None
                    self.critic(li.image, rec)
                results[i] = rec
        return [r for r in results if r is not None]


def load_student_scorer(
    path: str | Path, *, critic: RecordCritic | None = None, **kwargs: Any
) -> StudentScorer:
    """A student file as a scorer; kwargs (cache, threads, max_pixels) go to the embedded feature model."""
    from artjudge.io.files import sha256_file
    from artjudge.models.embedded import load_embedded

    p = Path(path).expanduser()
    student = read_student_file(p)
    tag = student.meta.get("feature_extractor")
    if tag != DEFAULT_EMBED:
        raise ModelNotAvailable(
            f"{p}: this student was trained on {'a user features table' if tag == USER_FEATURES else repr(tag)}, "
            "which artjudge cannot compute from an image; retrain it with `artjudge distill` without --features "
            "(then it uses the default scorer's embed())"
        )
    fm = student.meta.get("feature_model") or {}
    embedder = load_embedded(str(fm.get("name", "default")), **kwargs)
    # A student written before versions carried the folder digest recorded the card's version alone.
    legacy = "+" not in str(fm.get("version")) and fm.get("version") == embedder.card.get("version")
    if embedder.model_id != fm.get("id") or (fm.get("version") != embedder.model_version and not legacy):
        raise ModelNotAvailable(
            f"{p}: trained on features of {fm.get('id')} {fm.get('version')}, but this artjudge ships "
            f"{embedder.model_id} {embedder.model_version}; its features differ, so retrain the student"
        )
    recorded = student.meta.get("feature_dim")
    if recorded is not None and int(recorded) != len(student.x_mean):
        raise ModelNotAvailable(f"{p}: feature width does not match its recorded feature_dim")
    return StudentScorer(student, embedder, source=str(p), digest=sha256_file(p), critic=critic)


def is_student_file(path: str | Path) -> bool:
    """True when ``path`` is a file whose content carries the student format tag (read safely)."""
    p = Path(path).expanduser()
    if not p.is_file() or p.name == "head.pt":
        return False
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(blob, dict) and blob.get("format") == STUDENT_FORMAT


__all__ = [
    "DEFAULT_EMBED",
    "USER_FEATURES",
    "StudentFile",
    "StudentScorer",
    "build_student_net",
    "is_student_file",
    "load_student_scorer",
    "read_student_file",
    "to_score_scale",
]
