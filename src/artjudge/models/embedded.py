"""The embedded scorer: EfficientNet-Lite0 features and a trained distribution head.

One class holds the whole scorer, Q-Align style: give it images, get Assessment
records. The same object serves the CLI, the HTTP service and the batch runner, so the
numbers they print are the numbers a benchmark measures. ``artjudge.load()`` builds it.

Two inference engines compute the same numbers (docs/embedded-model.md, "Engines"):
``onnx`` (the default: ONNX Runtime, no torch needed) and ``torch`` (PyTorch eager, the
training code's own modules; the fallback). Torch is imported only for ``engine="torch"``,
for a checkpoint whose head has no ONNX graph, or for the consistency component.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
from PIL import Image

from artjudge import scoring
from artjudge.errors import ArtjudgeError, InputError, ModelNotAvailable
from artjudge.features.cache import FeatureCache
from artjudge.features.evidence import DETAIL_SIDE
from artjudge.features.extract import Encoder, FeatureBatch, FeatureExtractor, cache_key, in_lanes, prefetched
from artjudge.io import LoadedImage, load_image
from artjudge.models.base import (
    BaseScorer,
    ConsistencyInput,
    RecordCritic,
    ScorerInfo,
    batched,
    make_info,
    module_available,
    no_critic_error,
)
from artjudge.models.head_config import HeadConfig, skill_notes, unskilled_targets
from artjudge.models.spec import parse_spec
from artjudge.models.weights import (
    ENCODER_ONNX,
    expected_sha256,
    folder_digest,
    read_card,
    read_verified,
    resolve_checkpoint,
    verify_sha256,
    versioned,
)
from artjudge.record import Assessment, Failure, ModelInfo, ScoreDistribution
from artjudge.scoring import intervals
from artjudge.threads import ThreadPolicy, apply_policy, policy_for

if TYPE_CHECKING:
    from artjudge.models.head import ScoringHead

#: The runtimes ``load(..., runtime=...)`` and ``--runtime`` accept (what runs the network); the first is the default.
RUNTIMES: tuple[str, ...] = ("onnx", "torch")
DEFAULT_RUNTIME = RUNTIMES[0]
#: Environment variable naming the runtime when the caller names none (a user's shell default).
RUNTIME_ENV = "ARTJUDGE_RUNTIME"
#: Deprecated names, kept for one release: the runtime was called the "engine".
ENGINES, DEFAULT_ENGINE, ENGINE_ENV = RUNTIMES, DEFAULT_RUNTIME, "ARTJUDGE_ENGINE"


def resolve_runtime(runtime: str | None, engine: str | None = None) -> str:
    """The runtime to use: ``runtime``, else the deprecated ``engine``, else ``$ARTJUDGE_RUNTIME``
    (or the deprecated ``$ARTJUDGE_ENGINE``), else ``onnx``; an unknown one is one line."""
    if engine is not None:
        import warnings

        warnings.warn("engine= is deprecated; use runtime=", DeprecationWarning, stacklevel=3)
    chosen = (
        runtime
        or engine
        or os.environ.get(RUNTIME_ENV, "").strip()
        or os.environ.get(ENGINE_ENV, "").strip()
        or DEFAULT_RUNTIME
    )
    if chosen not in RUNTIMES:
        raise InputError("runtime", f"{chosen!r} is not a runtime; choose {' or '.join(RUNTIMES)}")
    return chosen


class HeadRunner(Protocol):
    """What the scorer needs from a head, whichever engine runs it."""

    config: HeadConfig
    engine: str

    def probabilities(
        self, pooled: np.ndarray, handcrafted: np.ndarray, trunk: np.ndarray | None = None
    ) -> dict[str, np.ndarray]: ...

    def frozen_input(self, pooled: np.ndarray, handcrafted: np.ndarray) -> np.ndarray: ...


class TorchHead:
    """:class:`ScoringHead` behind the engine-neutral :class:`HeadRunner` calls (torch engine)."""

    engine = "torch"

    def __init__(self, head: ScoringHead) -> None:
        self.head = head.eval()
        self.config: HeadConfig = head.config

    def probabilities(
        self, pooled: np.ndarray, handcrafted: np.ndarray, trunk: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            tr = torch.from_numpy(trunk.astype(np.float32)) if trunk is not None and trunk.size else None
            logits = self.head(torch.from_numpy(pooled), torch.from_numpy(handcrafted), tr)
            return {t: torch.softmax(lg.double(), dim=-1).numpy() for t, lg in logits.items()}

    def error_scales(self, pooled: np.ndarray, handcrafted: np.ndarray) -> dict[str, np.ndarray]:
        """Per-row error scale of each closed-form target: its CV residual std, widened far from
        the graded works (what its card's ``cv_std_widened`` calibration multiplies)."""
        if not self.head.closed_targets:
            return {}
        import torch

        with torch.inference_mode():
            x = self.head.frozen_input(torch.from_numpy(pooled), torch.from_numpy(handcrafted))
            std = self.head.closed_form_scores(x)[1].numpy()
        return {t: std[:, j] for j, t in enumerate(self.head.closed_targets)}

    def frozen_input(self, pooled: np.ndarray, handcrafted: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.head.frozen_input(torch.from_numpy(pooled), torch.from_numpy(handcrafted)).numpy()


ImageInput = str | Path | bytes | Image.Image | LoadedImage

#: References kept decoded, and their signals, per ``iter_assess`` call: manifest rows often share
#: a few references; the bound keeps memory flat when every row names its own.
REFERENCE_CACHE = 8


@dataclass
class _Decoded:
    """One row after the loader thread: the image, its prompt, its decoded reference (or None)."""

    image: LoadedImage
    prompt: str | None
    reference: LoadedImage | None


def _label(item: Any) -> str:
    """How a failed input is named: the path as given, a decoded image's source, or <upload>."""
    if isinstance(item, LoadedImage):
        return item.source
    return str(item) if not isinstance(item, bytes) else "<upload>"


class _BatchLoader:
    """Decodes one batch of rows (each image and its reference) on the loader thread or a lane.

    References are kept decoded (the last :data:`REFERENCE_CACHE`, by path) because manifest
    rows often share a few; lanes share one loader, hence the lock.
    """

    def __init__(self, load: Callable[[ImageInput], LoadedImage], skip_errors: bool) -> None:
        self._load = load
        self.skip_errors = skip_errors
        self._refs: OrderedDict[str, LoadedImage | ArtjudgeError] = OrderedDict()
        self._lock = threading.Lock()

    def reference(self, ref: ImageInput) -> LoadedImage | ArtjudgeError:
        key = str(ref) if isinstance(ref, (str, Path)) else None
        with self._lock:
            if key is not None and key in self._refs:
                return self._refs[key]
            try:
                hit: LoadedImage | ArtjudgeError = self._load(ref)
            except ArtjudgeError as err:
                hit = err
            if key is not None:
                if len(self._refs) >= REFERENCE_CACHE:
                    self._refs.popitem(last=False)
                self._refs[key] = hit
            return hit

    def __call__(self, batch: list[ConsistencyInput]) -> tuple[list[_Decoded | Failure], float]:
        """The batch decoded (bad rows as Failures when ``skip_errors``) and the decode time per row."""
        t0 = time.perf_counter()
        res: list[_Decoded | Failure] = []
        for item in batch:
            label = _label(item.image)
            try:
                image = self._load(item.image)
            except ArtjudgeError as err:
                if not self.skip_errors:
                    raise
                res.append(Failure(input=label, error=str(err)))
                continue
            ref = None if item.reference is None else self.reference(item.reference)
            if isinstance(ref, ArtjudgeError):
                if not self.skip_errors:
                    raise InputError(label, f"reference {ref}")
                res.append(Failure(input=label, error=f"{label}: reference {ref}"))
                continue
            res.append(_Decoded(image, item.prompt or None, ref))
        return res, (time.perf_counter() - t0) / max(1, len(batch))


class EmbeddedScorer(BaseScorer):
    """The embedded scorer: EfficientNet-Lite0 features + a trained distribution head.

    Implements :class:`artjudge.models.base.Scorer`. ``critic`` writes the critique when
    ``assess(..., critique=True)``; ``artjudge.load`` supplies the embedded critic (the
    critique layer sits above this one, so the scorer cannot import it itself).
    """

    def __init__(
        self,
        head: ScoringHead | HeadRunner,
        card: dict[str, Any],
        *,
        cache: bool | str | Path = False,
        threads: int | None = None,
        max_pixels: int | None = None,
        critic: RecordCritic | None = None,
        consistency: str = "offline",
        encoder: Encoder | None = None,
        policy: ThreadPolicy | None = None,
        lean_decode: bool = True,
        version: str | None = None,
    ) -> None:
        runner: HeadRunner = (
            cast(HeadRunner, head) if hasattr(head, "probabilities") else TorchHead(cast(Any, head))
        )
        self.head = runner
        self.policy = apply_policy(policy or policy_for(threads=threads))
        if encoder is None:
            from artjudge.features.encoder import MultiScaleEncoder

            encoder = MultiScaleEncoder()
        #: "onnx", "torch", or "onnx+torch-head" (ONNX encoder, a head without an ONNX graph)
        self.engine = (
            encoder.engine if encoder.engine == runner.engine else f"{encoder.engine}+{runner.engine}-head"
        )
        #: Checked now (one line for a bogus spec), loaded on first use (``consistency_model``).
        self.consistency_spec = parse_spec(consistency, "consistency").text
        self._consistency: Any = None
        self.critic = critic
        self.card = card
        #: Each head's error-interval calibration from the card (scoring.intervals); {} without one.
        self.calibration = intervals.read_calibration(card)
        self.config: HeadConfig = runner.config
        self.model_id = str(card.get("id", "artjudge-embedded"))
        #: The card's version plus the folder's digest when loaded from a folder (``load_embedded``).
        self.model_version = version or str(card.get("version", "0"))
        self.version = self.model_version
        self.max_pixels = max_pixels
        # Lean decoding: a large JPEG is decoded at the smallest DCT scale that still covers the
        # model input (short side) and the evidence measures' detail size (long side).
        self.decode_target: tuple[int, int] | None = (
            (self.config.resolution, max(self.config.resolution, DETAIL_SIDE)) if lean_decode else None
        )
        feature_cache = None
        if cache:
            root = None if cache is True else Path(cache)
            feature_cache = FeatureCache(root, encoder_key=cache_key(self.config.resolution))
        self.extractor = FeatureExtractor(
            self.config.resolution,
            encoder=encoder,
            cache=feature_cache,
            threads=self.policy.compute,
            keep_trunk=self.config.tune_top,
        )
        # Attribute heads are reported only for targets a human label trained, and only where the
        # card establishes their skill (an unskilled head is named in a note, never a bare grade).
        self.unskilled = unskilled_targets(card)
        self.attribute_targets = [
            t for t in self.config.targets if t != "overall" and t not in self.unskilled
        ]
        self.skill_notes = skill_notes(self.unskilled)
        #: Pipeline lanes for streams of batches (``artjudge.threads``): ONNX Runtime end to end only.
        self.lanes = self.policy.lanes if self.engine == "onnx" and hasattr(encoder, "lane_encoder") else 1
        self._consistency_lock = threading.Lock()

    # ------------------------------------------------------------------ loading inputs
    def _load(self, image: ImageInput) -> LoadedImage:
        if isinstance(image, LoadedImage):
            return image
        if isinstance(image, Path):
            image = str(image)
        return load_image(image, max_pixels=self.max_pixels, target_size=self.decode_target)

    # ------------------------------------------------------------------ scoring
    def _records(
        self, loaded: Sequence[LoadedImage], feats: FeatureBatch, timings: dict[str, float]
    ) -> list[Assessment]:
        t0 = time.perf_counter()
        probs = self.head.probabilities(
            feats.pooled, feats.handcrafted, feats.trunk if feats.trunk.size else None
        )
        head_s = (time.perf_counter() - t0) / max(1, len(loaded))
        closed_std = self._closed_form_std(feats)
        out = []
        for i, li in enumerate(loaded):
            dists = {t: self._distribution(pr[i]) for t, pr in probs.items()}
            for t, dist in dists.items():
                self._add_interval(t, dist, closed_std[t][i] if t in closed_std else None)
            out.append(
                Assessment(
                    input=li.source,
                    sha256=li.sha256,
                    model=ModelInfo(self.model_id, self.model_version),
                    overall=dists["overall"],
                    attributes={t: dists[t] for t in self.attribute_targets},
                    notes=list(li.notes) + self.skill_notes,
                    timings=dict(timings, head_s=head_s),
                )
            )
        return out

    def _closed_form_std(self, feats: FeatureBatch) -> dict[str, np.ndarray]:
        """Closed-form heads' per-row error scales, when a calibration asks for them."""
        if not any(c.scale == "cv_std_widened" for c in self.calibration.values()):
            return {}
        scales = getattr(self.head, "error_scales", None)
        return scales(feats.pooled, feats.handcrafted) if scales is not None else {}

    def _add_interval(self, target: str, dist: ScoreDistribution, closed_std: float | None) -> None:
        """Set the model's error interval (``score +- q * scale``, calibrated on held-out data) on one score.

        No calibration for ``target``, or a scale this head cannot give, leaves ``interval`` null.
        """
        cal = self.calibration.get(target)
        scale = {"constant": 1.0, "opinion_std": dist.std, "cv_std_widened": closed_std}.get(
            cal.scale if cal is not None else ""
        )
        if cal is None or scale is None:
            return
        lo, hi = intervals.interval(dist.score, cal.q, float(scale))
        dist.interval, dist.interval_level = [round(lo, 2), round(hi, 2)], cal.level

    @staticmethod
    def _distribution(p: np.ndarray) -> ScoreDistribution:
        return ScoreDistribution(
            score=round(float(scoring.expectation(p)), 4),
            std=round(float(scoring.distribution_std(p)), 4),
            distribution=[round(float(x), 6) for x in p],
        )

    def _score_loaded(
        self,
        loaded: Sequence[LoadedImage],
        *,
        critique: bool = False,
        decode_s: float = 0.0,
        prompts: Sequence[str | None] | None = None,
        reference: ImageInput | None = None,
        references: Sequence[LoadedImage | None] | None = None,
        ref_cache: dict[str, Any] | None = None,
        lane: bool = False,
    ) -> list[Assessment]:
        """Records for decoded images; ``reference`` (one for all) or ``references`` (one per row) add consistency.

        ``lane``: called from a pipeline lane (the network runs single-threaded on this thread).
        """
        t0 = time.perf_counter()
        feats = self.extractor.encode([li.image for li in loaded], [li.sha256 for li in loaded], lane=lane)
        feat_s = (time.perf_counter() - t0) / max(1, len(loaded))
        records = self._records(loaded, feats, {"decode_s": decode_s, "features_s": feat_s})
        if reference is not None:
            references = [self._load(reference)] * len(loaded)
        if (references is not None and any(r is not None for r in references)) or (
            prompts is not None and any(prompts)
        ):
            self._add_consistency(
                loaded, feats, records, prompts, references, {} if ref_cache is None else ref_cache
            )
        if critique:
            for li, rec in zip(loaded, records, strict=True):
                self._add_critique(li, rec)
        return records

    def consistency_model(self) -> Any:
        """The consistency component (``offline`` or ``clip:PATH``), loaded on first use (once, under a lock)."""
        with self._consistency_lock:
            if self._consistency is None:
                from artjudge.models.consistency import load_consistency

                self._consistency = load_consistency(self.consistency_spec)
        return self._consistency

    def _signals(self, loaded: LoadedImage, pooled: np.ndarray, quality: float) -> Any:
        from artjudge.models.consistency import image_signals

        return image_signals(pooled, self._imagenet_classifier(), loaded.image, quality)

    def _imagenet_classifier(self) -> Any:
        """Lite0's ImageNet classifier (torch): the torch encoder's own, else loaded once on demand."""
        net = getattr(self.extractor.encoder, "net", None)
        if net is None:
            from artjudge.features.encoder import load_backbone

            net = self._backbone = getattr(self, "_backbone", None) or load_backbone()
        return net._fc

    def _add_consistency(
        self,
        loaded: Sequence[LoadedImage],
        feats: FeatureBatch,
        records: list[Assessment],
        prompts: Sequence[str | None] | None,
        references: Sequence[LoadedImage | None] | None,
        ref_cache: dict[str, Any],
    ) -> None:
        """Fill ``record.consistency`` per row: against its reference when it has one, else its prompt.

        Rows with neither get no entry (not a number). ``ref_cache`` maps a reference's SHA-256 to
        its signals, so a reference shared by many rows is encoded once.
        """
        t0 = time.perf_counter()
        model = self.consistency_model()
        checked: list[Assessment] = []
        for i, (li, rec) in enumerate(zip(loaded, records, strict=True)):
            ref = references[i] if references is not None else None
            prompt = prompts[i] if prompts is not None else None
            if ref is None and not prompt:
                continue
            sig = self._signals(li, feats.pooled[i], rec.overall.score)
            if ref is not None:
                rec.consistency = model.assess_reference(
                    sig, self._reference_signals(ref, ref_cache), ref.source
                )
            else:
                rec.consistency = model.assess_prompt(sig, prompt)
            checked.append(rec)
        for rec in checked:
            rec.timings["consistency_s"] = (time.perf_counter() - t0) / max(1, len(checked))

    def _reference_signals(self, ref: LoadedImage, cache: dict[str, Any]) -> Any:
        """The reference's consistency signals (its features and quality score), cached by SHA-256."""
        hit = cache.get(ref.sha256)
        if hit is None:
            ref_feats = self.extractor.encode([ref.image], [ref.sha256])
            ref_quality = self._records([ref], ref_feats, {})[0].overall.score
            hit = self._signals(ref, ref_feats.pooled[0], ref_quality)
            if len(cache) >= REFERENCE_CACHE:
                cache.pop(next(iter(cache)))
            cache[ref.sha256] = hit
        return hit

    def _add_critique(self, loaded: LoadedImage, record: Assessment) -> None:
        if self.critic is None:
            raise no_critic_error(self.model_id)
        t0 = time.perf_counter()
        self.critic(loaded.image, record)
        record.timings["critique_s"] = time.perf_counter() - t0

    def assess(
        self,
        image: ImageInput,
        *,
        critique: bool = False,
        prompt: str | None = None,
        reference: ImageInput | None = None,
    ) -> Assessment:
        """Score one image (path, bytes, PIL image); raises InputError on bad input.

        With ``prompt`` (the text it was made from) or ``reference`` (an image it should
        match) the record gets a ``consistency`` entry (docs/consistency.md).
        """
        self.check(prompt=bool(prompt), reference=reference is not None, critique=critique)
        t0 = time.perf_counter()
        loaded = self._load(image)
        decode_s = time.perf_counter() - t0
        record = self._score_loaded(
            [loaded],
            critique=critique,
            decode_s=decode_s,
            prompts=[prompt] if prompt else None,
            reference=reference,
        )[0]
        record.timings["total_s"] = time.perf_counter() - t0
        return record

    def iter_assess(
        self,
        images: Iterable[ImageInput | ConsistencyInput],
        *,
        batch_size: int | None = None,
        critique: bool = False,
        skip_errors: bool = True,
    ) -> Iterator[Assessment | Failure]:
        """Stream records in input order; decoding of the next batch overlaps the network.

        On ONNX Runtime the batches run in ``self.lanes`` pipeline lanes (``artjudge.threads``);
        with critique, or on torch, in one lane with a decode thread ahead of it.

        An item may be a :class:`~artjudge.models.base.ConsistencyInput` (an image with its own
        prompt or reference: a manifest row), which adds ``consistency``. A reference that
        cannot be read fails its row (a Failure naming the reference) like a bad image does.
        """
        if critique and self.critic is None:
            raise no_critic_error(self.model_id)
        loader = _BatchLoader(self._load, skip_errors)
        ref_signals: dict[str, Any] = {}  # by the scoring thread, or one lane at a time (serial lock)
        rows = (x if isinstance(x, ConsistencyInput) else ConsistencyInput(x) for x in images)
        batches = batched(rows, batch_size or self.batch_size)
        lanes = 1 if critique else self.lanes
        stream: Iterator[tuple[list[_Decoded | Failure], list[Assessment]]]
        if lanes > 1:
            work = partial(self._lane_work, loader, threading.Lock(), critique, ref_signals)
            stream = in_lanes(batches, work, lanes)
        else:
            stream = (
                (loaded, self._score_decoded(loaded, decode_s, critique, ref_signals))
                for loaded, decode_s in prefetched(batches, loader)
            )
        for loaded, scored in stream:
            records = iter(scored)
            for x in loaded:
                yield next(records) if isinstance(x, _Decoded) else x

    def _score_decoded(
        self,
        loaded: list[_Decoded | Failure],
        decode_s: float,
        critique: bool,
        ref_cache: dict[str, Any],
        lane: bool = False,
    ) -> list[Assessment]:
        """Records for one batch's decoded rows (its Failures are kept in place by the caller)."""
        good = [x for x in loaded if isinstance(x, _Decoded)]
        if not good:
            return []
        return self._score_loaded(
            [g.image for g in good],
            critique=critique,
            decode_s=decode_s,
            prompts=[g.prompt for g in good],
            references=[g.reference for g in good],
            ref_cache=ref_cache,
            lane=lane,
        )

    def _lane_work(
        self,
        loader: _BatchLoader,
        serial_lock: threading.Lock,
        critique: bool,
        ref_cache: dict[str, Any],
        batch: list[ConsistencyInput],
    ) -> tuple[list[_Decoded | Failure], list[Assessment]]:
        """One batch in a pipeline lane: decode, then score (consistency one lane at a time: its caches)."""
        loaded, decode_s = loader(batch)
        if any(isinstance(x, _Decoded) and (x.prompt or x.reference) for x in loaded):
            with serial_lock:
                return loaded, self._score_decoded(loaded, decode_s, critique, ref_cache, lane=True)
        return loaded, self._score_decoded(loaded, decode_s, critique, ref_cache, lane=True)

    def load_input(self, image: ImageInput) -> LoadedImage:
        """Decode one input with this scorer's limits (the student scores through this too)."""
        return self._load(image)

    def embed_loaded(self, loaded: Sequence[LoadedImage]) -> np.ndarray:
        """Standardised frozen features of images already decoded, one row each."""
        feats = self.extractor.encode([li.image for li in loaded], [li.sha256 for li in loaded])
        return self.head.frozen_input(feats.pooled, feats.handcrafted)

    def embed(self, images: Sequence[ImageInput], *, batch_size: int = 16) -> np.ndarray:
        """Standardised frozen features (pooled multi-scale + hand-crafted) per image."""
        rows = []
        for i in range(0, len(images), batch_size):
            rows.append(self.embed_loaded([self._load(x) for x in images[i : i + batch_size]]))
        return np.concatenate(rows)

    def info(self) -> ScorerInfo:
        """What ``GET /v1/models`` and ``artjudge models`` show: id, version, meaning, data, card."""
        data = self.card.get("data") or {}
        dataset = data.get("dataset", "unknown data") if isinstance(data, dict) else str(data)
        split = self.card.get("split")
        return make_info(
            id=self.model_id,
            version=self.model_version,
            kind="embedded",
            score_meaning=str(
                self.card.get("score_meaning")
                or (
                    "expected human rating on 0-100 of what the training data's raters scored (mean of the "
                    "predicted score distribution; std is its spread)"
                )
            ),
            training_data=f"{dataset}" + (f"; split: {split}" if split else ""),
            attributes=self.attribute_targets,
            card=self.card,
            unsupported=self._unsupported(),
        )

    def _unsupported(self) -> dict[str, str]:
        """What this scorer cannot do on this install, and why (``info()["unsupported"]``)."""
        out: dict[str, str] = {}
        needs = ["torch"] + (["transformers"] if self.consistency_spec.startswith("clip:") else [])
        absent = [m for m in needs if not module_available(m)]
        if absent:
            extra = "torch" if absent == ["torch"] else "vlm"
            why = f"the consistency component needs {' and '.join(absent)}: pip install 'artjudge[{extra}]'"
            out["prompt"] = out["reference"] = why
        if self.critic is None:
            out["critique"] = "no critic attached; load it with artjudge.load(...) or pass critic="
        if not self.attribute_targets:
            out["attributes"] = "trained on the overall score only" + (
                f" (unskilled heads: {', '.join(self.unskilled)})" if self.unskilled else ""
            )
        return out


def _torch_head(folder: Path) -> ScoringHead:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModelNotAvailable(
            f"{folder}: this head has no ONNX graph (head.onnx), so it needs torch: "
            "pip install 'artjudge[torch]', or export one with scripts/export_onnx.py --head"
        ) from None
    from artjudge.models.head import ScoringHead
    from artjudge.models.weights import load_checkpoint

    state, card = load_checkpoint(folder)
    head = ScoringHead(HeadConfig(**card["config"]["head"]))
    head.load_state_dict(state)
    return head


def load_embedded(
    model: str = "default", *, runtime: str | None = None, engine: str | None = None, **kwargs: Any
) -> EmbeddedScorer:
    """The shipped model by name or a checkpoint folder, on ``runtime`` (``onnx`` or ``torch``).

    kwargs: cache, threads, max_pixels, critic, consistency. With ``onnx`` the encoder runs
    on ONNX Runtime; the head does too when the checkpoint has a current ``head.onnx`` (the
    shipped default does), else on torch. ``runtime=None`` reads ``$ARTJUDGE_RUNTIME``, else ``onnx``.
    ``engine`` is the deprecated name of ``runtime``.
    """
    runtime = resolve_runtime(runtime, engine)
    engine = runtime
    folder = resolve_checkpoint(model)
    digest = folder_digest(folder)  # every sealed file checked before any is read
    card = read_card(folder)
    kwargs.setdefault("version", versioned(str(card.get("version", "0")), digest))
    policy = policy_for(threads=kwargs.pop("threads", None))
    if engine == "torch":
        import artjudge.features.encoder  # noqa: F401  (torch first, so the policy reaches its pool)

        apply_policy(policy)
        return EmbeddedScorer(_torch_head(folder), card, policy=policy, **kwargs)
    from artjudge.features.onnx_encoder import OnnxEncoder
    from artjudge.models.head_onnx import OnnxHead, head_graph_usable

    try:  # a hand-made or damaged card: one line, not a KeyError (issue 26 hostile folders)
        config = HeadConfig(**card["config"]["head"])
    except (KeyError, TypeError, ValueError) as err:
        raise ModelNotAvailable(
            f"{folder / 'card.json'}: no usable config.head ({type(err).__name__}: {err})"
        ) from None
    head: ScoringHead | HeadRunner
    if head_graph_usable(folder, card):
        # The checkpoint stays the source of truth: a damaged head.pt is refused on either engine.
        weights = folder / "head.pt"
        verify_sha256(weights, expected_sha256(weights, str(card.get("sha256") or "")))
        head = OnnxHead(folder, config, policy=policy)
    else:
        head = _torch_head(folder)
    encoder = OnnxEncoder(read_verified(ENCODER_ONNX), policy=policy)
    return EmbeddedScorer(head, card, encoder=encoder, policy=policy, **kwargs)
