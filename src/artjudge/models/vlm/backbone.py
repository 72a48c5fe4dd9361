"""Loading a vision-language backbone and turning (images, chat text) into model inputs.

The HF multimodal ``Processor`` classes of Qwen-VL and InternVL insist on a video processor
that needs torchvision, which artjudge cannot depend on. So this module loads only the
tokenizer and the PIL image processor and expands the image placeholder itself: that is
a dozen lines per family and keeps full control of the fixed-resolution preprocessing
(one square of ``resolution`` pixels, no tiling, which ArtiMuse found best for aesthetics).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from artjudge.errors import InputError, ModelNotAvailable

DEFAULT_RESOLUTION = 448
FAMILIES: dict[str, str] = {
    "qwen2_5_vl": "qwen",
    "qwen2_vl": "qwen",
    "qwen3_vl": "qwen",
    "internvl": "internvl",
    "llava": "llava",
}
_DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_dtype(dtype: str | torch.dtype | None, device: str) -> torch.dtype:
    """``auto`` means bf16 on a GPU (what the 7-8B models were trained in), fp32 on a CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        return torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise InputError("--dtype", f"unknown dtype {dtype!r}; use auto, {', '.join(_DTYPES)}") from None


def resolve_device(device: str | None) -> str:
    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(device).startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device", f"{device!r} asked for but no CUDA device is available here")
    return str(device)


def _not_available(name: str, err: Exception) -> ModelNotAvailable:
    return ModelNotAvailable(
        f"VLM weights {name!r} are not on this machine ({type(err).__name__}: {str(err).splitlines()[0][:160]}). "
        "Point at a local folder holding config.json, the safetensors weights, the tokenizer and "
        "preprocessor_config.json (e.g. --model vlm:/models/Qwen2.5-VL-7B-Instruct), or fetch them on a "
        "machine with network (`hf download Qwen/Qwen2.5-VL-7B-Instruct --local-dir DIR`), "
        "or allow a download with allow_download=True / --allow-download."
    )


#: Weight files that are Python pickles: loading one can run any code it carries.
PICKLED_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


def refuse_pickled_weights(folder: str | os.PathLike[str], spec: str) -> None:
    """Raise :class:`ModelNotAvailable` when a local model folder holds pickled weights and no safetensors.

    Why: ``pytorch_model.bin`` is a pickle, so a downloaded folder could run code at load time,
    and transformers' own refusal surfaced as a traceback. Only safetensors are loaded here.
    """
    d = Path(folder)
    if not d.is_dir():
        return
    if any(d.glob("*.safetensors")):
        return
    pickled = sorted(f.name for f in d.iterdir() if f.suffix.lower() in PICKLED_WEIGHTS)
    if pickled:
        raise ModelNotAvailable(
            f"{spec}: holds only pickled weights ({', '.join(pickled[:3])}), which can run code when loaded; "
            "artjudge loads safetensors only: convert them where you trust the file "
            "(model.save_pretrained(DIR, safe_serialization=True))"
        )


@dataclass
class Backbone:
    """A loaded VLM: the model, its tokenizer and image processor, and where they came from."""

    model: Any
    tokenizer: Any
    image_processor: Any
    family: str
    model_type: str
    name: str
    resolution: int = DEFAULT_RESOLUTION
    device: str = "cpu"
    dtype: torch.dtype = torch.float32
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> Any:
        return self.model.config


def _model_class(model_type: str) -> Any:
    import transformers

    names = {
        "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
        "qwen2_vl": "Qwen2VLForConditionalGeneration",
        "qwen3_vl": "Qwen3VLForConditionalGeneration",
        "internvl": "InternVLForConditionalGeneration",
        "llava": "LlavaForConditionalGeneration",
    }
    return getattr(transformers, names.get(model_type, "AutoModelForImageTextToText"))


