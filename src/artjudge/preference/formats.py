"""The CSV formats that people's judgments arrive in, read with validation.

Every bad row is reported with the file, the row number (1-based, header = row 1) and the
reason, because a fused score built on a silently dropped row is not trustworthy.

judgments.csv: ``annotator, item_a, item_b, winner`` (winner in {a, b, tie}) and optional
``dimension``, ``confidence`` (0..1), ``timestamp``.
ratings.csv: ``annotator, item, score`` and optional ``dimension``.
items.csv: ``item`` and optional ``score`` (a prior score, e.g. a previous ranking).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from artjudge.errors import InputError
from artjudge.io.csv_cells import csv_cell
from artjudge.io.files import atomic_path

JUDGMENT_COLUMNS: tuple[str, ...] = ("annotator", "item_a", "item_b", "winner")
JUDGMENT_OPTIONAL: tuple[str, ...] = ("dimension", "confidence", "timestamp")
RATING_COLUMNS: tuple[str, ...] = ("annotator", "item", "score")
WINNERS: frozenset[str] = frozenset({"a", "b", "tie"})
DEFAULT_DIMENSION = "overall"


CHUNK_ROWS = 1 << 14
"""Rows parsed at a time by the compact reader: bounds the text held in memory while reading."""


def _read_csv(path: str | Path, compact: bool = False) -> pd.DataFrame:
    """Every cell as text, exactly as written (no NA guessing, leading spaces skipped).

    ``compact``: each column becomes a categorical (sorted text categories + small integer
    codes), parsed ``CHUNK_ROWS`` rows at a time. A judgments file repeats a few hundred
    names over and over; as codes, 23.9 MiB of CSV takes 4 MiB instead of 49 MiB of
    strings, and the parser never holds the whole file as text (issue 18). The chunks are
    read as Python strings, not Arrow ones: Arrow's allocator kept ~10 MiB more after the read.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(str(path), "file not found")
    if p.stat().st_size == 0:
        raise InputError(str(path), "file is empty")
    opts: dict[str, object] = {"dtype": str, "keep_default_na": False, "skipinitialspace": True}
    try:
        if not compact:
            return pd.read_csv(p, **opts)
        parts: dict[str, list[pd.Categorical]] = {}
        chunked = {**opts, "dtype": object, "chunksize": CHUNK_ROWS}
        with pd.read_csv(p, **chunked) as reader:
            for chunk in reader:
                for col in chunk.columns:
                    parts.setdefault(col, []).append(pd.Categorical(chunk[col]))
        if not parts:  # a header and no rows: nothing to compact
            return pd.read_csv(p, **opts)
        return pd.DataFrame(
            {col: union_categoricals(cats, sort_categories=True) for col, cats in parts.items()}
        )
    except pd.errors.EmptyDataError:  # whitespace or blank lines only: no header to read
        raise InputError(str(path), "file has no header row (blank or whitespace only)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"not a readable CSV file ({err})") from err


def _map_text(column: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` (a vectorised text clean-up) applied once per distinct value, not once per row.

    The result is a categorical with sorted text categories; values that ``fn`` makes
    equal (" a" and "a") share one category. Missing cells stay missing.
    """
    cat = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype(str).astype("category")
    cleaned = fn(pd.Series(cat.cat.categories.astype(str))).to_numpy(dtype=object)
    uniq, inverse = np.unique(cleaned, return_inverse=True)
    codes = cat.cat.codes.to_numpy()
    mapped = np.where(codes >= 0, inverse[codes], -1)
    values = pd.Categorical.from_codes(mapped, categories=pd.Index(uniq, dtype=str))
    return pd.Series(values, index=column.index, name=column.name)


def _share_categories(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Give two categorical columns the same (sorted) categories, so their codes compare."""
    cats = a.cat.categories.union(b.cat.categories)
    return a.cat.set_categories(cats), b.cat.set_categories(cats)


def _require(df: pd.DataFrame, columns: Iterable[str], source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            source, f"missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}"
        )


def _rows(mask: np.ndarray | pd.Series, limit: int = 5) -> str:
    """1-based CSV line numbers (header is line 1) of the first bad rows."""
    idx = np.flatnonzero(np.asarray(mask)) + 2
    shown = ", ".join(str(i) for i in idx[:limit])
    return f"line {shown}" + (f" (+{len(idx) - limit} more)" if len(idx) > limit else "")


def validate_judgments(df: pd.DataFrame, source: str = "judgments") -> pd.DataFrame:
    """Check and normalise a judgments table; return a clean copy with typed columns.

    The text columns (annotator, item_a, item_b, winner, dimension) come back as
    categoricals with sorted categories; item_a and item_b share theirs, so
    :func:`artjudge.preference.graph.encode` reads item indices from the codes. A large
    file then costs a few bytes per row, not a string object per cell (issue 18).
    """
    _require(df, JUDGMENT_COLUMNS, source)
    out = df.copy()
    for col in ("annotator", "item_a", "item_b", "winner"):
        out[col] = _map_text(out[col], lambda s: s.str.strip())
    if out.empty:
        raise InputError(source, "no judgments")
    for col in ("annotator", "item_a", "item_b"):
        empty = out[col].isna() | (out[col] == "")
        if empty.any():
            raise InputError(source, f"empty {col} at {_rows(empty)}")
    out["winner"] = _map_text(out["winner"], lambda s: s.str.lower())
    bad = ~out["winner"].isin(WINNERS)
    if bad.any():
        first = out.loc[bad, "winner"].iloc[0]
        raise InputError(source, f"winner must be one of a, b, tie; got {first!r} at {_rows(bad)}")
    out["item_a"], out["item_b"] = _share_categories(out["item_a"], out["item_b"])
    self_cmp = out["item_a"].cat.codes == out["item_b"].cat.codes
    if self_cmp.any():
        item = out.loc[self_cmp, "item_a"].iloc[0]
        raise InputError(source, f"self-comparison (item {item!r} against itself) at {_rows(self_cmp)}")
    if "dimension" not in out.columns:
        out["dimension"] = pd.Categorical.from_codes(np.zeros(len(out), np.int8), [DEFAULT_DIMENSION])
    else:
        out["dimension"] = _map_text(out["dimension"], lambda s: s.str.strip().replace("", DEFAULT_DIMENSION))
    if "confidence" in out.columns:
        conf_col = _map_text(out["confidence"], lambda s: s.str.strip().replace("", "1"))
        per_value = pd.to_numeric(pd.Series(conf_col.cat.categories.astype(str)), errors="coerce")
        codes = conf_col.cat.codes.to_numpy()
        conf = pd.Series(np.where(codes >= 0, per_value.to_numpy(float)[codes], np.nan), index=out.index)
        bad = conf.isna() | (conf < 0) | (conf > 1)
        if bad.any():
            raise InputError(source, f"confidence must be a number in [0, 1] at {_rows(bad)}")
        out["confidence"] = conf.astype(float)
    else:
        out["confidence"] = 1.0
    if "timestamp" not in out.columns:
        out["timestamp"] = pd.Categorical.from_codes(np.zeros(len(out), np.int8), [""])
    return out.reset_index(drop=True)


def validate_ratings(
    df: pd.DataFrame,
    source: str = "ratings",
    scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Check and normalise a ratings table; scores outside ``scale`` (inclusive) are refused."""
    _require(df, RATING_COLUMNS, source)
    out = df.copy()
    if out.empty:
        raise InputError(source, "no ratings")
    for col in ("annotator", "item"):
        out[col] = out[col].astype(str).str.strip()
        empty = out[col] == ""
        if empty.any():
            raise InputError(source, f"empty {col} at {_rows(empty)}")
    score = pd.to_numeric(out["score"].astype(str).str.strip(), errors="coerce")
    bad = score.isna() | ~np.isfinite(score.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        raise InputError(source, f"score is not a number at {_rows(bad)}")
    out["score"] = score.astype(float)
    if scale is not None:
        lo, hi = scale
        outside = (out["score"] < lo) | (out["score"] > hi)
        if outside.any():
            first = out.loc[outside, "score"].iloc[0]
            raise InputError(
                source, f"score {first:g} outside the scale [{lo:g}, {hi:g}] at {_rows(outside)}"
            )
    if "dimension" not in out.columns:
        out["dimension"] = DEFAULT_DIMENSION
    out["dimension"] = out["dimension"].astype(str).str.strip().replace("", DEFAULT_DIMENSION)
    return out.reset_index(drop=True)


def read_judgments(path: str | Path) -> pd.DataFrame:
    """Read and validate a judgments CSV; warn about annotators with a single judgment."""
    df = validate_judgments(_read_csv(path, compact=True), str(path))
    warn_single_judgment_annotators(df, str(path))
    return df


def warn_single_judgment_annotators(df: pd.DataFrame, source: str) -> list[str]:
    """Annotators with one judgment cannot be checked for agreement; say so, keep them."""
    counts = df["annotator"].value_counts()
    single = sorted(counts[counts == 1].index.astype(str))
    if single:
        shown = ", ".join(single[:5]) + (f" (+{len(single) - 5} more)" if len(single) > 5 else "")
        warnings.warn(
            f"{source}: {len(single)} annotator(s) with a single judgment ({shown}); "
            "their agreement cannot be assessed",
            UserWarning,
            stacklevel=2,
        )
    return single


def read_ratings(path: str | Path, scale: tuple[float, float] | None = None) -> pd.DataFrame:
    return validate_ratings(_read_csv(path), str(path), scale)


def read_items(path: str | Path) -> pd.DataFrame:
    """Read an items list: column ``item`` and optional prior ``score``; duplicates refused."""
    df = _read_csv(path)
    source = str(path)
    _require(df, ("item",), source)
    df = df.copy()
    df["item"] = df["item"].astype(str).str.strip()
    empty = df["item"] == ""
    if empty.any():
        raise InputError(source, f"empty item at {_rows(empty)}")
    dup = df["item"].duplicated()
    if dup.any():
        raise InputError(source, f"duplicate item {df.loc[dup, 'item'].iloc[0]!r} at {_rows(dup)}")
    if "score" in df.columns:
        raw = df["score"].astype(str).str.strip()
        score = pd.to_numeric(raw.replace("", "nan"), errors="coerce")
        bad = score.isna() & (raw != "")
        if bad.any():
            raise InputError(source, f"score is not a number at {_rows(bad)}")
        df["score"] = score.astype(float)
    return df.reset_index(drop=True)


def check_known_items(df: pd.DataFrame, known: Iterable[str], source: str, columns: Iterable[str]) -> None:
    """Refuse ids that are not in the items list (usually a typo or a stale export)."""
    known_set = set(known)
    for col in columns:
        unknown = ~df[col].isin(known_set)
        if unknown.any():
            raise InputError(
                source, f"unknown item id {df.loc[unknown, col].iloc[0]!r} in {col} at {_rows(unknown)}"
            )


def write_csv(df: pd.DataFrame, path: str | Path) -> None:
    """Atomic write: a crash never leaves a half-written file in place of a good one."""
    with atomic_path(path, suffix=".tmp") as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
        _formula_safe(df).to_csv(fh, index=False)


def _formula_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells a spreadsheet would run as formulas (an item named ``=HYPERLINK(..)``) get a quote.

    The one rule of :mod:`artjudge.io.csv_cells`, as the campaign exports use; numbers stay as
    they are. Only text columns are touched (a categorical once per category).
    """
    out = df
    for col in df.columns:
        column = df[col]
        dtype = column.dtype
        if (
            isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
        ):
            safe = column.map(lambda v: csv_cell(v) if isinstance(v, str) else v)
            if out is df:
                out = df.copy()
            out[col] = safe
    return out
