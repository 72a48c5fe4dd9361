"""Tiny, randomly initialised vision-language models of each supported family.

``artjudge vlm-tiny OUT`` and the tests need a real ``transformers`` checkpoint on disk
(config, weights, tokenizer, image processor) without any download, so that every
``vlm:PATH`` code path can be tried with no weights at hand. Each builder trains a
byte-level BPE tokenizer offline on a small corpus that contains the candidate score
strings, so the Token-As-Score search runs on a real tokenizer, wraps it with the family's
special tokens and chat template, assembles the image processor from the PIL processors
(torchvision is not needed), builds the model from a config with a hidden size of 32-64
and one or two layers, and saves everything through ``save_pretrained`` so it reloads via
``from_pretrained`` like a hub checkpoint. Its scores are random: it is for trying, not judging.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import torch

FAMILIES: tuple[str, ...] = ("qwen2_5_vl", "qwen3_vl", "internvl", "llava")

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}{{ IMAGE }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

LLAVA_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] == 'user' %} {% else %}</s>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def _corpus() -> list[str]:
    """Text that makes the BPE learn two-letter pairs and words of the prompts as tokens."""
    pairs = [a + b for a in string.ascii_lowercase for b in string.ascii_lowercase]
    words = [
        "the",
        "artwork",
        "score",
        "rate",
        "aesthetic",
        "quality",
        "of",
        "this",
        "image",
        "on",
        "a",
        "scale",
        "from",
        "0",
        "to",
        "100",
        "excellent",
        "good",
        "fair",
        "poor",
        "bad",
        "composition",
        "colour",
        "light",
        "emotion",
        "style",
        "technique",
        "which",
        "is",
        "better",
        "first",
        "second",
        "answer",
        "A",
        "B",
        "user",
        "assistant",
        "system",
        "describe",
        "analysis",
        "the",
        "painting",
        "shows",
        "strong",
        "balance",
        "warm",
        "colours",
        "and",
        "a",
        "calm",
        "mood",
        "Score",
        "is",
        "level",
    ]
    lines = []
    for _ in range(4):
        lines.append(" ".join(pairs))
        lines.append("".join(f"\n{p}" for p in pairs))
        lines.append(" ".join(words))
        lines.append(" ".join(str(i) for i in range(101)))
    return lines


def build_tokenizer(
    special: list[str],
    extra: dict[str, str] | None = None,
    template: str = CHATML_TEMPLATE,
    vocab_size: int = 1200,
) -> Any:
    """Train a byte-level BPE offline and wrap it as a ``PreTrainedTokenizerFast``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(_corpus(), vocab_size=vocab_size, min_frequency=2, special_tokens=special)
    kwargs: dict[str, Any] = {
        "tokenizer_object": bpe._tokenizer,
        "pad_token": special[0],
        "eos_token": special[1],
    }
    if extra:
        kwargs["extra_special_tokens"] = extra
    tok = PreTrainedTokenizerFast(**kwargs)
    tok.chat_template = template
    return tok


def _text_config(vocab: int, hidden: int = 32, **kw: Any) -> dict[str, Any]:
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 2048,
        **kw,
    }


