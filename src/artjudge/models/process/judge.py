"""The process judge as a tool: load weights, judge a process, update frame by frame.

``judge()`` runs frames through the key-value cache one at a time, so the timeline (the 8
scores after each key frame) costs nothing extra; ``start()`` / ``update()`` expose the
same cache for live use (``artjudge process --follow``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artjudge.errors import InputError, ModelNotAvailable
from artjudge.features.process_signals import SignalTracker
from artjudge.io.files import sha256_file
from artjudge.io.images import load_image, pixel_sha256
from artjudge.io.keyframes import KeyframeConfig, prepare_frame, select_frames
from artjudge.models.process.calibration import (
    NO_STD_NOTE,
    read_interval_calibration,
    read_residual_std,
    residual_std_path,
)
from artjudge.models.process.context_check import (
    UNCHECKED_NOTE,
    ContextVerdict,
    cant_tell_text,
    read_verdicts,
    verdict_path,
)
from artjudge.models.process.encoder import PatchEncoder
from artjudge.models.process.model import KVCache, PPJudgeNet, ProcessConfig, logits_to_scores
from artjudge.models.process.onnx_encoder import ONNX_GRID, ONNX_RESOLUTION, OnnxPatchEncoder
from artjudge.models.process.signals_readout import SignalsReadout, readout_path
from artjudge.models.weights import (
    SEAL_FILE,
    files_digest,
    folder_digest,
    load_weights_file,
    save_weights_file,
    versioned,
)
from artjudge.record import ModelInfo, ProcessAssessment, ScoreDistribution
from artjudge.scoring.intervals import IntervalCalibration, interval
from artjudge.taxonomy import PROCESS

MODEL_ID = "artjudge-ppjudge-tiny"
WEIGHTS_NAME = "ppjudge_tiny.pt"


def default_weights_path() -> Path:
    return Path(str(resources.files("artjudge") / "weights" / "process" / WEIGHTS_NAME))


def _open_image(src: str | Path | Image.Image, what: str) -> Image.Image:
    """A frame or the reference through :func:`artjudge.io.load_image`: the same limits and
    conversions as every other entry point; errors name the role (``reference ref.png: ...``)."""
    return load_image(src, what=what).image


class ProcessJudge:
    """Frames (+ reference image or text prompt) -> the 8 PROCESS attributes.

    ``judge()`` returns a :class:`~artjudge.record.ProcessAssessment` on 0-100 (the one scale
    of every artjudge record; PPJudge's 1-10 is ``score / 10``), each score with the std
    measured on held-out processes (``residual_std``). The step-level ``update()`` and
    ``full_pass()`` return the network's own 1-10 outputs, which the record multiplies by 10.
    """

    def __init__(
        self,
        net: PPJudgeNet,
        encoder: PatchEncoder | OnnxPatchEncoder | None = None,
        *,
        model_id: str = MODEL_ID,
        version: str = "untrained",
        styles: Sequence[str] = (),
        residual_std: dict[str, float] | None = None,
        signals: SignalsReadout | None = None,
        context_verdicts: dict[str, ContextVerdict] | None = None,
        calibration: dict[str, IntervalCalibration] | None = None,
    ) -> None:
        self.net = net.eval()
        self.signals = signals  # the fitted canvas-signals readout blended in, or None: network only
        self._tracker = SignalTracker()
        self.encoder: PatchEncoder | OnnxPatchEncoder = encoder or PatchEncoder(grid=net.cfg.grid)
        self.model_id = model_id
        self.version = version
        self.styles = list(styles)
        self.residual_std = residual_std
        # measured per kind (prompt / reference): can the judge tell right from wrong? None: never measured
        self.context_verdicts = context_verdicts
        self.calibration = calibration or {}  # attribute -> the error interval's q (0-100)
        self._context_kind: str | None = None
        self._cache: KVCache | None = None  # the frames alone: every attribute but consistency
        self._context_cache: KVCache | None = None  # frames with the reference or prompt: consistency
        self._relevance: torch.Tensor | None = None
        self._has_context = False
        self._first_size: tuple[int, int] | None = None
        self._keyframes = KeyframeConfig()

    # ----- inputs ----------------------------------------------------------------------
    @property
    def engine(self) -> str:
        """What encodes the frames: "onnx" (ONNX Runtime) or "torch"; the transformer is torch either way."""
        return self.encoder.engine

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    def _tokens(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.from_numpy(self.encoder.encode(list(images)))

    def _relevance_of(self, ref: torch.Tensor | None, text: torch.Tensor | None) -> torch.Tensor | None:
        """Concept relevance of the context, when the weights carry concept embeddings."""
        grounder = self.net.grounder
        if not grounder.ready:
            return None
        if text is not None:
            return grounder.relevance_from_text(text)
        if ref is not None:
            return grounder.relevance_from_logits(torch.from_numpy(self.encoder.class_logits(ref)))
        return None

    def _align(self, tokens: torch.Tensor, relevance: torch.Tensor | None) -> torch.Tensor | None:
        """(T, P, F) frame tokens -> (1, T, n_align) alignment with the context, or None."""
        if relevance is None:
            return None
        logits = torch.from_numpy(self.encoder.class_logits(tokens)).unsqueeze(0)
        return self.net.grounder.features(logits, relevance)

    def _context(
        self,
        reference: str | Path | Image.Image | None,
        prompt: str | None,
        prompt_embedding: np.ndarray | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if reference is not None and (prompt is not None or prompt_embedding is not None):
            raise InputError("reference", "give a reference image or a prompt, not both")
        ref = self._tokens([_open_image(reference, "reference")]) if reference is not None else None
        text = None
        if prompt_embedding is not None:
            text = torch.as_tensor(np.asarray(prompt_embedding, dtype=np.float32)).reshape(1, -1)
        elif prompt is not None:
            if not prompt.strip():
                raise InputError("prompt", "the prompt is empty")
            from artjudge.models.process.text import embed_texts

            text = torch.from_numpy(embed_texts([prompt]))
        if text is not None and text.shape[-1] != self.net.cfg.text_dim:
            raise InputError(
                "prompt", f"embedding has {text.shape[-1]} dims, expected {self.net.cfg.text_dim}"
            )
        return ref, text

    def _as_dict(self, logits: torch.Tensor, context_logits: torch.Tensor | None = None) -> dict[str, float]:
        """The network's 1-10 scores. ``logits`` come from the pass without context, so the
        depths and stabilities never move with a reference or prompt (the network read the
        reference into composition depth: 57 / 72 / 68 for none / right / unrelated on the
        real time-lapse); ``context_logits`` give consistency only. Without them (no
        reference or prompt, or one of a kind the judge cannot tell apart) it is left out."""
        s = logits_to_scores(logits.reshape(-1)).tolist()
        out = {k: round(float(v), 4) for k, v in zip(PROCESS.keys(), s, strict=True)}
        if context_logits is None:
            out.pop("consistency")
        else:
            out["consistency"] = round(float(logits_to_scores(context_logits.reshape(-1))[0]), 4)
        return out

    # ----- incremental use -------------------------------------------------------------
    def start(
        self,
        reference: str | Path | Image.Image | None = None,
        prompt: str | None = None,
        prompt_embedding: np.ndarray | None = None,
    ) -> None:
        """Begin a new process; the reference or prompt is encoded once."""
        ref, text = self._context(reference, prompt, prompt_embedding)
        self._relevance = self._relevance_of(ref, text)
        self._has_context = ref is not None or text is not None
        self._context_kind = "reference" if ref is not None else "prompt" if text is not None else None
        self._first_size = None
        self._tracker = SignalTracker()
        self._cache = self.net.start(None, None, batch=1)
        # consistency needs the context pass only where the judge can tell this kind of context apart
        judged = self._has_context and self._consistency_status(self._context_kind)[0] is None
        self._context_cache = self.net.start(ref, text, batch=1) if judged else None

    def update(self, frame: str | Path | Image.Image) -> dict[str, float]:
        """Fold one new frame in (earlier frames are not recomputed); the network's 1-10 scores after it.

        The frame is prepared exactly as :meth:`judge` prepares frames
        (:func:`artjudge.io.keyframes.prepare_frame`: resized to the first frame's size,
        longer side at most 512), so following a folder equals judging it.
        """
        if self._cache is None:
            self.start()
        img = _open_image(frame, "frame")
        if self._first_size is None:
            self._first_size = img.size
        return self._step(prepare_frame(img, self._first_size, self._keyframes.max_side))

    def _step(self, img: Image.Image) -> dict[str, float]:
        """One prepared frame through the cache (no loading, no resizing here)."""
        assert self._cache is not None
        tokens = self._tokens([img])
        logits = self.net.step(self._cache, tokens, None)
        context_logits = None
        if self._context_cache is not None:  # a second cache: the context reaches consistency only
            align = self._align(tokens, self._relevance)
            context_logits = self.net.step(
                self._context_cache, tokens, None if align is None else align[:, 0]
            )
        summary = self._tracker.add(img)  # the canvas signals, frame by frame like the cache
        scores = self._as_dict(logits, context_logits)
        return self.signals.combine(scores, summary) if self.signals is not None else scores

    @property
    def frames_seen(self) -> int:
        return self._cache.t if self._cache is not None else 0

    # ----- whole process ---------------------------------------------------------------
    @torch.no_grad()
    def full_pass(
        self,
        frames: Sequence[Image.Image],
        reference: str | Path | Image.Image | None = None,
        prompt: str | None = None,
        prompt_embedding: np.ndarray | None = None,
    ) -> np.ndarray:
        """(T, 8) scores after each frame, recomputed from scratch (no cache); as in :meth:`update`,
        only consistency reads the reference or prompt."""
        ref, text = self._context(reference, prompt, prompt_embedding)
        tokens = self._tokens(frames)
        out = logits_to_scores(self.net(tokens.unsqueeze(0))["logits"][0])
        if ref is not None or text is not None:
            align = self._align(tokens, self._relevance_of(ref, text))
            ctx = self.net(tokens.unsqueeze(0), ref, text, align)["logits"][0]
            out[:, 0] = logits_to_scores(ctx)[:, 0]
        return out.numpy()

    @torch.no_grad()
    def consistency_of(
        self,
        frames: Sequence[Image.Image],
        references: Sequence[str | Path | Image.Image] = (),
        prompt_embeddings: np.ndarray | None = None,
    ) -> np.ndarray:
        """Consistency (1-10) of one process with each reference, then each prompt embedding.

        What :meth:`judge` reports as consistency for each context (the same key frames, the
        network's context pass, which the signals readout leaves alone), with the frames
        encoded once and every context in one batch: for swap benchmarks, which judge each
        process against many contexts. Whether a kind can be told apart is not applied here.
        """
        images = select_frames(frames).frames
        tokens = self._tokens(images)
        out: list[np.ndarray] = []
        contexts: list[tuple[torch.Tensor | None, torch.Tensor | None]] = []
        if references:
            contexts.append((self._tokens([_open_image(r, "reference") for r in references]), None))
        if prompt_embeddings is not None and len(prompt_embeddings):
            contexts.append((None, torch.as_tensor(np.asarray(prompt_embeddings, np.float32))))
        for ref, text in contexts:
            n = len(ref) if ref is not None else len(text) if text is not None else 0
            align = None
            if self.net.grounder.ready:
                rel = self._relevance_of(ref, text)
                assert rel is not None  # the grounder is ready and one context is given
                logits = torch.from_numpy(self.encoder.class_logits(tokens)).unsqueeze(0).expand(n, -1, -1)
                align = self.net.grounder.features(logits, rel)
            frames_b = tokens.unsqueeze(0).expand(n, -1, -1, -1)
            last = self.net(frames_b, ref, text, align)["logits"][:, -1, 0]
            out.append(logits_to_scores(last).numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def judge(
        self,
        frames: str | Path | Sequence[Image.Image],
        reference: str | Path | Image.Image | None = None,
        prompt: str | None = None,
        prompt_embedding: np.ndarray | None = None,
        keyframes: KeyframeConfig | None = None,
    ) -> ProcessAssessment:
        """Judge a video, a folder of frames or a list of images: the record, on 0-100."""
        t0 = time.perf_counter()
        # One key-frame policy for every entry point (io.keyframes.select_frames): each frame
        # is loaded once and prepared once; the frames go through the cache as update() would.
        kf = select_frames(frames, keyframes)
        images, indices = kf.frames, kf.indices
        source = str(frames) if isinstance(frames, str | Path) else "<frames>"
        notes = list(kf.notes)
        self.start(reference, prompt, prompt_embedding)
        timeline = [self._step(im) for im in images]
        digest = sha256_file(frames) if isinstance(frames, str | Path) and Path(frames).is_file() else ""
        return self.record(
            source,
            timeline,
            indices,
            notes=notes,
            sha256=digest,
            frame_sha256=[pixel_sha256(im) for im in images],
            reference=str(reference) if isinstance(reference, str | Path) else None,
            prompt=prompt,
            timings={"total_s": round(time.perf_counter() - t0, 4)},
        )

    def signals_record(self) -> dict[str, list[dict[str, float]]]:
        """The measured signals of the frames folded in since :meth:`start`."""
        return self._tracker.signals().to_dict()

    def record(
        self,
        source: str,
        timeline: Sequence[dict[str, float]],
        keyframe_indices: Sequence[int],
        *,
        notes: Sequence[str] = (),
        sha256: str = "",
        frame_sha256: Sequence[str] = (),
        reference: str | None = None,
        prompt: str | None = None,
        timings: dict[str, float] | None = None,
    ) -> ProcessAssessment:
        """The record from ``update()`` outputs (1-10): every score x 10, with the measured std."""
        if not timeline:
            raise InputError(source, "no frames were judged")
        notes = list(notes)
        if self.residual_std is None:
            notes.append(NO_STD_NOTE)
        if self.signals is not None:
            notes.append(
                "scores blend the network with a readout of the measured canvas signals "
                "(docs/process.md); std and interval are this blend's error on held-out synthetic processes"
            )
        tl = [{k: round(10.0 * v, 3) for k, v in step.items()} for step in timeline]
        withheld, note = self._consistency_status(self._context_kind)
        notes += [note] if note else []
        cant_tell = {"consistency": withheld} if withheld else {}
        return ProcessAssessment(
            source=source,
            model=ModelInfo(self.model_id, self.version),
            attributes={k: self._distribution(k, v) for k, v in tl[-1].items()},
            timeline=tl,
            keyframe_indices=list(keyframe_indices),
            sha256=sha256,
            frame_sha256=list(frame_sha256),
            notes=notes,
            reference=reference,
            prompt=prompt,
            timings=dict(timings or {}),
            signals=self.signals_record() if len(self._tracker.values) == len(tl) else {},
            cant_tell=cant_tell,
        )

    def _distribution(self, attribute: str, score: float) -> ScoreDistribution:
        """A final score (0-100) with its measured residual std and, where calibrated, its
        error interval: ``score +- q`` from held-out synthetic processes (the std here is the
        judge's error too: the judge predicts no opinion spread)."""
        std = (self.residual_std or {}).get(attribute, 0.0)
        cal = self.calibration.get(attribute)
        if cal is None:
            return ScoreDistribution(score=score, std=std)
        lo, hi = interval(score, cal.q)
        return ScoreDistribution(
            score=score, std=std, interval=[round(lo, 3), round(hi, 3)], interval_level=cal.level
        )

    def _consistency_status(self, kind: str | None) -> tuple[str | None, str | None]:
        """(why consistency is withheld, a note) for a context of ``kind``: withheld where the
        judge was measured unable to tell a right context of this kind from a wrong one
        (:mod:`artjudge.models.process.context_check`), noted where it was never measured."""
        if kind is None:
            return None, None
        if self.context_verdicts is None or kind not in self.context_verdicts:
            return None, UNCHECKED_NOTE.format(kind=kind)
        verdict = self.context_verdicts[kind]
        return (None if verdict.can_tell else cant_tell_text(verdict)), None


def save_checkpoint(
    path: Path, net: PPJudgeNet, *, version: str, styles: Sequence[str], meta: dict[str, Any]
) -> str:
    """Write weights (float16 to keep the wheel small) + ``.sha256`` atomically; return the SHA-256.

    Goes through :func:`artjudge.models.weights.save_weights_file`, the one weights format:
    config, version, styles and meta as plain types, so loading needs no pickled objects.
    """
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    blob = {
        "config": net.cfg.to_dict(),
        "state_dict": state,
        "version": version,
        "styles": list(styles),
        "meta": meta,
    }
    return save_weights_file(path, blob)


def load_net(path: Path, check_hash: bool = True) -> tuple[PPJudgeNet, dict[str, Any]]:
    """Network and blob, after checking the SHA-256 in ``PATH.sha256`` (a missing one is an error).

    ``check_hash=False`` is for training code reading its own fresh output only.
    """
    if not path.is_file():
        raise ModelNotAvailable(
            f"process-judge weights not found at {path}; train them with `artjudge train-process`"
        )
    blob = load_weights_file(path, check_hash=check_hash)
    net = PPJudgeNet(ProcessConfig.from_dict(blob["config"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    return net.eval(), blob


def load_process_judge(
    model: str = "default", runtime: str | None = None, *, engine: str | None = None
) -> ProcessJudge:
    """The shipped judge ("default") or a checkpoint (``checkpoint:PATH`` or a path) from ``artjudge train-process``.

    ``runtime`` ("onnx", the default, or "torch"; else ``$ARTJUDGE_RUNTIME``) runs the frame
    encoder: on ONNX Runtime it is several times faster and agrees with torch to ~1e-5 on
    the tokens. A checkpoint trained at another frame size or grid than the shipped graphs
    (128 px, 4 x 4) encodes on torch whatever is asked. ``engine`` is the deprecated name.
    """
    from artjudge.models.embedded import resolve_runtime
    from artjudge.models.spec import parse_spec

    spec = parse_spec(model, "process")
    path = default_weights_path() if spec.shipped else Path(spec.target).expanduser()
    engine = resolve_runtime(runtime, engine)
    # A sealed folder (the shipped one) has every file checked against its seal before any is read.
    model_digest = folder_digest(path.parent) if (path.parent / SEAL_FILE).is_file() else ""
    net, blob = load_net(path)
    model_digest = model_digest or files_digest(
        [path, residual_std_path(path), readout_path(path), verdict_path(path)]
    )
    resolution = int(blob.get("meta", {}).get("resolution", 128))
    encoder: PatchEncoder | OnnxPatchEncoder
    if engine == "onnx" and (resolution, net.cfg.grid) == (ONNX_RESOLUTION, ONNX_GRID):
        encoder = OnnxPatchEncoder()
    else:
        encoder = PatchEncoder(resolution=resolution, grid=net.cfg.grid)
    digest_file = path.with_name(path.name + ".sha256")
    digest = digest_file.read_text().split()[0] if digest_file.is_file() else sha256_file(path)
    return ProcessJudge(
        net,
        encoder,
        model_id=MODEL_ID if spec.shipped else path.stem,
        version=versioned(str(blob.get("version", "?")), model_digest),
        styles=blob.get("styles", ()),
        residual_std=read_residual_std(path, digest),
        signals=SignalsReadout.load(readout_path(path), digest),
        context_verdicts=read_verdicts(path, digest) or None,
        calibration=read_interval_calibration(path, digest),
    )
