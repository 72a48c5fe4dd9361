"""Reading label files safely: every failure becomes one line naming the file and reason.

Published label files come in many encodings and containers (GBK-encoded CSV, CRLF
CSV inside a zip, MATLAB v5, xlsx); these helpers turn each into a DataFrame or raise
:class:`~artjudge.errors.InputError`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.errors import InputError

ENCODINGS: tuple[str, ...] = ("utf-8-sig", "gb18030", "cp1252")


def decode_bytes(raw: bytes, source: str) -> str:
    """Decode label text; APDDv2's CSV is GBK/GB18030 in places, most others UTF-8."""
    for enc in ENCODINGS:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError(source, "text is in none of the known encodings (" + ", ".join(ENCODINGS) + ")")


def read_csv(
    path: Path | str, source: str | None = None, *, data: bytes | None = None, **kwargs: Any
) -> pd.DataFrame:
    """Read a CSV (from disk or from bytes) with encoding fallback and one-line errors."""
    src = source or str(path)
    try:
        raw = data if data is not None else Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(src, "file not found") from None
    except OSError as err:
        raise InputError(src, f"cannot read ({err.strerror or err})") from None
    if not raw.strip():
        raise InputError(src, "file is empty")
    text = decode_bytes(raw, src)
    try:
        df = pd.read_csv(io.StringIO(text), **kwargs)
    except pd.errors.EmptyDataError:
        raise InputError(src, "file has no rows") from None
    except (pd.errors.ParserError, ValueError) as err:
        raise InputError(src, f"not a valid CSV ({str(err).splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_excel(path: Path, source: str | None = None) -> pd.DataFrame:
    src = source or str(path)
    if not path.is_file():
        raise InputError(src, "file not found")
    try:
        df = pd.read_excel(path, engine="openpyxl")
    except Exception as err:  # noqa: BLE001 - openpyxl raises many types for corrupt files
        raise InputError(src, f"not a readable .xlsx file ({type(err).__name__}: {err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_json_records(path: Path, source: str | None = None) -> list[dict[str, Any]]:
    """A JSON array of objects, or JSON Lines (one object per line)."""
    src = source or str(path)
    if not path.is_file():
        raise InputError(src, "file not found")
    text = decode_bytes(path.read_bytes(), src)
    if not text.strip():
        raise InputError(src, "file is empty")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(src, f"not valid JSON (line {err.lineno}: {err.msg})") from None
        if not all(isinstance(r, dict) for r in data):
            raise InputError(src, "expected a JSON array of objects")
        return list(data)
    if stripped.startswith("{") and "\n" not in stripped.strip():
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as err:
            raise InputError(src, f"not valid JSON ({err.msg})") from None
        return [obj] if isinstance(obj, dict) else []
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(src, f"line {n}: not valid JSON ({err.msg})") from None
        if not isinstance(obj, dict):
            raise InputError(src, f"line {n}: expected a JSON object")
        rows.append(obj)
    return rows


def open_zip(path: Path, source: str | None = None) -> zipfile.ZipFile:
    src = source or str(path)
    if not path.is_file():
        raise InputError(src, "file not found")
    try:
        zf = zipfile.ZipFile(path)
        bad = zf.testzip()
    except zipfile.BadZipFile as err:
        raise InputError(src, f"not a valid zip file ({err})") from None
    except (OSError, EOFError) as err:
        raise InputError(src, f"corrupt zip file ({err})") from None
    if bad is not None:
        raise InputError(src, f"corrupt zip file (member {bad!r} fails its CRC check)")
    return zf


def load_mat(path: Path, source: str | None = None) -> dict[str, Any]:
    import scipy.io

    src = source or str(path)
    if not path.is_file():
        raise InputError(src, "file not found")
    try:
        return dict(scipy.io.loadmat(str(path)))
    except NotImplementedError:
        raise InputError(src, "MATLAB v7.3 (HDF5) files are not supported; re-save with -v7") from None
    except Exception as err:  # noqa: BLE001 - scipy raises ValueError/TypeError/etc. for corrupt files
        raise InputError(src, f"not a readable MATLAB .mat file ({type(err).__name__}: {err})") from None


def require_columns(df: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            source,
            f"missing column(s) {', '.join(repr(c) for c in missing)}; "
            f"found: {', '.join(map(str, df.columns))}",
        )


def numeric(
    df: pd.DataFrame, column: str, source: str, *, allow_missing: bool = False, header_rows: int = 1
) -> np.ndarray:
    """A column as floats; a non-numeric cell is an error naming its file row."""
    s = df[column]
    vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    blank = s.isna().to_numpy()
    bad = np.isnan(vals) & (~blank if allow_missing else np.ones(len(vals), dtype=bool))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        cell = s.iloc[i]
        reason = "is empty" if blank[i] else f"is not a number ({cell!r})"
        raise InputError(source, f"row {i + 1 + header_rows}: column {column!r} {reason}")
    return vals


def file_rows(n: int, header_rows: int = 1) -> list[int]:
    """Row numbers as a spreadsheet shows them (the header is row 1)."""
    return list(range(1 + header_rows, n + 1 + header_rows))


def find_file(root: Path, names: Sequence[str], source: str, what: str) -> Path:
    """The first of ``names`` under ``root`` (searched recursively, shallow first)."""
    for name in names:
        direct = root / name
        if direct.is_file():
            return direct
    for name in names:
        hits = sorted(root.rglob(name), key=lambda p: (len(p.parts), str(p)))
        if hits:
            return hits[0]
    raise InputError(source, f"no {what} found (looked for {', '.join(names)})")