def load_backbone(
    name: str | os.PathLike[str],
    *,
    dtype: str | torch.dtype | None = "auto",
    device: str | None = "auto",
    resolution: int = DEFAULT_RESOLUTION,
    allow_download: bool = False,
) -> Backbone:
    """Load model, tokenizer and PIL image processor from a folder or a hub id.

    Nothing is downloaded unless ``allow_download`` is set: offline, a missing checkpoint
    raises :class:`ModelNotAvailable` saying what is missing and how to point at it.
    """
    from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

    name = str(name)
    local_only = not allow_download
    if os.path.isdir(name) and not (Path(name) / "config.json").is_file():
        raise ModelNotAvailable(f"{name}: folder has no config.json, so it is not a transformers checkpoint")
    if not os.path.isdir(name) and (
        name.startswith((".", "/", "~")) or os.sep in name and name.count("/") > 1
    ):
        raise ModelNotAvailable(f"{name}: no such folder; point --model vlm:PATH at a checkpoint folder")
    try:
        config = AutoConfig.from_pretrained(name, local_files_only=local_only)
    except (OSError, ValueError) as err:
        raise _not_available(name, err) from err
    model_type = str(getattr(config, "model_type", ""))
    if model_type not in FAMILIES:
        raise InputError(
            name, f"model type {model_type!r} is not supported; supported: {', '.join(FAMILIES)}"
        )
    refuse_pickled_weights(name, f"vlm:{name}")
    dev = resolve_device(device)
    dt = resolve_dtype(dtype, dev)
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_only)
        image_processor = AutoImageProcessor.from_pretrained(name, local_files_only=local_only, backend="pil")
        model = _model_class(model_type).from_pretrained(
            name,
            local_files_only=local_only,
            dtype=dt,
            device_map=None if dev == "cpu" else dev,
            use_safetensors=True,  # never unpickle a downloaded checkpoint
        )
    except OSError as err:
        raise _not_available(name, err) from err
    if dev == "cpu":
        model.to(dev)
    model.eval()
    family = FAMILIES[model_type]
    if family != "qwen":
        # CLIP / InternViT position embeddings fix the input size: use the model's own.
        size = getattr(config.vision_config, "image_size", resolution)
        resolution = int(size[0] if isinstance(size, (list, tuple)) else size)
    return Backbone(
        model=model,
        tokenizer=tokenizer,
        image_processor=image_processor,
        family=family,
        model_type=model_type,
        name=name,
        resolution=resolution,
        device=dev,
        dtype=dt,
    )


def square(image: Image.Image, size: int) -> Image.Image:
    """One fixed square, no tiling: aspect is not kept (ArtiMuse's finding for aesthetics)."""
    img = image.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BICUBIC)
    return img


def chat_prompt(backbone: Backbone, text: str, n_images: int = 1, system: str | None = None) -> str:
    """The model's own chat template around one user turn, ending with the assistant prefix."""
    content: list[dict[str, str]] = [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": text})
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
    messages.append({"role": "user", "content": content})
    tok = backbone.tokenizer
    if getattr(tok, "chat_template", None):
        return str(tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False))
    placeholder = {
        "qwen": "<|vision_start|><|image_pad|><|vision_end|>",
        "internvl": str(getattr(tok, "context_image_token", "<IMG_CONTEXT>")) + "\n",
        "llava": "<image>\n",
    }[backbone.family]
    return f"USER: {placeholder * n_images}{text} ASSISTANT:"


@dataclass
class Sample:
    """One sequence: a chat prompt with images, then answer tokens (possibly none).

    ``loss_ids`` marks which answer tokens carry language-model loss; ``score_at`` is the
    index in ``answer_ids`` of the score/level token, whose logits the score losses read.
    """

    prompt: str
    images: list[Image.Image]
    answer_ids: list[int] = field(default_factory=list)
    loss_mask: list[bool] = field(default_factory=list)
    score_at: int | None = None


