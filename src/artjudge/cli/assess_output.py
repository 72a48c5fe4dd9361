"""Writing Assessment records as JSON, JSON Lines or CSV, incrementally and resumably.

JSON Lines and CSV are appended record by record and flushed, so an interrupted run
keeps every finished record; ``--resume`` reads them back to skip finished inputs. A JSON
array cannot be appended safely, so JSON output streams into a ``.partial.jsonl``
sidecar and is assembled atomically at the end.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from artjudge.io.files import atomic_write_text
from artjudge.record import Assessment, Failure

FORMATS = ("table", "json", "jsonl", "csv")
CSV_FIELDS = ["input", "sha256", "model_id", "model_version", "score", "std", "attributes", "notes", "error"]


def record_row(rec: Assessment | Failure) -> dict[str, Any]:
    """One flat row for CSV and tables."""
    if isinstance(rec, Failure):
        return {"input": rec.input, "error": rec.error}
    return {
        "input": rec.input,
        "sha256": rec.sha256,
        "model_id": rec.model.id,
        "model_version": rec.model.version,
        "score": round(rec.overall.score, 2),
        "std": round(rec.overall.std, 2),
        "attributes": json.dumps({k: round(v.score, 2) for k, v in rec.attributes.items()})
        if rec.attributes
        else "",
        "notes": "; ".join(rec.notes),
        "error": "",
    }


def record_json(rec: Assessment | Failure) -> dict[str, Any]:
    return rec.to_dict()


def done_inputs(path: Path, fmt: str) -> set[str]:
    """Inputs already present (scored or failed) in an earlier output, for ``--resume``."""
    sources = [path]
    if fmt == "json":
        sources.append(partial_path(path))
    done: set[str] = set()
    for src in sources:
        if not src.is_file():
            continue
        if fmt == "csv":
            with open(src, newline="", encoding="utf-8") as fh:
                done.update(row["input"] for row in csv.DictReader(fh) if row.get("input"))
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
                done.add(json.loads(line)["input"])
            except (json.JSONDecodeError, KeyError):
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
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        new_file = not target.exists() or not append or target.stat().st_size == 0
        if append and not new_file:
            with open(target, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                cut = fh.read(1) != b"\n"
            if cut:  # a crash cut the last line: close it so the next record starts clean
                with open(target, "a", encoding="utf-8") as fh:
                    fh.write("\n")
        self._fh: IO[str] = open(target, "a" if append else "w", newline="", encoding="utf-8")  # noqa: SIM115
        self._csv: csv.DictWriter[str] | None = None
        if fmt == "csv":
            self._csv = csv.DictWriter(self._fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
            if new_file:
                self._csv.writeheader()

    def write(self, rec: Assessment | Failure) -> None:
        if self._csv is not None:
            self._csv.writerow(record_row(rec))
        else:
            self._fh.write(json.dumps(record_json(rec), ensure_ascii=False) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        if self.fmt == "json":
            side = partial_path(self.path)
            rows = [
                json.loads(line) for line in side.read_text(encoding="utf-8").splitlines() if line.strip()
            ]
            write_json_atomic(self.path, rows)
            side.unlink()


def write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=1))


def print_records(records: Iterable[Assessment | Failure], fmt: str) -> None:
    """Write records to standard output in a machine format."""
    import sys

    recs = list(records)
    if fmt == "json":
        json.dump([record_json(r) for r in recs], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
    elif fmt == "jsonl":
        for r in recs:
            sys.stdout.write(json.dumps(record_json(r), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        w = csv.DictWriter(sys.stdout, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in recs:
            w.writerow(record_row(r))
