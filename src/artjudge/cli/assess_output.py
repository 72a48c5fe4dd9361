"""Writing Assessment records as JSON, JSON Lines or CSV, incrementally and resumably.

JSON Lines and CSV are appended record by record and flushed, so an interrupted run
keeps every finished record (a file replaced with ``--force`` is written beside and swapped
in at the end, so a kill keeps the old one); CSV cells are escaped against spreadsheet
formulas (:mod:`artjudge.io.csv_cells`); ``--resume`` reads them back to skip finished inputs. A JSON
array cannot be appended safely, so JSON output streams into a ``.partial.jsonl``
sidecar and is assembled atomically at the end.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from artjudge.io.csv_cells import csv_cell, unescape_csv_cell
from artjudge.io.files import atomic_write_text, dumps_strict, fsync_dir
from artjudge.record import Assessment, Failure

FORMATS = ("table", "json", "jsonl", "csv")
CSV_FIELDS = [
    "input",
    "sha256",
    "model_id",
    "model_version",
    "score",
    "interval_lo",
    "interval_hi",
    "interval_level",
    "std",
    "attributes",
    "notes",
    "error",
]


def record_row(rec: Assessment | Failure) -> dict[str, Any]:
    """One flat row for CSV and tables: the score, its error interval, then the raters' spread (std)."""
    if isinstance(rec, Failure):
        return {"input": rec.input, "error": rec.error}
    band = rec.overall.interval
    return {
        "input": rec.input,
        "sha256": rec.sha256,
        "model_id": rec.model.id,
        "model_version": rec.model.version,
        "score": round(rec.overall.score, 2),
        "interval_lo": round(band[0], 2) if band else "",
        "interval_hi": round(band[1], 2) if band else "",
        "interval_level": rec.overall.interval_level if band else "",
        "std": round(rec.overall.std, 2),
        "attributes": json.dumps({k: round(v.score, 2) for k, v in rec.attributes.items()})
        if rec.attributes
        else "",
        "notes": "; ".join(rec.notes),
        "error": "",
    }


def csv_row(rec: Assessment | Failure) -> dict[str, str]:
    """:func:`record_row` with every cell escaped so a spreadsheet runs no formula (``=cmd|..``.png)."""
    return {k: csv_cell(v) for k, v in record_row(rec).items()}


def record_json(rec: Assessment | Failure) -> dict[str, Any]:
    return rec.to_dict()


def done_counts(path: Path, fmt: str) -> Counter[str]:
    """How many records (scored or failed) each input already has in an earlier output, for ``--resume``.

    Counts, not a set: a manifest may list one image many times (one row per prompt), and
    records are written in row order, so the first ``n`` rows of an input that has ``n``
    records are the finished ones. Why: a set made ``--resume`` skip all 30 rows of an image
    after the first was written (issue 26.4).
    """
    sources = [path]
    if fmt == "json":
        sources.append(partial_path(path))
    done: Counter[str] = Counter()
    for src in sources:
        if not src.is_file():
            continue
        if fmt == "csv":
            with open(src, newline="", encoding="utf-8") as fh:
                done.update(unescape_csv_cell(row["input"]) for row in csv.DictReader(fh) if row.get("input"))
            continue
        text = src.read_text(encoding="utf-8")
        if fmt == "json" and src == path and text.strip().startswith("["):
            done.update(r["input"] for r in json.loads(text))
            continue
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                done[json.loads(line)["input"]] += 1
            except (json.JSONDecodeError, KeyError, TypeError):
                continue  # a line cut by a crash: that input is simply redone
    return done


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial.jsonl")


class RecordWriter:
    """Appends records to ``path`` in ``fmt``; call ``close()`` to finish (JSON is assembled then)."""

    def __init__(self, path: Path, fmt: str, *, append: bool) -> None:
        if fmt not in ("json", "jsonl", "csv"):
            raise ValueError(f"cannot write format {fmt!r} to a file")
        self.path = path
        self.fmt = fmt
        path.parent.mkdir(parents=True, exist_ok=True)
        target = partial_path(path) if fmt == "json" else path
        if (
            fmt == "json"
            and append
            and path.is_file()
            and path.read_text(encoding="utf-8").strip().startswith("[")
        ):
            # Fold a finished JSON array back into the sidecar so the final file holds both runs.
            old = json.loads(path.read_text(encoding="utf-8"))
            with open(target, "a", encoding="utf-8") as fh:
                for r in old:
                    fh.write(dumps_strict(r, ensure_ascii=False) + "\n")
        new_file = not target.exists() or not append or target.stat().st_size == 0
        if append and not new_file:
            with open(target, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                cut = fh.read(1) != b"\n"
            if cut:  # a crash cut the last line: close it so the next record starts clean
                with open(target, "a", encoding="utf-8") as fh:
                    fh.write("\n")
        # Replacing an existing file (--force): write a temporary file beside it and swap it in at
        # close(), so a kill mid-run keeps the old file whole instead of an emptied one.
        self._swap_to: Path | None = None
        if not append and target.exists():
            self._swap_to, target = target, target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self._written = target
        self._fh: IO[str] = open(target, "a" if append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv: csv.DictWriter[str] | None = None
        if fmt == "csv":
            self._csv = csv.DictWriter(self._fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
            if new_file:
                self._csv.writeheader()

    def write(self, rec: Assessment | Failure) -> None:
        if self._csv is not None:
            self._csv.writerow(csv_row(rec))
        else:
            self._fh.write(dumps_strict(record_json(rec), ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self._swap_to is not None:
            os.replace(self._written, self._swap_to)
            fsync_dir(self._swap_to.parent)
        if self.fmt == "json":
            side = partial_path(self.path)
            rows = [
                json.loads(line) for line in side.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
            write_json_atomic(self.path, rows)
            side.unlink()

    def abort(self) -> None:
        """Stop after an error or Ctrl-C: records written so far stay for ``--resume``, except
        that a file being replaced (``--force``) is kept as it was and the new one dropped."""
        self._fh.close()
        if self._swap_to is not None:
            self._written.unlink(missing_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_text(path, dumps_strict(data, ensure_ascii=False, indent=1))


def print_records(records: Iterable[Assessment | Failure], fmt: str) -> None:
    """Write records to standard output in a machine format."""
    import sys

    recs = list(records)
    if fmt == "json":
        sys.stdout.write(dumps_strict([record_json(r) for r in recs], ensure_ascii=False, indent=1))
        sys.stdout.write("\n")
    elif fmt == "jsonl":
        for r in recs:
            sys.stdout.write(dumps_strict(record_json(r), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in recs:
            w.writerow(csv_row(r))
