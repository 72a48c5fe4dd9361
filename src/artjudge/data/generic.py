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


#: The columns of ``artjudge fuse --out`` (long: one row per method, dimension and item).
_FUSED_COLS = frozenset({"method", "dimension", "item", "fused"})


def _pivot_fused(
    df: pd.DataFrame, src: str, score_col: str, bounds: tuple[float, float], attr_bounds: tuple[float, float]
) -> tuple[pd.DataFrame, list[str]]:
    """``artjudge fuse --out``'s long table as one row per item and one column per dimension.

    So that the fused scores of a campaign train as they are written (``--image-col item
    --score-col DIM --attr-cols DIM2,...``). One method is used (Bradley-Terry when present:
    fuse's default); a fused score outside the declared scale (an extrapolation of the
    preference latent) is clipped to it, and a note says how many were.
    """
    methods = sorted(df["method"].unique())
    method = "bt" if "bt" in methods else methods[0]
    part = df[df["method"] == method]
    if "group" in part.columns and part["group"].fillna("").nunique() > 1:
        raise InputError(
            src, "fused table has several annotator groups; fuse without --group-column to train"
        )
    values = pd.to_numeric(part["fused"], errors="coerce")
    wide = values.groupby([part["item"], part["dimension"]]).mean().unstack("dimension")
    clipped = 0
    for col in wide.columns:
        lo, hi = bounds if col == score_col else attr_bounds
        clipped += int(((wide[col] < lo) | (wide[col] > hi)).sum())
        wide[col] = wide[col].clip(lo, hi)
    wide = wide.reset_index().astype(str).replace("nan", "")
    wide.columns = [str(c) for c in wide.columns]
    notes = [f"fused table: method {method!r} of {', '.join(methods)}, one row per item"]
    if clipped:
        notes.append(f"fused table: {clipped} score(s) outside the declared scale clipped to it")
    return wide, notes


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


def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """The label file as a frame (CSV/TSV cells as text) and its header rows (for row numbers)."""
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
    return df, header


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
    reproducibly by image (``test_fraction``, ``val_fraction``, ``seed``). ``artjudge fuse
    --out``'s table (long: method, dimension, item, fused, ...) is read as one row per item
    with one column per dimension (``_pivot_fused``), so a campaign's fused scores train as
    written.
    """
    src = str(path)
    df, header = _read_table(path)
    lo, hi = _parse_scale(scale, src)
    a_lo, a_hi = _parse_scale(attr_scale, src) if attr_scale is not None else (lo, hi)
    fused_notes: list[str] = []
    if set(df.columns) >= _FUSED_COLS and score_col not in df.columns:
        df, fused_notes = _pivot_fused(df, src, score_col, (lo, hi), (a_lo, a_hi))
        image_col = image_col or "item"
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
    notes = fused_notes + notes
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
