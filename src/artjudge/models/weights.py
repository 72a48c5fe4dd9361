"""Shipped weights: where they live, how their hash is checked, how a checkpoint is written.

A checkpoint is a folder with ``head.pt`` (state dict, float16 where lossless enough),
``card.json`` (model card: id, version, data, split, metrics, date, config) and
``head.pt.sha256``. Loading refuses a file whose hash does not match, so a truncated
download or an edited file never produces silently wrong scores.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from artjudge.errors import ModelNotAvailable
from artjudge.io.files import atomic_write_bytes as _atomic_write_bytes
from artjudge.io.files import sha256_file

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = "default"


def resolve_checkpoint(model: str) -> Path:
    """A shipped model name (``default``) or a checkpoint folder path, as a folder."""
    candidate = PACKAGE_WEIGHTS / model
    if (candidate / "head.pt").is_file():
        return candidate
    path = Path(model).expanduser()
    if (path / "head.pt").is_file():
        return path
    if path.is_file() and path.name == "head.pt":
        return path.parent
    shipped = sorted(p.name for p in PACKAGE_WEIGHTS.iterdir() if (p / "head.pt").is_file()) if PACKAGE_WEIGHTS.is_dir() else []
    raise ModelNotAvailable(
        f"model {model!r}: no checkpoint found (a checkpoint is a folder with head.pt and card.json; "
        f"shipped models: {', '.join(shipped) or 'none'}; for a vision-language model use vlm:PATH)"
    )


QUANT_MIN_ELEMENTS = 100_000
_SCALE = ".__int8_scale__"


def compact_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Large matrices as int8 with one float scale per output row, the rest as float16.

    The shipped head's first layers hold almost all its parameters; per-row int8 keeps
    them within ~0.4% of their range, which moves scores by hundredths of a point (the
    accuracy benchmark measures the shipped, compacted weights) and keeps the package
    a few MB.
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if v.is_floating_point() and v.ndim == 2 and v.numel() >= QUANT_MIN_ELEMENTS:
            scale = v.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / 127.0
            out[k] = torch.round(v / scale).clamp(-127, 127).to(torch.int8)
            out[k + _SCALE] = scale.float()
        elif v.is_floating_point():
            out[k] = v.half()
        else:
            out[k] = v
    return out


def expand_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Inverse of :func:`compact_state`: every floating tensor back to float32."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if k.endswith(_SCALE):
            continue
        if k + _SCALE in state:
            out[k] = v.float() * state[k + _SCALE]
        else:
            out[k] = v.float() if v.is_floating_point() else v
    return out


def save_checkpoint(folder: Path, state: dict[str, torch.Tensor], card: dict[str, Any]) -> Path:
    """Write weights (compacted), hash and card atomically; returns the folder."""
    import io

    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save(compact_state(state), buf)
    data = buf.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    _atomic_write_bytes(folder / "head.pt", data)
    _atomic_write_bytes(folder / "head.pt.sha256", (digest + "  head.pt\n").encode())
    card = dict(card, sha256=digest, size_bytes=len(data))
    _atomic_write_bytes(folder / "card.json", (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode())
    return folder


def load_checkpoint(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict (float32) and model card, after checking the SHA-256."""
    weights = folder / "head.pt"
    card_path = folder / "card.json"
    if not card_path.is_file():
        raise ModelNotAvailable(f"{folder}: card.json is missing (every checkpoint carries its model card)")
    card = json.loads(card_path.read_text())
    expected = card.get("sha256")
    sidecar = folder / "head.pt.sha256"
    if sidecar.is_file():
        expected = sidecar.read_text().split()[0]
    actual = sha256_file(weights)
    if expected != actual:
        raise ModelNotAvailable(
            f"{weights}: SHA-256 mismatch (expected {expected}, found {actual}); the file is damaged or "
            "was changed: reinstall artjudge or retrain the checkpoint"
        )
    state = torch.load(weights, map_location="cpu", weights_only=True)
    return expand_state(state), card