class Encoder:
    """Builds padded (left) model inputs from samples; one place for every family's quirks."""

    def __init__(self, backbone: Backbone) -> None:
        self.b = backbone
        tok = backbone.tokenizer
        self.tok = tok
        cfg = backbone.config
        if backbone.family == "qwen":
            self.image_token = "<|image_pad|>"
        elif backbone.family == "internvl":
            # InternVL3-hf chat templates emit one <IMG_CONTEXT> per image; expanded below
            self.context_token = str(getattr(tok, "context_image_token", "<IMG_CONTEXT>"))
            self.image_token = self.context_token
            self.start_token = str(getattr(tok, "start_image_token", "<img>"))
            self.end_token = str(getattr(tok, "end_image_token", "</img>"))
            self.seq_len = int(getattr(cfg, "image_seq_length", 256))
        else:
            self.image_token = "<image>"
            vc = cfg.vision_config
            n = (int(vc.image_size) // int(vc.patch_size)) ** 2
            if getattr(cfg, "vision_feature_select_strategy", "default") == "full":
                n += 1
            self.seq_len = n
        pad = tok.pad_token_id
        if pad is None:
            pad = tok.eos_token_id if tok.eos_token_id is not None else 0
        self.pad_id = int(pad)
        self.image_token_id = int(cfg.image_token_id)

    def text_ids(self, text: str) -> list[int]:
        return list(self.tok(text, add_special_tokens=False)["input_ids"])

    def _pixel_inputs(self, images: list[Image.Image]) -> tuple[dict[str, torch.Tensor], list[int]]:
        res = self.b.resolution
        sq = [square(im, res) for im in images]
        ip = self.b.image_processor
        if self.b.family == "qwen":
            merge = int(getattr(ip, "merge_size", 2))
            out = ip(images=sq, return_tensors="pt", size={"shortest_edge": 1, "longest_edge": res * res})
            grid = out["image_grid_thw"]
            counts = [int(g.prod().item()) // (merge * merge) for g in grid]
            return {"pixel_values": out["pixel_values"], "image_grid_thw": grid}, counts
        if self.b.family == "internvl":
            out = ip(
                images=sq, return_tensors="pt", crop_to_patches=False, size={"height": res, "width": res}
            )
            return {"pixel_values": out["pixel_values"]}, [self.seq_len] * len(sq)
        out = ip(images=sq, return_tensors="pt", size={"height": res, "width": res}, do_center_crop=False)
        return {"pixel_values": out["pixel_values"]}, [self.seq_len] * len(sq)

    def _expand(self, prompt: str, counts: list[int]) -> str:
        parts = prompt.split(self.image_token)
        if len(parts) - 1 != len(counts):
            raise InputError("prompt", f"has {len(parts) - 1} image placeholders for {len(counts)} images")
        out = parts[0]
        for n, rest in zip(counts, parts[1:], strict=True):
            if self.b.family == "internvl":
                out += self.start_token + self.context_token * n + self.end_token
            else:
                out += self.image_token * n
            out += rest
        return out

    def _prompt_ids(self, text: str) -> list[int]:
        bos = getattr(self.tok, "bos_token", None)
        add = bool(bos) and self.b.family == "llava" and not text.startswith(str(bos))
        return list(self.tok(text, add_special_tokens=add)["input_ids"])

    def encode(self, samples: Sequence[Sample]) -> dict[str, Any]:
        """Tensors for a forward pass plus ``labels`` and ``score_pos`` (left padded)."""
        all_images = [im for s in samples for im in s.images]
        pix: dict[str, torch.Tensor] = {}
        counts: list[int] = []
        if all_images:
            pix, counts = self._pixel_inputs(all_images)
        seqs: list[list[int]] = []
        labels: list[list[int]] = []
        score_rel: list[int | None] = []
        k = 0
        for s in samples:
            c = counts[k : k + len(s.images)]
            k += len(s.images)
            p = self._prompt_ids(self._expand(s.prompt, c))
            mask = s.loss_mask or [True] * len(s.answer_ids)
            seqs.append(p + list(s.answer_ids))
            labels.append(
                [-100] * len(p) + [t if m else -100 for t, m in zip(s.answer_ids, mask, strict=True)]
            )
            # logits at position i predict token i+1
            score_rel.append(None if s.score_at is None else len(p) + s.score_at - 1)
        width = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        att = torch.zeros((len(seqs), width), dtype=torch.long)
        lab = torch.full((len(seqs), width), -100, dtype=torch.long)
        pos = torch.full((len(seqs),), width - 1, dtype=torch.long)
        for i, (sq, lb, sp) in enumerate(zip(seqs, labels, score_rel, strict=True)):
            off = width - len(sq)
            ids[i, off:] = torch.tensor(sq)
            att[i, off:] = 1
            lab[i, off:] = torch.tensor(lb)
            if sp is not None:
                pos[i] = off + sp
        batch: dict[str, Any] = {"input_ids": ids, "attention_mask": att, **pix}
        if self.b.family == "qwen":
            batch["mm_token_type_ids"] = (ids == self.image_token_id).long()
        return {"inputs": batch, "labels": lab, "score_pos": pos}

    def to_device(self, inputs: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in inputs.items():
            if isinstance(v, torch.Tensor):
                v = v.to(self.b.device)
                if v.is_floating_point():
                    v = v.to(self.b.dtype)
            out[k] = v
        return out
