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
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from artjudge.errors import InputError
from artjudge.io.files import atomic_path

JUDGMENT_COLUMNS: tuple[str, ...] = ("annotator", "item_a", "item_b", "winner")
JUDGMENT_OPTIONAL: tuple[str, ...] = ("dimension", "confidence", "timestamp")
RATING_COLUMNS: tuple[str, ...] = ("annotator", "item", "score")
WINNERS: frozenset[str] = frozenset({"a", "b", "tie"})
DEFAULT_DIMENSION = "overall"


def _read_csv(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise InputError(str(path), "file not found")
    if p.stat().st_size == 0:
        raise InputError(str(path), "file is empty")
    try:
        return pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"not a readable CSV file ({err})") from err


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
    """Check and normalise a judgments table; return a clean copy with typed columns."""
    _require(df, JUDGMENT_COLUMNS, source)
    out = df.copy()
    for col in ("annotator", "item_a", "item_b", "winner"):
        out[col] = out[col].astype(str).str.strip()
    if out.empty:
        raise InputError(source, "no judgments")
    for col in ("annotator", "item_a", "item_b"):
        empty = out[col] == ""
        if empty.any():
            raise InputError(source, f"empty {col} at {_rows(empty)}")
    out["winner"] = out["winner"].str.lower()
    bad = ~out["winner"].isin(WINNERS)
    if bad.any():
        first = out.loc[bad, "winner"].iloc[0]
        raise InputError(source, f"winner must be one of a, b, tie; got {first!r} at {_rows(bad)}")
    self_cmp = out["item_a"] == out["item_b"]
    if self_cmp.any():
        item = out.loc[self_cmp, "item_a"].iloc[0]
        raise InputError(source, f"self-comparison (item {item!r} against itself) at {_rows(self_cmp)}")
    if "dimension" not in out.columns:
        out["dimension"] = DEFAULT_DIMENSION
    out["dimension"] = out["dimension"].astype(str).str.strip().replace("", DEFAULT_DIMENSION)
    if "confidence" in out.columns:
        raw = out["confidence"].astype(str).str.strip().replace("", "1")
        conf = pd.to_numeric(raw, errors="coerce")
        bad = conf.isna() | (conf < 0) | (conf > 1)
        if bad.any():
            raise InputError(source, f"confidence must be a number in [0, 1] at {_rows(bad)}")
        out["confidence"] = conf.astype(float)
    else:
        out["confidence"] = 1.0
    if "timestamp" not in out.columns:
        out["timestamp"] = ""
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
    df = validate_judgments(_read_csv(path), str(path))
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
        df.to_csv(fh, index=False)
