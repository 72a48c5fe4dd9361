"""A reader for anyone's own ratings: a CSV or JSONL with named columns.

Teams rarely have a published format; they have a spreadsheet. Name the columns and the
scale and it becomes a Manifest like any public dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from artjudge.data._io import file_rows, numeric, read_csv, read_json_records, require_columns
from artjudge.data.common import SEEDED_NOTE, normalize_splits, seeded_split
from artjudge.data.manifest import Manifest, build_manifest
from artjudge.data.registry import register
from artjudge.errors import InputError

_IMAGE_COLS = ("image", "path", "image_path", "filename", "file", "image_name", "name")


def _as_list(cols: str | Sequence[str] | None) -> list[str]:
    if cols is None:
        return []
    if isinstance(cols, str):
        return [c.strip() for c in cols.split(",") if c.strip()]
    return [str(c) for c in cols]


def _parse_scale(scale: str | Sequence[float], source: str) -> tuple[float, float]:
    try:
        if isinstance(scale, str):
            lo_s, hi_s = scale.replace(":", ",").split(",")
            lo, hi = float(lo_s), float(hi_s)
        else:
            lo, hi = float(scale[0]), float(scale[1])
    except (ValueError, TypeError, IndexError):
        raise InputError(source, f"scale {scale!r} must be 'MIN,MAX', e.g. '1,10'") from None
    if not hi > lo:
        raise InputError(source, f"scale {scale!r}: MAX must exceed MIN")
    return lo, hi


@register(
    "csv",
    aliases=("generic", "jsonl", "custom"),
    label_files="any .csv / .jsonl with named columns",
    scale="declared with scale='MIN,MAX' (attributes: attr_scale, default the same)",
    split="split_col when given (train/val/test, training/validation/testing), else seeded by image",
)
def read_generic(
    path: Path,
    images: Path | None = None,
    *,
    score_col: str = "score",
    scale: str | Sequence[float] = "0,100",
    image_col: str | None = None,
    attr_cols: str | Sequence[str] | None = None,
    attr_scale: str | Sequence[float] | None = None,
    split_col: str | None = None,
    std_col: str | None = None,
    category_col: str | None = None,
    text_col: str | None = None,
    prompt_col: str | None = None,
    name: str = "custom",
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Manifest:
    """Read ``path`` (.csv, .tsv or .jsonl) with the columns named by the arguments.

    ``std_col`` is on the same scale as the score. Without ``split_col`` the rows are split
    reproducibly by image (``test_fraction``, ``val_fraction``, ``seed``).
    """
    src = str(path)
    if path.is_dir():
        raise InputError(src, "the generic reader needs a .csv or .jsonl file, not a folder")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json", ".ndjson"):
        df = pd.DataFrame(read_json_records(path, src))
        header = 0
    else:
        df = read_csv(path, src, sep="\t" if suffix == ".tsv" else ",", dtype=str)
        header = 1
    if df.empty:
        raise InputError(src, "file has no rows")
    lo, hi = _parse_scale(scale, src)
    a_lo, a_hi = _parse_scale(attr_scale, src) if attr_scale is not None else (lo, hi)
    img_col = image_col or next((c for c in _IMAGE_COLS if c in df.columns), None)
    if img_col is None:
        raise InputError(
            src,
            f"no image column (name one with image_col / --image-col); "
            f"found: {', '.join(map(str, df.columns))}",
        )
    attrs = _as_list(attr_cols)
    named = [
        img_col,
        score_col,
        *attrs,
        *(c for c in (split_col, std_col, category_col, text_col, prompt_col) if c),
    ]
    require_columns(df, named, src)
    rows = file_rows(len(df), header)
    images_rel = df[img_col].astype(str).str.strip().tolist()
    if split_col:
        split = normalize_splits(df[split_col].tolist(), src, header)
        notes = [f"split from column {split_col!r}"]
    else:
        split = seeded_split(images_rel, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
        notes = [SEEDED_NOTE.format(t=test_fraction, v=val_fraction, by="image", seed=seed)]
    return build_manifest(
        name=name,
        source=src,
        image_id=images_rel,
        rel_path=images_rel,
        score_raw=numeric(df, score_col, src, header_rows=header),
        scale=(lo, hi),
        split=split,
        std_raw=numeric(df, std_col, src, allow_missing=True, header_rows=header) if std_col else None,
        category=df[category_col].tolist() if category_col else None,
        text=df[text_col].tolist() if text_col else None,
        prompt=df[prompt_col].tolist() if prompt_col else None,
        attributes={c: numeric(df, c, src, allow_missing=True, header_rows=header) for c in attrs},
        attribute_scales=dict.fromkeys(attrs, (a_lo, a_hi)),
        images=images,
        source_rows=rows,
        notes=notes,
    )
