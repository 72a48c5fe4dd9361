"""The dataset registry: one name per dataset, one function that reads it into a Manifest.

Modelled on pyiqa's single registry (``create_metric(name)``) with honest metadata: each
entry says which label file it reads and what its raw scale is, so ``artjudge datasets``
can list them without importing anything heavy.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from artjudge.data.manifest import Manifest
from artjudge.errors import InputError

ReaderFn = Callable[..., Manifest]

# Modules whose import registers readers (kept small so `import artjudge.data` stays cheap).
_READER_MODULES: tuple[str, ...] = (
    "artjudge.data.readers_art",
    "artjudge.data.readers_photo",
    "artjudge.data.generic",
)


@dataclass(frozen=True)
class ReaderInfo:
    """What a reader reads: used by ``artjudge datasets`` and docs/datasets.md."""

    name: str
    fn: ReaderFn
    label_files: str
    scale: str
    split: str
    aliases: tuple[str, ...] = field(default_factory=tuple)


_REGISTRY: dict[str, ReaderInfo] = {}
_ALIASES: dict[str, str] = {}


def register(
    name: str, *, label_files: str, scale: str, split: str, aliases: tuple[str, ...] = ()
) -> Callable[[ReaderFn], ReaderFn]:
    def deco(fn: ReaderFn) -> ReaderFn:
        _REGISTRY[name] = ReaderInfo(name, fn, label_files, scale, split, aliases)
        for a in (name, *aliases):
            _ALIASES[_norm(a)] = name
        return fn

    return deco


def _norm(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def _ensure_loaded() -> None:
    for mod in _READER_MODULES:
        importlib.import_module(mod)


def dataset_names() -> list[str]:
    _ensure_loaded()
    return list(_REGISTRY)


def reader_info(name: str) -> ReaderInfo:
    _ensure_loaded()
    key = _ALIASES.get(_norm(name))
    if key is None:
        raise InputError(name, f"unknown dataset; known: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def read_dataset(
    name: str,
    label_path_or_dir: str | os.PathLike[str],
    images: str | os.PathLike[str] | None = None,
    **opts: Any,
) -> Manifest:
    """Read a dataset's label file(s) into a validated Manifest.

    ``images`` is the folder holding the images (paths in the label files are relative
    to it); images need not be present: ``Manifest.missing_images()`` says which are not.
    """
    info = reader_info(name)
    path = Path(label_path_or_dir)
    if not path.exists():
        raise InputError(str(path), "label file or folder not found")
    img = Path(images) if images is not None else None
    if img is not None and not img.is_dir():
        raise InputError(str(img), "images folder not found")
    return info.fn(path, img, **opts)
