"""The process judge as a tool: load weights, judge a process, update frame by frame.

``judge()`` runs frames through the key-value cache one at a time, so the timeline (the 8
scores after each key frame) costs nothing extra; ``start()`` / ``update()`` expose the
same cache for live use (``artjudge process --follow``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from artjudge.errors import InputError, ModelNotAvailable
from artjudge.io.files import sha256_file
from artjudge.io.keyframes import KeyframeConfig, extract_keyframes
from artjudge.models.process.encoder import PatchEncoder
from artjudge.models.process.model import KVCache, PPJudgeNet, ProcessConfig, logits_to_scores
from artjudge.taxonomy import PROCESS

MODEL_ID = "artjudge-ppjudge-tiny"
WEIGHTS_NAME = "ppjudge_tiny.pt"


@dataclass
class ProcessResult:
    """The verdict on one process: final scores (1-10) and how they evolved."""

    source: str
    scores: dict[str, float]
    timeline: list[dict[str, float]]
    keyframe_indices: list[int]
    notes: list[str] = field(default_factory=list)
    model: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    prompt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_weights_path() -> Path:
    return Path(str(resources.files("artjudge") / "weights" / "process" / WEIGHTS_NAME))


def _open_image(src: str | Path | Image.Image, what: str) -> Image.Image:
    if isinstance(src, Image.Image):
        return src.convert("RGB")
    p = Path(src)
    if not p.exists():
        raise InputError(str(src), f"{what} not found")
    if p.is_dir():
        raise InputError(str(src), f"{what} must be one image, not a folder")
    try:
        with Image.open(p) as im:
            im.load()
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise InputError(str(src), f"{what} is not a readable image ({type(err).__name__})") from None


class ProcessJudge:
    """Frames (+ reference image or text prompt) -> the 8 PROCESS attributes on 1-10."""

    def __init__(
        self,
        net: PPJudgeNet,
        encoder: PatchEncoder | None = None,
        *,
        model_id: str = MODEL_ID,
        version: str = "untrained",
        styles: Sequence[str] = (),
    ) -> None:
        self.net = net.eval()
        self.encoder = encoder or PatchEncoder(grid=net.cfg.grid)
        self.model_id = model_id
        self.version = version
        self.styles = list(styles)
        self._cache: KVCache | None = None
        self._relevance: torch.Tensor | None = None

    # ----- inputs ----------------------------------------------------------------------
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
        self, reference: str | Path | Image.Image | None, prompt: str | None, prompt_embedding: np.ndarray | None
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
            raise InputError("prompt", f"embedding has {text.shape[-1]} dims, expected {self.net.cfg.text_dim}")
        return ref, text

    def _as_dict(self, logits: torch.Tensor) -> dict[str, float]:
        s = logits_to_scores(logits.reshape(-1)).tolist()
        return {k: round(float(v), 4) for k, v in zip(PROCESS.keys(), s, strict=True)}

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
        self._cache = self.net.start(ref, text, batch=1)

    def update(self, frame: str | Path | Image.Image) -> dict[str, float]:
        """Fold one new frame in (earlier frames are not recomputed); scores after it."""
        if self._cache is None:
            self.start()
        assert self._cache is not None
        img = _open_image(frame, "frame")
        tokens = self._tokens([img])
        align = self._align(tokens, self._relevance)
        logits = self.net.step(self._cache, tokens, None if align is None else align[:, 0])
        return self._as_dict(logits)

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
    ) -> ProcessResult:
        """Judge a video, a folder of frames or a list of images."""
        notes: list[str] = []
        if isinstance(frames, str | Path):
            kf = extract_keyframes(frames, keyframes)
            images, indices, source = kf.frames, kf.indices, str(frames)
            notes += kf.notes
        else:
            images = [_open_image(f, "frame") for f in frames]
            if not images:
                raise InputError("frames", "no frames given")
            size = images[0].size
            if any(im.size != size for im in images):
                notes.append(f"frames differ in size; resized to the first's {size}")
                images = [im if im.size == size else im.resize(size) for im in images]
            indices, source = list(range(len(images))), "<frames>"
        if len(images) == 1:
            notes.append("only one frame: stability scores rest on a single state")
        self.start(reference, prompt, prompt_embedding)
        timeline = [self.update(im) for im in images]
        return ProcessResult(
            source=source,
            scores=timeline[-1],
            timeline=timeline,
            keyframe_indices=indices,
            notes=notes,
            model={"id": self.model_id, "version": self.version},
            reference=str(reference) if isinstance(reference, str | Path) else None,
            prompt=prompt,
        )


def save_checkpoint(
    path: Path, net: PPJudgeNet, *, version: str, styles: Sequence[str], meta: dict[str, Any]
) -> str:
    """Write weights (float16 to keep the wheel small) atomically; return their SHA-256."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in net.state_dict().items()}
    blob = {"config": net.cfg.to_dict(), "state_dict": state, "version": version, "styles": list(styles),
            "meta": meta}
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    digest = sha256_file(path)
    sha_tmp = path.with_suffix(path.suffix + ".sha256.tmp")
    sha_tmp.write_text(f"{digest}  {path.name}\n")
    sha_tmp.replace(path.with_suffix(path.suffix + ".sha256"))
    return digest


def load_net(path: Path, check_hash: bool = True) -> tuple[PPJudgeNet, dict[str, Any]]:
    if not path.is_file():
        raise ModelNotAvailable(
            f"process-judge weights not found at {path}; train them with `artjudge train-process`"
        )
    sha_file = path.with_suffix(path.suffix + ".sha256")
    if check_hash and sha_file.is_file():
        expected = sha_file.read_text().split()[0]
        if sha256_file(path) != expected:
            raise ModelNotAvailable(f"{path}: SHA-256 does not match {sha_file.name}; the file is corrupt")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    net = PPJudgeNet(ProcessConfig.from_dict(blob["config"]))
    net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    return net.eval(), blob


def load_process_judge(model: str = "default", **kwargs: Any) -> ProcessJudge:
    """The shipped judge ("default") or a checkpoint path written by ``artjudge train-process``."""
    path = default_weights_path() if model == "default" else Path(model)
    net, blob = load_net(path, check_hash=kwargs.pop("check_hash", True))
    if kwargs:
        raise TypeError(f"unexpected options: {', '.join(kwargs)}")
    encoder = PatchEncoder(resolution=int(blob.get("meta", {}).get("resolution", 128)), grid=net.cfg.grid)
    return ProcessJudge(net, encoder, model_id=MODEL_ID if model == "default" else path.stem,
                        version=str(blob.get("version", "?")), styles=blob.get("styles", ()))
