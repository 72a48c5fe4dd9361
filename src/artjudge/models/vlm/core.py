"""A loaded VLM with its score tokens and the prompts that training and inference share.

Training and inference must build byte-identical prompts, or the score token is read
from a different context than the one it was trained in; so both go through the sample
builders here. A fine-tuned checkpoint is a folder with ``artjudge_vlm.json`` (which base,
which LoRA adapters in which order, what was trained), ``score_tokens.json`` and the
adapters; a bare transformers checkpoint loads too (its score tokens are found afresh,
and its scores mean nothing until it is trained, which the scorer says in its notes).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from artjudge.errors import ModelNotAvailable
from artjudge.io.files import atomic_write_json
from artjudge.models.vlm.backbone import (
    DEFAULT_RESOLUTION,
    Backbone,
    Encoder,
    Sample,
    chat_prompt,
    load_backbone,
)
from artjudge.models.vlm.tokens import (
    TOKENS_FILE,
    ScoreTokens,
    check_tokens,
    find_level_tokens,
    find_score_tokens,
    load_tokens,
)
from artjudge.scoring import soft_label
from artjudge.taxonomy import ARTIMUSE, LEVEL_DEFINITIONS

META_FILE = "artjudge_vlm.json"

SCORE_QUESTION = "Rate the aesthetic quality of this artwork on a scale from 0 to 100."
ATTR_QUESTION = "Rate the {name} of this artwork ({definition}) on a scale from 0 to 100."
LEVEL_QUESTION = "Is the aesthetic quality of this artwork excellent, good, fair, poor or bad?"
SCORE_PREFIX = "The score is"
LEVEL_PREFIX = "The quality is"
DESCRIBE_QUESTION = (
    "Describe and analyse this artwork, from what the eye registers (colour, light, "
    "composition) to what it means (style, subject, technique) and what it makes the viewer feel."
)
ATTR_ANALYSIS_QUESTION = "Analyse the {name} of this artwork ({definition})."
LEVEL_ANALYSIS_QUESTION = "Describe the {level} of this artwork: {definition}."
PAIR_QUESTION = "The first image is artwork A and the second is artwork B. Which artwork is better, A or B?"
PAIR_PREFIX = "The better one is"


def attr_name(key: str) -> tuple[str, str]:
    """Display name and definition of an attribute (ArtiMuse's when known, else the key)."""
    try:
        a = ARTIMUSE.get(key)
        return a.name, a.definition
    except KeyError:
        return key.replace("_", " "), key.replace("_", " ")


@dataclass
class VLMMeta:
    """What ``artjudge_vlm.json`` records about a fine-tuned checkpoint."""

    base: str
    family: str = ""
    model_type: str = ""
    resolution: int = DEFAULT_RESOLUTION
    adapters: list[str] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    levels: bool = False
    overall: bool = False
    text: bool = False
    version: str = "0"
    format: int = 1

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def read_meta(folder: str | os.PathLike[str]) -> VLMMeta | None:
    p = Path(folder) / META_FILE
    if not p.is_file():
        return None
    data = json.loads(p.read_text(encoding="utf-8"))
    known = set(VLMMeta.__dataclass_fields__)
    return VLMMeta(**{k: v for k, v in data.items() if k in known})


def write_meta(folder: str | os.PathLike[str], meta: VLMMeta) -> Path:
    p = Path(folder) / META_FILE
    return atomic_write_json(p, meta.to_dict(), indent=1)


class VLM:
    """Backbone + encoder + score/level tokens + what the checkpoint was trained on."""

    def __init__(
        self, backbone: Backbone, score: ScoreTokens, level: ScoreTokens | None, meta: VLMMeta, path: str
    ) -> None:
        self.backbone = backbone
        self.encoder = Encoder(backbone)
        self.score_tokens = score
        self.level_tokens = level
        self.meta = meta
        self.path = path

    @property
    def model(self) -> Any:
        return self.backbone.model

    @property
    def tokenizer(self) -> Any:
        return self.backbone.tokenizer

    @property
    def name(self) -> str:
        return Path(self.path).name or self.path

    # ------------------------------------------------------------------ samples

    def _answer(self, prefix: str, tail_ids: list[int], eos: bool = False) -> list[int]:
        ids = self.encoder.text_ids(prefix) if prefix else []
        ids = ids + tail_ids
        if eos and self.tokenizer.eos_token_id is not None:
            ids = ids + [int(self.tokenizer.eos_token_id)]
        return ids

    def score_sample(
        self,
        image: Image.Image,
        score: float | None = None,
        attribute: str | None = None,
        prefix_loss: bool = True,
        token_loss: bool = True,
    ) -> Sample:
        """Question, then the answer prefix, then (when training) the score token."""
        if attribute is None:
            q = SCORE_QUESTION
        else:
            name, definition = attr_name(attribute)
            q = ATTR_QUESTION.format(name=name, definition=definition)
        st = self.score_tokens
        pre = self.encoder.text_ids(st.answer_prefix) if st.answer_prefix else []
        tail = [] if score is None else [st.ids[int(round(float(np.clip(score, 0, 100))))]]
        if score is None:
            # read the score after the prefix: the prefix is part of the prompt
            return Sample(
                prompt=chat_prompt(self.backbone, q),
                images=[image],
                answer_ids=pre,
                loss_mask=[False] * len(pre),
                score_at=len(pre),
            )
        mask = [prefix_loss] * len(pre) + [token_loss]
        return Sample(
            prompt=chat_prompt(self.backbone, q),
            images=[image],
            answer_ids=pre + tail,
            loss_mask=mask,
            score_at=len(pre),
        )

    def level_sample(self, image: Image.Image, score: float | None = None, token_loss: bool = True) -> Sample:
        lt = self.level_tokens
        if lt is None:
            raise ModelNotAvailable(f"{self.path}: no level tokens in this checkpoint")
        pre = self.encoder.text_ids(lt.answer_prefix) if lt.answer_prefix else []
        if score is None:
            return Sample(
                prompt=chat_prompt(self.backbone, LEVEL_QUESTION),
                images=[image],
                answer_ids=pre,
                loss_mask=[False] * len(pre),
                score_at=len(pre),
            )
        idx = int(np.clip(round(float(score) / 25.0), 0, 4))
        return Sample(
            prompt=chat_prompt(self.backbone, LEVEL_QUESTION),
            images=[image],
            answer_ids=pre + [lt.ids[idx]],
            loss_mask=[True] * len(pre) + [token_loss],
            score_at=len(pre),
        )

    def text_question(self, attribute: str | None = None, level: str | None = None) -> str:
        if attribute:
            name, definition = attr_name(attribute)
            return ATTR_ANALYSIS_QUESTION.format(name=name, definition=definition)
        if level:
            return LEVEL_ANALYSIS_QUESTION.format(level=level, definition=LEVEL_DEFINITIONS.get(level, level))
        return DESCRIBE_QUESTION

    def text_sample(
        self, image: Image.Image, text: str | None, attribute: str | None = None, level: str | None = None
    ) -> Sample:
        prompt = chat_prompt(self.backbone, self.text_question(attribute, level))
        if text is None:
            return Sample(prompt=prompt, images=[image])
        ids = self._answer("", self.encoder.text_ids(text), eos=True)
        return Sample(prompt=prompt, images=[image], answer_ids=ids, loss_mask=[True] * len(ids))

    def pair_sample(self, a: Image.Image, b: Image.Image) -> Sample:
        pre = self.encoder.text_ids(PAIR_PREFIX)
        return Sample(
            prompt=chat_prompt(self.backbone, PAIR_QUESTION, n_images=2),
            images=[a, b],
            answer_ids=pre,
            loss_mask=[False] * len(pre),
            score_at=len(pre),
        )

    def pair_token_ids(self) -> tuple[int, int]:
        for lead in (" ", ""):
            a = self.encoder.text_ids(lead + "A")
            b = self.encoder.text_ids(lead + "B")
            if len(a) == 1 and len(b) == 1 and a != b:
                return int(a[0]), int(b[0])
        a, b = self.encoder.text_ids(" A"), self.encoder.text_ids(" B")
        return int(a[0]), int(b[0])

    # ------------------------------------------------------------------ reading scores

    @torch.no_grad()
    def token_probs(self, samples: list[Sample], token_ids: list[int]) -> np.ndarray:
        """Softmax over ``token_ids`` at each sample's score position: shape (n, len(ids))."""
        enc = self.encoder.encode(samples)
        out = self.model(**self.encoder.to_device(enc["inputs"]))
        rows = out.logits[torch.arange(len(samples)), enc["score_pos"].to(out.logits.device)]
        sel = rows[:, torch.tensor(token_ids, device=rows.device)].float()
        return torch.softmax(sel, dim=-1).cpu().numpy().astype(np.float64)

    @torch.no_grad()
    def generate(self, samples: list[Sample], max_new_tokens: int = 128, **kw: Any) -> list[str]:
        enc = self.encoder.encode(samples)
        inputs = self.encoder.to_device(enc["inputs"])
        width = inputs["input_ids"].shape[1]
        pad = self.encoder.pad_id
        out = self.model.generate(
            **inputs, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad, **kw
        )
        return [self.tokenizer.decode(row[width:], skip_special_tokens=True).strip() for row in out]


def soft_target(score: float, std: float | None) -> np.ndarray:
    s = None if std is None or not np.isfinite(std) or std <= 0 else float(std)
    return soft_label(float(np.clip(score, 0, 100)), s)


def new_tokens(backbone: Backbone) -> tuple[ScoreTokens, ScoreTokens | None]:
    """Search the vocabulary for score tokens (after the score prefix) and level tokens."""
    score = find_score_tokens(backbone.tokenizer, answer_prefix=SCORE_PREFIX)
    try:
        level: ScoreTokens | None = find_level_tokens(backbone.tokenizer, answer_prefix=LEVEL_PREFIX)
    except Exception:
        level = None
    return score, level


def apply_adapters(model: Any, folder: Path, adapters: list[str]) -> Any:
    """Apply each stage's LoRA in order, merging it, so stage 2 sits on stage 1's weights."""
    if not adapters:
        return model
    from peft import PeftModel

    for name in adapters:
        d = folder / name
        if not d.is_dir():
            raise ModelNotAvailable(f"{folder}: adapter {name!r} listed in {META_FILE} is missing")
        model = PeftModel.from_pretrained(model, str(d)).merge_and_unload()
    return model


def load_vlm(
    path: str | os.PathLike[str],
    *,
    dtype: str | torch.dtype | None = "auto",
    device: str | None = "auto",
    resolution: int | None = None,
    allow_download: bool = False,
    base: str | None = None,
) -> VLM:
    """Load a fine-tuned artjudge VLM folder, or a bare transformers checkpoint."""
    path = str(path)
    meta = read_meta(path) if os.path.isdir(path) else None
    if meta is None:
        bb = load_backbone(
            path,
            dtype=dtype,
            device=device,
            resolution=resolution or DEFAULT_RESOLUTION,
            allow_download=allow_download,
        )
        score, level = new_tokens(bb)
        meta = VLMMeta(base=path, family=bb.family, model_type=bb.model_type, resolution=bb.resolution)
        return VLM(bb, score, level, meta, path)
    folder = Path(path)
    base_name = base or meta.base
    if not os.path.isabs(base_name) and (folder / base_name).is_dir():
        base_name = str((folder / base_name).resolve())
    bb = load_backbone(
        base_name,
        dtype=dtype,
        device=device,
        resolution=resolution or meta.resolution,
        allow_download=allow_download,
    )
    bb.model = apply_adapters(bb.model, folder, meta.adapters)
    bb.model.eval()
    if (folder / TOKENS_FILE).is_file():
        score, level = load_tokens(folder)
        check_tokens(bb.tokenizer, score)
    else:
        score, level = new_tokens(bb)
    return VLM(bb, score, level, meta, path)
