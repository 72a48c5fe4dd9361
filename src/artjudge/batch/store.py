"""The run's working folder: part files, the progress file, and the final merge.

``OUTPUT.parquet`` is built in ``OUTPUT.parquet.parts/``: one ``part-00042.parquet`` per
partition (rows 42*P .. 42*P+P-1), each written atomically, plus ``_progress.json`` (the
run's settings and counts, rewritten atomically after every part). The part files are the
truth: a part that exists is finished, whoever wrote it and however the run ended, so a
rerun (or a retried Dask task) redoes exactly the partitions that have no part file. When
every partition is done, the parts are merged, in order, into ``OUTPUT.parquet`` (one row
group per part) and removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow.parquet as pq

from artjudge.batch.sources import is_remote
from artjudge.batch.table import SCHEMA, conform
from artjudge.errors import ArtjudgeError
from artjudge.io.files import atomic_path, atomic_write_bytes, dumps_strict

PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")
PROGRESS = "_progress.json"


class BatchError(ArtjudgeError):
    """A batch run that cannot start or finish (settings changed, output unwritable)."""


@dataclass
class Progress:
    """What ``_progress.json`` holds: enough to refuse a mismatched rerun and to show how far a run got."""

    settings: dict[str, Any]
    parts_done: int = 0
    rows_done: int = 0
    failed: int = 0
    total_rows: int | None = None
    complete: bool = False
    output: str | None = None
    updated: float = field(default_factory=time.time)


def part_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


class PartStore:
    """Part files and progress for one output, on any fsspec filesystem."""

    def __init__(self, output: str) -> None:
        import fsspec

        self.output = output
        self.parts_dir = output.rstrip("/") + ".parts"
        self.fs, self._root = fsspec.core.url_to_fs(self.parts_dir)
        self.fs.makedirs(self._root, exist_ok=True)

    @staticmethod
    def has_run(output: str) -> bool:
        """True when an earlier ``run_batch`` into ``output`` left its progress file (so a rerun resumes it)."""
        import fsspec

        parts_dir = output.rstrip("/") + ".parts"
        fs, root = fsspec.core.url_to_fs(parts_dir)
        sep = "/" if is_remote(parts_dir) else os.sep
        return bool(fs.exists(root.rstrip(sep) + sep + PROGRESS))

    # -------------------------------------------------------------- paths
    def part_path(self, index: int) -> str:
        return self._join(part_name(index))

    def rows_path(self, index: int) -> str:
        """Where a Dask task finds its partition's input rows (removed once the part is written)."""
        return self._join(f"rows-{index:05d}.parquet")

    def remove(self, path: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path)

    def _join(self, name: str) -> str:
        if is_remote(self.parts_dir):
            return self.parts_dir.rstrip("/") + "/" + name
        return os.path.join(self.parts_dir, name)

    # -------------------------------------------------------------- progress
    def read_progress(self) -> Progress | None:
        path = self._join(PROGRESS)
        if not self.fs.exists(path):
            return None
        with self.fs.open(path, "r") as fh:
            data = json.load(fh)
        return Progress(**data)

    def write_progress(self, progress: Progress) -> None:
        progress.updated = time.time()
        data = (dumps_strict(asdict(progress), indent=2, sort_keys=True) + "\n").encode()
        path = self._join(PROGRESS)
        if is_remote(path):
            with self.fs.open(path, "wb") as fh:
                fh.write(data)
            return
        atomic_write_bytes(path, data)

    def check_settings(self, settings: dict[str, Any], *, restart: bool = False) -> Progress:
        """The progress to continue from; refuses to mix parts written under other settings."""
        old = self.read_progress()
        if old is not None and restart:
            self.clear()
            old = None
        if old is None:
            if any(True for _ in self.done_parts()):
                raise BatchError(
                    f"{self.parts_dir}: holds part files but no {PROGRESS}; remove the folder or pass --restart"
                )
            prog = Progress(settings=settings)
            self.write_progress(prog)
            return prog
        diff = {k: (old.settings.get(k), v) for k, v in settings.items() if old.settings.get(k) != v}
        if diff:
            what = "; ".join(f"{k}: was {a!r}, now {b!r}" for k, (a, b) in sorted(diff.items()))
            raise BatchError(
                f"{self.output}: an earlier run used other settings ({what}); rerun with the same "
                "settings to resume, or pass --restart to start over"
            )
        return old

    def clear(self) -> None:
        for path in self.fs.ls(self._root, detail=False):
            self.fs.rm(path)

    # -------------------------------------------------------------- parts
    def done_parts(self) -> Iterator[int]:
        """Indices of finished partitions (the part files present); stray temporaries are ignored."""
        for path in self.fs.ls(self._root, detail=False):
            m = PART_RE.match(path.rstrip("/").rsplit("/", 1)[-1])
            if m:
                yield int(m.group(1))

    def part_rows(self, index: int) -> tuple[int, int]:
        """``(rows, failed)`` of a finished part, from its footer metadata."""
        with self.fs.open(self.part_path(index), "rb") as fh:
            meta = pq.read_metadata(fh)
        kv = meta.metadata or {}
        failed = int(kv.get(b"artjudge.batch.failed", b"0"))
        return meta.num_rows, failed

    def part_fingerprint(self, index: int) -> str | None:
        """The input fingerprint a finished part was written with (None for parts from older versions)."""
        from artjudge.batch.sources import FINGERPRINT_KEY

        with self.fs.open(self.part_path(index), "rb") as fh:
            kv = pq.read_metadata(fh).metadata or {}
        value = kv.get(FINGERPRINT_KEY.encode())
        return None if value is None else value.decode()

    def merge(self, n_parts: int, *, keep_parts: bool = False) -> int:
        """Concatenate parts 0..n_parts-1 into the output (atomically); returns the row count."""
        import fsspec

        missing = [i for i in range(n_parts) if not self.fs.exists(self.part_path(i))]
        if missing:
            raise BatchError(
                f"{self.output}: cannot merge, {len(missing)} partition(s) missing (first: {missing[0]})"
            )
        rows = 0

        def write_parts(sink: Any) -> None:
            nonlocal rows
            with pq.ParquetWriter(sink, SCHEMA, compression="zstd") as writer:
                for i in range(n_parts):
                    with self.fs.open(self.part_path(i), "rb") as fh:
                        table = conform(pq.read_table(fh))  # parts from older versions lack new columns
                    writer.write_table(table.replace_schema_metadata(SCHEMA.metadata))
                    rows += table.num_rows

        out_fs, out_root = fsspec.core.url_to_fs(self.output)
        if is_remote(self.output):
            tmp = out_root + ".merging.tmp"
            with out_fs.open(tmp, "wb") as sink:
                write_parts(sink)
            out_fs.mv(tmp, out_root)
        else:
            with atomic_path(out_root, suffix=".tmp") as tmp_path, open(tmp_path, "wb") as sink:
                write_parts(sink)
        if not keep_parts:
            for i in range(n_parts):
                self.fs.rm(self.part_path(i))
            for path in self.fs.ls(self._root, detail=False):
                name = path.rstrip("/").rsplit("/", 1)[-1]
                if name.endswith(".tmp") or name.startswith("rows-"):
                    self.fs.rm(path)
        return rows
