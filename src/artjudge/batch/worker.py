"""The unit of work both engines run: score one partition and write its part file.

On Dask each worker process keeps its scorer in a module-level cache, so the model loads
once per worker however many partitions it runs. The task is idempotent: a part file that
already exists (written by a worker that died before reporting, or by an earlier run) is
reported, not rewritten, which is what makes Dask's rescheduling and ``retries`` safe.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from artjudge.batch.scoring import ScorerFactory, ScorerLike, score_rows
from artjudge.batch.sources import FINGERPRINT_KEY, InputRow, partition_fingerprint
from artjudge.batch.table import failure_row, to_table, write_atomic

log = logging.getLogger(__name__)

_SCORERS: dict[str, ScorerLike] = {}
_LOCK = threading.Lock()


def cached_scorer(key: str, factory: ScorerFactory, threads: int | None = None) -> ScorerLike:
    """This process's scorer for ``key``, loaded on first use."""
    with _LOCK:
        scorer = _SCORERS.get(key)
        if scorer is None:
            if threads:
                # The thread policy (artjudge.threads) reads this when the scorer is built, for
                # either runtime; a worker process is one scorer, so the environment is its own.
                import os

                from artjudge.threads import THREADS_ENV

                os.environ[THREADS_ENV] = str(threads)
            scorer = factory()
            _SCORERS[key] = scorer
        return scorer


def score_partition_safely(
    scorer: ScorerLike, rows: Sequence[InputRow], *, batch_size: int, critique: bool
) -> list[dict[str, Any]]:
    """Score a partition; if the scorer raises something unexpected, isolate the culprit row.

    Bad inputs normally come back as Failure records; an exception that escapes the scorer
    (a decoder bug on one odd file) would otherwise fail the whole partition on every retry.
    """
    try:
        return list(score_rows(scorer, rows, batch_size=batch_size, critique=critique))
    except Exception as first:
        log.warning("partition raised %s: %s; scoring its rows one by one", type(first).__name__, first)
    info = scorer.info()
    model = (info.get("id"), info.get("version"))
    out: list[dict[str, Any]] = []
    for row in rows:
        try:
            out.extend(score_rows(scorer, [row], batch_size=1, critique=critique))
        except Exception as err:
            out.append(
                failure_row(
                    row,
                    f"unexpected error while scoring ({type(err).__name__}: {err})",
                    (
                        None if model[0] is None else str(model[0]),
                        None if model[1] is None else str(model[1]),
                    ),
                )
            )
    return out


def write_partition(
    scorer: ScorerLike,
    index: int,
    rows: Sequence[InputRow],
    part_path: str,
    *,
    batch_size: int,
    critique: bool,
    fingerprint: str | None = None,
) -> tuple[int, int, int]:
    """Score ``rows`` and write them as one part file; returns ``(index, rows, failed)``."""
    table = to_table(score_partition_safely(scorer, rows, batch_size=batch_size, critique=critique))
    failed = table.num_rows - table.column("error").null_count
    write_atomic(
        table, part_path, metadata=part_metadata(index, failed, fingerprint or partition_fingerprint(rows))
    )
    return index, table.num_rows, failed


def part_metadata(index: int, failed: int, fingerprint: str) -> dict[str, str]:
    """A part file's footer: its partition, its failure count, and which inputs it was scored from."""
    return {
        "artjudge.batch.partition": str(index),
        "artjudge.batch.failed": str(failed),
        FINGERPRINT_KEY: fingerprint,
    }


ROWS_SCHEMA_FIELDS = ("row", "input", "location", "image_id", "error", "prompt", "reference")


def write_rows_file(rows: Sequence[InputRow], path: str) -> None:
    """A partition's input rows as a small Parquet file: what a Dask task receives instead of the rows.

    Task arguments pass through the scheduler, which keeps recent graphs in memory; a path
    keeps the scheduler's (and, with a LocalCluster, the driver's) memory independent of the rows.
    """
    import pyarrow as pa

    cols = list(zip(*(r.to_tuple() for r in rows), strict=True))
    table = pa.table(
        {
            name: pa.array(list(col), type=pa.int64() if name == "row" else pa.string())
            for name, col in zip(ROWS_SCHEMA_FIELDS, cols, strict=True)
        }
    )
    write_atomic(table, path)


def read_rows_file(path: str) -> list[InputRow]:
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(path, "rb") as fh:
        table = pq.read_table(fh)
    cols = [table.column(n).to_pylist() for n in ROWS_SCHEMA_FIELDS]
    return [InputRow.from_tuple(t) for t in zip(*cols, strict=True)]


def partition_task(
    index: int,
    rows_path: str,
    part_path: str,
    factory: ScorerFactory,
    factory_key: str,
    batch_size: int,
    critique: bool,
    threads: int | None,
    fingerprint: str | None = None,
) -> tuple[int, int, int]:
    """The Dask task: one partition (its rows read from ``rows_path``), idempotent by its part file."""
    import fsspec
    import pyarrow.parquet as pq

    fs, path = fsspec.core.url_to_fs(part_path)
    if fs.exists(path):
        with fs.open(path, "rb") as fh:
            meta = pq.read_metadata(fh)
        return index, meta.num_rows, int((meta.metadata or {}).get(b"artjudge.batch.failed", b"0"))
    scorer = cached_scorer(factory_key, factory, threads)
    return write_partition(
        scorer,
        index,
        read_rows_file(rows_path),
        part_path,
        batch_size=batch_size,
        critique=critique,
        fingerprint=fingerprint,
    )
