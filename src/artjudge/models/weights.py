"""The one weights module: where shipped weights live, the one file format, hashes always checked.

Every weights file artjudge writes (a head checkpoint's ``head.pt``, the process judge's
``.pt``, the distilled student) is a ``torch.save`` of tensors and plain types only, so it
loads with ``torch.load(weights_only=True)`` (no pickled code runs), with its SHA-256 in
``NAME.sha256`` beside it (and, for a checkpoint folder, in ``card.json`` too). Loading
refuses a file whose digest is missing or does not match, so a truncated download or an
edited file never produces silently wrong scores.

A head checkpoint is a folder with ``head.pt`` (state dict, int8/float16 compacted),
``head.pt.sha256`` and ``card.json`` (model card: id, version, data, split, metrics, date,
config, sha256).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from artjudge.errors import ModelNotAvailable
from artjudge.io.files import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    sha256_bytes,
    sha256_file,
)

if TYPE_CHECKING:  # torch is imported where a .pt file is read or written: scoring with ONNX needs none
    import torch

PACKAGE_WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = "default"
#: The multi-scale encoder as an ONNX graph (scripts/export_onnx.py), shared by every head checkpoint.
ENCODER_ONNX = PACKAGE_WEIGHTS / "onnx" / "encoder-lite0-ms1.onnx"
#: A head checkpoint's ONNX graph, beside its head.pt (the shipped default has one).
HEAD_ONNX = "head.onnx"
#: The process judge's frame encoder (128 px frames -> 4 x 4 patch tokens) and the Lite0
#: classifier it reads concept logits with, as ONNX graphs (scripts/export_onnx.py).
PROCESS_TOKENS_ONNX = PACKAGE_WEIGHTS / "onnx" / "process-lite0-r128-g4.onnx"
PROCESS_CLASSIFIER_ONNX = PACKAGE_WEIGHTS / "onnx" / "process-lite0-classifier.onnx"


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
    shipped = (
        sorted(p.name for p in PACKAGE_WEIGHTS.iterdir() if (p / "head.pt").is_file())
        if PACKAGE_WEIGHTS.is_dir()
        else []
    )
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
    import torch

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


def sidecar_path(path: Path) -> Path:
    """Where a weights file's SHA-256 lives: ``NAME.sha256`` beside it (``sha256sum`` format)."""
    return path.with_name(path.name + ".sha256")


_PLAIN = (str, int, float, bool, type(None))


def _plain(obj: Any, where: str) -> Any:
    """``obj`` with numpy scalars as Python numbers; refuses anything ``weights_only=True`` would.

    Checking at save time means a training run fails on its last line with a clear message
    instead of writing a file that no one can load safely.
    """
    import torch

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, torch.Tensor) or type(obj) in _PLAIN:
        return obj
    if isinstance(obj, dict):
        bad = [k for k in obj if type(k) not in (str, int)]
        if bad:
            raise TypeError(f"weights {where}: key {bad[0]!r} is not a str or int")
        return type(obj)((k, _plain(v, f"{where}.{k}")) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v, f"{where}[{i}]") for i, v in enumerate(obj))
    hint = "store arrays as tensors" if isinstance(obj, np.ndarray) else "store configs as plain types"
    raise TypeError(f"weights {where}: {type(obj).__name__} cannot be loaded with weights_only=True ({hint})")


def save_weights_file(path: Path, blob: dict[str, Any]) -> str:
    """One weights file (tensors and plain types only) + ``PATH.sha256``, atomically; returns the SHA-256.

    The one on-disk format for every artjudge weights file: a head checkpoint's
    ``head.pt``, the process judge's ``.pt``, the distilled student. Anything that would
    need pickled Python objects to load is refused here (see :func:`_plain`).
    """
    import torch

    buf = io.BytesIO()
    torch.save(_plain(blob, "blob"), buf)
    data = buf.getvalue()
    digest = sha256_bytes(data)
    atomic_write_bytes(path, data)
    atomic_write_text(sidecar_path(path), f"{digest}  {path.name}\n")
    return digest