def build_tiny_vlm(family: str, out: Path, image_size: int = 448) -> Path:
    """Write a tiny checkpoint of ``family`` to ``out`` and return the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    if family in ("qwen2_5_vl", "qwen3_vl"):
        _build_qwen(family, out, image_size)
    elif family == "internvl":
        _build_internvl(out, image_size)
    elif family == "llava":
        _build_llava(out, image_size)
    else:
        from artjudge.errors import InputError

        raise InputError("family", f"unknown family {family!r}; known: {', '.join(FAMILIES)}")
    return out


def _save(model: Any, tok: Any, improc: Any, out: Path) -> None:
    """Config, weights, tokenizer (with chat template) and image processor, as on the hub.

    The multimodal Processor is not saved: for Qwen-VL and InternVL it needs a video
    processor, which needs torchvision; artjudge reads tokenizer and image processor apart.
    """
    model.save_pretrained(out)
    tok.save_pretrained(out)
    improc.save_pretrained(out)


def _build_qwen(family: str, out: Path, image_size: int) -> None:
    special = [
        "<|endoftext|>",
        "<|im_end|>",
        "<|im_start|>",
        "<|vision_start|>",
        "<|vision_end|>",
        "<|image_pad|>",
        "<|video_pad|>",
    ]
    template = CHATML_TEMPLATE.replace("{{ IMAGE }}", "<|vision_start|><|image_pad|><|vision_end|>")
    tok = build_tokenizer(special, template=template)
    ids = {s: tok.convert_tokens_to_ids(s) for s in special}
    build = _qwen2_5 if family == "qwen2_5_vl" else _qwen3
    model, improc = build(ids, len(tok), image_size)
    _save(model, tok, improc, out)


def _qwen2_5(ids: dict[str, int], vocab: int, image_size: int) -> tuple[Any, Any]:
    """A tiny Qwen2.5-VL (randomly initialised from torch's seed) and its image processor."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
    )

    patch = 14
    config = Qwen2_5_VLConfig(  # type: ignore[call-arg]
        text_config=_text_config(
            vocab,
            rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]},
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
        ),
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "patch_size": patch,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [0],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    model = Qwen2_5_VLForConditionalGeneration(config)
    improc = Qwen2VLImageProcessorPil(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=28 * 28,
        max_pixels=image_size * image_size,
    )
    return model, improc


def _qwen3(ids: dict[str, int], vocab: int, image_size: int) -> tuple[Any, Any]:
    """A tiny Qwen3-VL (randomly initialised from torch's seed) and its image processor."""
    from transformers import (
        Qwen2VLImageProcessorPil,
        Qwen3VLConfig,
        Qwen3VLForConditionalGeneration,
    )

    patch = 16
    config = Qwen3VLConfig(
        text_config=_text_config(
            vocab,
            head_dim=8,
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            rope_scaling={"rope_type": "default", "mrope_section": [1, 1, 2], "mrope_interleaved": True},
        ),
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "patch_size": patch,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    model = Qwen3VLForConditionalGeneration(config)
    improc = Qwen2VLImageProcessorPil(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=32 * 32,
        max_pixels=image_size * image_size,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )
    return model, improc


def _build_internvl(out: Path, image_size: int) -> None:
    from transformers import (
        GotOcr2ImageProcessorPil,
        InternVLConfig,
        InternVLForConditionalGeneration,
    )

    special = ["<|endoftext|>", "<|im_end|>", "<|im_start|>", "<img>", "</img>", "<IMG_CONTEXT>", "<video>"]
    template = CHATML_TEMPLATE.replace("{{ IMAGE }}", "<IMG_CONTEXT>\n")  # as InternVL3-hf
    extra = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tok = build_tokenizer(special, extra=extra, template=template)
    patch = 14
    seq = (image_size // patch) ** 2 // 4
    config = InternVLConfig(
        vision_config={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "image_size": [image_size, image_size],
            "patch_size": [patch, patch],
        },
        text_config={"model_type": "qwen2", **_text_config(len(tok))},
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"),
        image_seq_length=seq,
    )
    model = InternVLForConditionalGeneration(config)
    improc = GotOcr2ImageProcessorPil(
        size={"height": image_size, "width": image_size},
        crop_to_patches=False,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    _save(model, tok, improc, out)


def _build_llava(out: Path, image_size: int) -> None:
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration

    special = ["<pad>", "</s>", "<s>", "<image>"]
    tok = build_tokenizer(special, template=LLAVA_TEMPLATE)
    patch = 14
    config = LlavaConfig(  # type: ignore[call-arg]
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": patch,
            "projection_dim": 32,
        },
        text_config={"model_type": "llama", **_text_config(len(tok))},
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
    )
    model = LlavaForConditionalGeneration(config)
    improc = CLIPImageProcessorPil(
        size={"height": image_size, "width": image_size},
        do_center_crop=False,
        crop_size={"height": image_size, "width": image_size},
    )
    _save(model, tok, improc, out)


__all__ = ["FAMILIES", "build_tiny_vlm", "build_tokenizer"]
