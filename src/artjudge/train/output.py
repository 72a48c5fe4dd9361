"""Writing a trained model folder whole, and the card facts every trainer shares.

A retrain used to write its files one by one into the old folder: a kill between
``head.pt`` and ``card.json`` left a folder that did not load (the old model lost), a kill
after ``card.json`` paired new weights with the old ``rubric.json``, and a retrain without
attribute columns left the previous ``rubric.json`` / ``exemplars.npy`` behind to break the
critique. Here every file of a model is written into a new sibling folder, sealed
(``artjudge.models.weights.seal_folder``: the digest of every output-changing file), and only
then swapped in place of the old folder: a reader finds the old model or the new one,
never a mix, and nothing of the old model can survive into the new one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["card_data", "model_id_for", "resume_dir", "staged_model_folder"]


def model_id_for(out: Path, name: str | None) -> str:
    """A custom model's id: the ``--name`` given at train time, else the output folder's name.

    Never one constant for every custom model: the service's cache and the store key on the
    id (and version), and two rubric models must not answer with each other's records.
    """
    chosen = (name or "").strip() or Path(out).resolve().name
    return chosen or "artjudge-model"


def resume_dir(out: Path) -> Path:
    """Where an interrupted ensemble run keeps its per-epoch state (beside ``out``, not in it)."""
    out = Path(out)
    return out.parent / f".{out.name}.resume"


def _fsync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file() and not f.is_symlink():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _swap_in(new: Path, out: Path) -> None:
    """Replace ``out`` by ``new``: two renames, so ``out`` is the old folder or the new one.

    Between the two renames (microseconds) ``out`` is briefly absent; its old contents then
    sit in ``.NAME.old-*`` beside it, and :func:`staged_model_folder` puts them back on the
    next run if the swap never finished.
    """
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
        os.replace(out, old / out.name)
    os.replace(new, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _restore_interrupted_swap(out: Path) -> None:
    if out.exists():
        return
    for old in sorted(out.parent.glob(f".{out.name}.old-*")):
        kept = old / out.name
        if kept.is_dir():
            os.replace(kept, out)
            shutil.rmtree(old, ignore_errors=True)
            return


@contextmanager
def staged_model_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a new, empty sibling of ``out`` to write a model into; on success it replaces ``out``.

    The folder is sealed (digest of every output-changing file) as the last step before the
    swap. On an error nothing of ``out`` changes and the half-written folder is removed.
    """
    from artjudge.models.weights import seal_folder

    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    _restore_interrupted_swap(target)
    for left in target.parent.glob(f".{target.name}.new-*"):  # a killed run's half-written folder
        shutil.rmtree(left, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.new-"))
    try:
        yield stage
        seal_folder(stage)
        _fsync_tree(stage)
        os.chmod(stage, 0o755)
        _swap_in(stage, target)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def card_data(
    present: Any, splits: np.ndarray, targets: list[str], extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What trained the model, as the card states it: the file, its columns, rows, labels.

    ``extra`` carries what only the caller knows (the label file's column names, the group
    column); the rows and labelled counts are counted here from the rows actually used.
    """
    df = present.frame
    labelled: dict[str, int] = {}
    for t in targets:
        col = "score" if t == "overall" else f"attr.{t}"
        if col in df.columns:
            labelled[t] = int(np.isfinite(df[col].to_numpy(dtype=np.float64)).sum())
    data: dict[str, Any] = {
        "dataset": str(present.name),
        "labels": str(getattr(present, "source", "") or ""),
        "images": str(getattr(present, "images_root", "") or ""),
        "scale": [float(present.scale[0]), float(present.scale[1])],
        "rows": {str(k): int(v) for k, v in zip(*np.unique(splits, return_counts=True), strict=True)},
        "images_used": int(len(df)),
        "labelled": labelled,
    }
    scales = getattr(present, "attribute_scales", {}) or {}
    if scales:
        data["attribute_scales"] = {k: [float(v[0]), float(v[1])] for k, v in scales.items()}
    if extra:
        data.update(dict(extra))
    return data


def split_description(present: Any, fallback: str) -> str:
    """How rows were split, in the manifest's own words when it recorded them."""
    notes = [str(n) for n in getattr(present, "notes", []) or [] if "split" in str(n)]
    return "; ".join(notes) if notes else fallback
