"""Training rows for the VLM: image, score, std, description, attribute scores and analyses.

Reads an artjudge manifest (``artjudge.data.manifest``) or a plain JSONL / CSV / Parquet
file with the same columns (``path``, ``score`` on 0-100, optional ``std``, ``text``,
``attr.<key>`` scores and ``text.<key>`` analyses, where ``<key>`` is an attribute or one
of the levels perception / cognition / emotion). Relative image paths resolve against the
file's folder, or ``images_root`` when given.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from artjudge.errors import InputError

ATTR_PREFIX = "attr."
TEXT_PREFIX = "text."


@dataclass
class Row:
    path: str
    score: float | None = None
    std: float | None = None
    text: str | None = None
    attrs: dict[str, float] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _str(x: Any) -> str | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    s = str(x).strip()
    return s or None


def _frame(path: Path) -> tuple[pd.DataFrame, Path]:
    """The rows and the folder relative image paths resolve against."""
    from artjudge.data.manifest import Manifest, meta_path

    if meta_path(path).is_file():  # a full artjudge manifest (rows + metadata beside them)
        m = Manifest.load(path)
        return m.frame, Path(m.images_root) if m.images_root else path.parent
    suffix = path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json"):
            df = pd.read_json(path, lines=suffix == ".jsonl")
        elif suffix == ".parquet":
            df = pd.read_parquet(path)
        elif suffix == ".csv":
            df = pd.read_csv(path)
        else:
            raise InputError(str(path), f"unknown manifest format {suffix!r}; use .jsonl, .csv or .parquet")
    except ValueError as err:
        raise InputError(str(path), f"cannot read the manifest ({err})") from err
    return df, path.parent


def load_rows(
    manifest: str | os.PathLike[str],
    split: str | None = "train",
    images_root: str | os.PathLike[str] | None = None,
    limit: int | None = None,
) -> list[Row]:
    """Rows of ``split`` (all rows when the file has no ``split`` column or split is None)."""
    path = Path(manifest)
    if not path.is_file():
        raise InputError(str(path), "manifest file not found")
    df, root = _frame(path)
    if images_root is not None:
        root = Path(images_root)
    if split and "split" in df.columns:
        df = df[df["split"] == split]
    col = "path" if "path" in df.columns else "rel_path" if "rel_path" in df.columns else None
    if col is None:
        raise InputError(str(path), "manifest has no 'path' (or 'rel_path') column")
    if len(df) == 0:
        raise InputError(str(path), f"no rows{f' in split {split!r}' if split else ''}")
    rows: list[Row] = []
    for rec in df.to_dict(orient="records"):
        p = Path(str(rec[col]))
        if not p.is_absolute():
            p = root / p
        r = Row(
            path=str(p), score=_num(rec.get("score")), std=_num(rec.get("std")), text=_str(rec.get("text"))
        )
        for k, v in rec.items():
            if k.startswith(ATTR_PREFIX) and _num(v) is not None:
                r.attrs[k[len(ATTR_PREFIX) :]] = float(v)
            elif k.startswith(TEXT_PREFIX) and _str(v):
                r.texts[k[len(TEXT_PREFIX) :]] = str(v).strip()
        if r.score is not None and not 0 <= r.score <= 100:
            raise InputError(f"{path}: row {len(rows) + 1}", f"score {r.score} is outside 0-100")
        rows.append(r)
        if limit and len(rows) >= limit:
            break
    return rows
