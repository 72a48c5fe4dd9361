"""CSV exports of a campaign, in the formats ``artjudge.preference`` reads (and ``artjudge fuse``).

Cells that a spreadsheet would run as a formula are prefixed with a quote.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from artjudge.errors import InputError
from artjudge.io.csv_cells import csv_cell
from artjudge.io.files import atomic_write_text
from artjudge.serve.analysis import PAIR_HEADER, RATING_HEADER

__all__ = [
    "EXPORT_NAMES",
    "PAIR_HEADER",
    "RATING_HEADER",
    "pair_rows",
    "rating_rows",
    "to_csv",
    "write_exports",
]

#: The file names ``artjudge campaign export`` writes: the ones ``artjudge fuse`` and the docs use.
EXPORT_NAMES: tuple[str, str] = ("judgments.csv", "ratings.csv")


#: The one escaping rule for every CSV artjudge writes (also ``assess --format csv``, ``fuse``, plans).
_csv_cell = csv_cell


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([_csv_cell(v) for v in r])
    return buf.getvalue()


def pair_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """judgments.csv rows as artjudge.preference reads them (winner in a, b, tie; item_a shown left)."""
    return [
        [
            r["annotator"],
            r["item_a"],
            r["item_b"],
            r["winner"],
            r["dimension"],
            "" if r["confidence"] is None else r["confidence"],
            r["timestamp"],
        ]
        for r in rows
        if r["kind"] == "pair"
    ]


def rating_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [[r["annotator"], r["item_a"], r["score"], r["dimension"]] for r in rows if r["kind"] == "rating"]


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    return _csv(header, rows)


def write_exports(rows: list[dict[str, Any]], out: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``judgments.csv`` and ``ratings.csv`` into folder ``out`` (made if missing).

    Refuses, before writing anything, when either file exists and ``force`` is false, so a
    second campaign's export never silently replaces the first one's.
    """
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(str(folder), "not a folder")
    paths = [folder / name for name in EXPORT_NAMES]
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise InputError(
            str(existing[0]), "already exists; use --force to overwrite or --out to pick another folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    texts = (to_csv(PAIR_HEADER, pair_rows(rows)), to_csv(RATING_HEADER, rating_rows(rows)))
    return [atomic_write_text(path, text) for path, text in zip(paths, texts, strict=True)]