def expected_sha256(path: Path, card_sha256: str | None = None) -> str:
    """The digest ``path`` must have: its sidecar and/or its model card's; a missing one is an error.

    Both are checked when both exist, so an edited card or a stale sidecar cannot hide a
    changed file.
    """
    sidecar = sidecar_path(path)
    found: list[str] = []
    if sidecar.is_file():
        parts = sidecar.read_text().split()
        if not parts:
            raise ModelNotAvailable(f"{sidecar}: empty; it should hold the SHA-256 of {path.name}")
        found.append(parts[0].lower())
    if card_sha256:
        found.append(card_sha256.lower())
    if not found:
        where = f"{sidecar.name} is missing" + (
            " and the model card has no sha256" if card_sha256 is not None else ""
        )
        raise ModelNotAvailable(f"{path}: no SHA-256 to check it against ({where}); copy it with the weights")
    if len(set(found)) > 1:
        raise ModelNotAvailable(
            f"{path}: {sidecar.name} ({found[0]}) and the model card ({found[1]}) "
            "disagree on its SHA-256; reinstall or re-save the checkpoint"
        )
    return found[0]


def verify_sha256(path: Path, expected: str) -> None:
    actual = sha256_file(path)
    if actual != expected:
        raise ModelNotAvailable(
            f"{path}: SHA-256 mismatch (expected {expected}, found {actual}); the file is damaged or "
            "was changed: reinstall artjudge or retrain the checkpoint"
        )


def load_weights_file(
    path: Path, *, check_hash: bool = True, card_sha256: str | None = None
) -> dict[str, Any]:
    """A file written by :func:`save_weights_file`, after checking its SHA-256, with ``weights_only=True``.

    ``check_hash=False`` is for training code reading its own fresh output only; everything
    that serves scores checks the digest, and a missing digest is an error, not a skip.
    """
    if not path.is_file():
        raise ModelNotAvailable(f"{path}: no such weights file")
    if check_hash:
        verify_sha256(path, expected_sha256(path, card_sha256))
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # an old pickled format or not a torch file at all
        raise ModelNotAvailable(
            f"{path}: not a safe artjudge weights file ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(blob, dict):
        raise ModelNotAvailable(f"{path}: not an artjudge weights file (top level is {type(blob).__name__})")
    return blob


def read_verified(path: Path) -> bytes:
    """The bytes of a shipped graph (an ONNX file) after checking them against ``NAME.sha256``.

    The bytes are read once and hashed as read, then handed to ONNX Runtime as they are, so
    the file checked is the file run (no second read that could see a different file).
    """
    if not path.is_file():
        raise ModelNotAvailable(
            f"{path}: no such model graph (reinstall artjudge or run scripts/export_onnx.py)"
        )
    expected = expected_sha256(path)
    data = path.read_bytes()
    actual = sha256_bytes(data)
    if actual != expected:
        raise ModelNotAvailable(
            f"{path}: SHA-256 mismatch (expected {expected}, found {actual}); the file is damaged or "
            "was changed: reinstall artjudge or re-export it with scripts/export_onnx.py"
        )
    return data


def write_verified(path: Path, data: bytes) -> str:
    """Write a graph and its ``NAME.sha256`` atomically (scripts/export_onnx.py); returns the digest."""
    digest = sha256_bytes(data)
    atomic_write_bytes(path, data)
    atomic_write_text(sidecar_path(path), f"{digest}  {path.name}\n")
    return digest


def save_checkpoint(folder: Path, state: dict[str, torch.Tensor], card: dict[str, Any]) -> Path:
    """Write weights (compacted), hash and card atomically; returns the folder."""
    weights = folder / "head.pt"
    digest = save_weights_file(weights, compact_state(state))
    card = dict(card, sha256=digest, size_bytes=weights.stat().st_size)
    atomic_write_json(folder / "card.json", card, indent=2, ensure_ascii=False)
    return folder


def load_checkpoint(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """State dict (float32) and model card, after checking the SHA-256 (sidecar and card)."""
    card = read_card(folder)
    state = load_weights_file(folder / "head.pt", card_sha256=str(card.get("sha256") or ""))
    return expand_state(state), card


# ---------------------------------------------------------------- model folders: seal and identity

#: The digest manifest :func:`seal_folder` writes into a model folder.
SEAL_FILE = "seal.json"
SEAL_FORMAT = "artjudge-seal/1"
#: Files that cannot change a model's outputs: digest sidecars (they restate a sealed file's
#: digest) and prose. Everything else in the folder (weights, card.json, rubric.json,
#: exemplars.npy, signals and residual JSON, configs, tokenizers) is sealed.
_UNSEALED_SUFFIXES = (".sha256", ".md", ".txt")
#: How many hex digits of the folder digest a model's version carries.
SHORT_DIGEST = 12


def _sealed_files(folder: Path) -> list[Path]:
    """The files of a model folder that change its outputs, in a fixed order (relative POSIX path).

    Hidden files and folders (an atomic write's temporary, ``.cache``) and ``__pycache__``
    are skipped: they are never read by a loader.
    """
    out = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
            continue
        if path.is_file() and rel.as_posix() != SEAL_FILE and not path.name.endswith(_UNSEALED_SUFFIXES):
            out.append(path)
    return sorted(out, key=lambda p: p.relative_to(folder).as_posix())


def _combined_digest(files: dict[str, str]) -> str:
    """One digest over ``{relative path: SHA-256}``: the names count, so a renamed file changes it."""
    lines = "".join(f"{digest}  {name}\n" for name, digest in sorted(files.items()))
    return sha256_bytes(lines.encode("utf-8"))


def _file_digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): sha256_file(p) for p in _sealed_files(folder)}


