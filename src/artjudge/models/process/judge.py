"""The process judge as a tool: load weights, judge a process, update frame by frame.

``judge()`` runs frames through the key-value cache one at a time, so the timeline (the 8
scores after each key frame) costs nothing extra; ``start()`` / ``update()`` expose the
same cache for live use (``artjudge process --follow``).
"""

from __future__ import annotations

import hashlib
import json
import os
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
from artjudge.io.images import load_image
from artjudge.io.keyframes import KeyframeConfig, prepare_frame, select_frames
from artjudge.models.process.encoder import PatchEncoder
from artjudge.models.process.model import KVCache, PPJudgeNet, ProcessConfig, logits_to_scores
from artjudge.models.process.onnx_encoder import ONNX_GRID, ONNX_RESOLUTION, OnnxPatchEncoder
from artjudge.models.process.signals_readout import SignalsReadout, readout_path
from artjudge.models.weights import load_weights_file, save_weights_file
from artjudge.record import ModelInfo, ProcessAssessment, ScoreDistribution
from artjudge.taxonomy import PROCESS

MODEL_ID = "artjudge-ppjudge-tiny"
WEIGHTS_NAME = "ppjudge_tiny.pt"


def default_weights_path() -> Path:
    return Path(str(resources.files("artjudge") / "weights" / "process" / WEIGHTS_NAME))


def residual_std_path(weights: Path) -> Path:
    """Where ``scripts/process_residual_std.py`` writes the measured per-attribute std."""
    return weights.with_name(weights.name + ".residual_std.json")


def read_residual_std(weights: Path, digest: str | None) -> dict[str, float] | None:
    """The measured std (0-100) per attribute for these weights, or None when there is none
    or it was measured on other weights (its ``weights_sha256`` differs from ``digest``)."""
    path = residual_std_path(weights)
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    if digest is not None and d.get("weights_sha256") != digest:
        return None
    std = {k: float(v) for k, v in d.get("residual_std", {}).items()}
    return std if set(std) == set(PROCESS.keys()) else None


def _pixel_sha256(im: Image.Image) -> str:
    """SHA-256 of a judged frame's pixels, hashed as :mod:`artjudge.io.images` hashes images in memory."""
    h = hashlib.sha256(f"{im.mode} {im.size[0]}x{im.size[1]}\n".encode())
    h.update(im.tobytes())
    return h.hexdigest()


NO_STD_NOTE = (
    "these weights have no measured residual std (scripts/process_residual_std.py --weights PATH): "
    "std 0 means unknown, not certain"
)


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
    ) -> None:
        self.net = net.eval()
        self.signals = signals  # the fitted canvas-signals readout blended in, or None: network only
        self._tracker = SignalTracker()
        self.encoder: PatchEncoder | OnnxPatchEncoder = encoder or PatchEncoder(grid=net.cfg.grid)
        self.model_id = model_id
        self.version = version
        self.styles = list(styles)
        self.residual_std = residual_std
        self._cache: KVCache | None = None
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

    def _as_dict(self, logits: torch.Tensor) -> dict[str, float]:
        """The network's 1-10 scores; without a reference or prompt there is no consistency
        to judge, so the attribute is left out (not reported as a number that means nothing)."""
        s = logits_to_scores(logits.reshape(-1)).tolist()
        out = {k: round(float(v), 4) for k, v in zip(PROCESS.keys(), s, strict=True)}
        if not self._has_context:
            out.pop("consistency")
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
        self._first_size = None
        self._tracker = SignalTracker()
        self._cache = self.net.start(ref, text, batch=1)

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
        align = self._align(tokens, self._relevance)
        logits = self.net.step(self._cache, tokens, None if align is None else align[:, 0])
        summary = self._tracker.add(img)  # the canvas signals, frame by frame like the cache
        scores = self._as_dict(logits)
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
        """(T, 8) scores after each frame, recomputed from scratch (no cache)."""
        ref, text = self._context(reference, prompt, prompt_embedding)
        tokens = self._tokens(frames)
        align = self._align(tokens, self._relevance_of(ref, text))
        out = self.net(tokens.unsqueeze(0), ref, text, align)["logits"][0]
        return logits_to_scores(out).numpy()

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
            frame_sha256=[_pixel_sha256(im) for im in images],
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
                "(docs/process.md); the std was measured on the network alone"
            )
        tl = [{k: round(10.0 * v, 3) for k, v in step.items()} for step in timeline]
        std = self.residual_std or {}
        return ProcessAssessment(
            source=source,
            model=ModelInfo(self.model_id, self.version),
            attributes={k: ScoreDistribution(score=v, std=std.get(k, 0.0)) for k, v in tl[-1].items()},
            timeline=tl,
            keyframe_indices=list(keyframe_indices),
            sha256=sha256,
            frame_sha256=list(frame_sha256),
            notes=notes,
            reference=reference,
            prompt=prompt,
            timings=dict(timings or {}),
            signals=self.signals_record() if len(self._tracker.values) == len(tl) else {},
        )


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


def load_process_judge(model: str = "default", engine: str | None = None, **kwargs: Any) -> ProcessJudge:
    """The shipped judge ("default") or a checkpoint path written by ``artjudge train-process``.

    ``engine`` ("onnx", the default, or "torch"; else ``$ARTJUDGE_ENGINE``) runs the frame
    encoder: on ONNX Runtime it is several times faster and agrees with torch to ~1e-5 on
    the tokens. A checkpoint trained at another frame size or grid than the shipped graphs
    (128 px, 4 x 4) encodes on torch whatever is asked.
    """
    from artjudge.models.embedded import DEFAULT_ENGINE, ENGINE_ENV, ENGINES

    path = default_weights_path() if model == "default" else Path(model)
    if kwargs:
        raise TypeError(f"unexpected options: {', '.join(kwargs)}")
    engine = engine or os.environ.get(ENGINE_ENV, "").strip() or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise InputError("engine", f"{engine!r} is not an inference engine; choose {' or '.join(ENGINES)}")
    net, blob = load_net(path)
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
        model_id=MODEL_ID if model == "default" else path.stem,
        version=str(blob.get("version", "?")),
        styles=blob.get("styles", ()),
        residual_std=read_residual_std(path, digest),
        signals=SignalsReadout.load(readout_path(path), digest),
    )
