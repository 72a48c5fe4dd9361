"""Score folders and manifests of any size, resumably, on one machine or a Dask cluster.

    from functools import partial
    import artjudge
    from artjudge.batch import run_batch

    run_batch(["images/"], "scores.parquet", partial(artjudge.load, "default"))

See docs/batch.md for the output schema, resuming, and running on a cluster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artjudge.batch.runner import ENGINES, EXECUTORS, BatchSummary, local_cluster, run_batch
    from artjudge.batch.scoring import ScorerFactory, ScorerLike, score_rows
    from artjudge.batch.sources import InputRow, iter_partitions, iter_rows, manifest_format
    from artjudge.batch.store import BatchError, PartStore
    from artjudge.batch.table import SCHEMA

# Loaded on first use: `assess MANIFEST` reads manifests through batch.sources, which needs
# no pyarrow for CSV/JSONL, while the runner and the Parquet table do ([batch] extra).
_HOME = {
    "ENGINES": "runner",
    "EXECUTORS": "runner",
    "BatchSummary": "runner",
    "local_cluster": "runner",
    "run_batch": "runner",
    "ScorerFactory": "scoring",
    "ScorerLike": "scoring",
    "score_rows": "scoring",
    "InputRow": "sources",
    "iter_partitions": "sources",
    "iter_rows": "sources",
    "manifest_format": "sources",
    "BatchError": "store",
    "PartStore": "store",
    "SCHEMA": "table",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'artjudge.batch' has no attribute {name!r}")
    return getattr(importlib.import_module(f"artjudge.batch.{home}"), name)


__all__ = [
    "ENGINES",
    "EXECUTORS",
    "SCHEMA",
    "BatchError",
    "BatchSummary",
    "InputRow",
    "PartStore",
    "ScorerFactory",
    "ScorerLike",
    "iter_partitions",
    "iter_rows",
    "local_cluster",
    "manifest_format",
    "run_batch",
    "score_rows",
]