def seal_folder(folder: str | Path) -> str:
    """Write ``seal.json`` (the SHA-256 of every output-changing file) into a model folder; returns its digest.

    Every writer of a model folder (training, calibration, rubric fitting, VLM merging) calls
    this as its last step, before the folder is swapped into place; loading then refuses a
    folder whose files differ from their seal (:func:`folder_digest`), and the model's version
    carries the digest (:func:`versioned`), so every cache keyed on the version sees a change.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelNotAvailable(f"{folder}: no such model folder to seal")
    files = _file_digests(folder)
    digest = _combined_digest(files)
    atomic_write_json(folder / SEAL_FILE, {"format": SEAL_FORMAT, "digest": digest, "files": files}, indent=2)
    return digest


def _read_seal(path: Path) -> dict[str, str]:
    """The ``files`` map of a seal, or one line saying why the seal cannot be read."""
    try:
        seal = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelNotAvailable(
            f"{path}: damaged ({type(err).__name__}); reinstall the model or re-seal it after checking its files"
        ) from None
    if (
        not isinstance(seal, dict)
        or seal.get("format") != SEAL_FORMAT
        or not isinstance(seal.get("files"), dict)
    ):
        raise ModelNotAvailable(f"{path}: not an artjudge seal (expected format {SEAL_FORMAT!r})")
    return {str(k): str(v).lower() for k, v in seal["files"].items()}


def folder_digest(folder: str | Path) -> str:
    """A model folder's digest, after checking every file against its seal.

    A sealed folder (``seal.json``) must hold exactly the sealed files with their digests: a
    changed, missing or added output-changing file is refused with one line. A folder written
    before seals existed gets its digest computed from its files as they are (no check to make),
    so its version still changes whenever they do.
    """
    folder = Path(folder)
    seal_path = folder / SEAL_FILE
    actual = _file_digests(folder)
    if not seal_path.is_file():
        return _combined_digest(actual)
    sealed = _read_seal(seal_path)
    for name in sorted(set(sealed) | set(actual)):
        if name not in actual:
            problem = "is missing"
        elif name not in sealed:
            problem = "is not in the seal (added after the model was written)"
        elif actual[name] != sealed[name]:
            problem = f"SHA-256 mismatch with its seal (found {actual[name][:12]}..., sealed {sealed[name][:12]}...)"
        else:
            continue
        raise ModelNotAvailable(
            f"{folder / name}: {problem}; the model folder was changed after it was written: "
            "reinstall or retrain it (or run artjudge.models.weights.seal_folder on it if the change is yours)"
        )
    return _combined_digest(sealed)


def files_digest(paths: Sequence[Path]) -> str:
    """The same combined digest over loose files (by name), for a model that is a file and its companions.

    A process judge given as ``PATH.pt`` outside a sealed folder is its weights plus the
    readout and residual-std JSON beside it; all of them change its scores.
    """
    return _combined_digest({p.name: sha256_file(p) for p in paths if p.is_file()})


def versioned(card_version: str, digest: str) -> str:
    """A model's version: its card's version plus a short digest of its files (``2026.11.22+1a2b3c4d5e6f``)."""
    return f"{card_version}+{digest[:SHORT_DIGEST]}"


def read_card(folder: Path, name: str = "card.json") -> dict[str, Any]:
    """A model folder's card as a dict; missing or damaged (truncated, not JSON, not an object) is one line."""
    path = folder / name
    if not path.is_file():
        raise ModelNotAvailable(f"{folder}: {name} is missing (every model folder carries its model card)")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelNotAvailable(
            f"{path}: damaged ({type(err).__name__} at {getattr(err, 'pos', '?')}); reinstall or retrain the model"
        ) from None
    if not isinstance(card, dict):
        raise ModelNotAvailable(
            f"{path}: damaged (a model card is a JSON object, found {type(card).__name__})"
        )
    return card
