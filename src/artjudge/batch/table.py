"""The batch output table: Assessment records flattened to one Parquet row each.

Flat columns (not nested structs) so that pandas, DuckDB, Spark and Polars read the
output without knowing artjudge. ``error`` is null for a scored row and holds the reason
for a failed one; a failed row keeps ``row``, ``input`` and ``image_id`` so every input
appears exactly once either way. Maps with free keys (attributes, timings, critique,
evidence) are JSON strings: their keys differ between models and a fixed schema must not.

Every field of the record is kept (the distribution in float64, its ``bins``, the evidence
and its limitations, the consistency entry), so :func:`assessment_from_row` gives back the
same ``Assessment.to_dict()`` that was written: the table is the record, not a summary of it.
The ``consistency_*`` columns are null on rows that had no prompt or reference.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from artjudge.batch.sources import InputRow, is_remote
from artjudge.io.files import atomic_path, dumps_strict
from artjudge.record import SCHEMA_VERSION, Assessment, Consistency, Failure

SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64(), nullable=False),
        pa.field("image_id", pa.string()),
        pa.field("input", pa.string(), nullable=False),
        pa.field("sha256", pa.string()),
        pa.field("model_id", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("score", pa.float64()),
        pa.field("std", pa.float64()),
        pa.field("distribution", pa.list_(pa.float64())),
        pa.field("bins", pa.string()),
        pa.field("interval", pa.list_(pa.float64())),
        pa.field("interval_level", pa.float64()),
        pa.field("attributes", pa.string()),
        pa.field("critique", pa.string()),
        pa.field("evidence", pa.string()),
        pa.field("evidence_limitations", pa.list_(pa.string())),
        pa.field("notes", pa.list_(pa.string())),
        pa.field("timings", pa.string()),
        pa.field("consistency_score", pa.float64()),
        pa.field("consistency_std", pa.float64()),
        pa.field("consistency_source", pa.string()),
        pa.field("consistency_model", pa.string()),
        pa.field("consistency_prompt", pa.string()),
        pa.field("consistency_reference", pa.string()),
        pa.field("consistency_checked", pa.int64()),
        pa.field("consistency_unchecked", pa.int64()),
        pa.field("consistency_elements", pa.string()),
        pa.field("consistency_components", pa.string()),
        pa.field("consistency_interval", pa.list_(pa.float64())),
        pa.field("consistency_interval_level", pa.float64()),
        pa.field("error", pa.string()),
        pa.field("schema_version", pa.string()),
    ],
    metadata={"artjudge.record.schema_version": SCHEMA_VERSION},
)


#: The consistency columns, null on rows without a prompt or reference (and in tables written before them).
CONSISTENCY_COLUMNS = tuple(f.name for f in SCHEMA if f.name.startswith("consistency_"))


def _json(value: Any) -> str:
    return dumps_strict(value, ensure_ascii=False)


def consistency_columns(c: Consistency | None) -> dict[str, Any]:
    """The record's consistency entry as flat columns (all null when there is none)."""
    if c is None:
        return dict.fromkeys(CONSISTENCY_COLUMNS)
    elements = [asdict(e) for e in c.elements]
    return {
        "consistency_score": c.score,
        "consistency_std": c.std,
        "consistency_source": c.source,
        "consistency_model": c.model,
        "consistency_prompt": c.prompt,
        "consistency_reference": c.reference,
        "consistency_checked": sum(1 for e in c.elements if e.checked),
        "consistency_unchecked": sum(1 for e in c.elements if not e.checked),
        "consistency_elements": _json(elements),
        "consistency_components": _json(c.components),
        "consistency_interval": None if c.interval is None else list(c.interval),
        "consistency_interval_level": c.interval_level,
    }


def _consistency_from_row(row: Mapping[str, Any]) -> dict[str, Any] | None:
    if row.get("consistency_score") is None:
        return None
    return {
        "score": row["consistency_score"],
        "std": row["consistency_std"],
        "source": row["consistency_source"],
        "model": row["consistency_model"],
        "prompt": row.get("consistency_prompt") or "",
        "reference": row.get("consistency_reference") or "",
        "elements": json.loads(row.get("consistency_elements") or "[]"),
        "components": json.loads(row.get("consistency_components") or "{}"),
        "interval": None if row.get("consistency_interval") is None else list(row["consistency_interval"]),
        "interval_level": row.get("consistency_interval_level"),
    }


def assessment_row(row: InputRow, rec: Assessment) -> dict[str, Any]:
    """One Parquet row holding every field of ``rec`` (``assessment_from_row`` reads it back)."""
    d = rec.to_dict()
    return {
        "row": row.row,
        "image_id": row.image_id,
        "input": row.input,
        "sha256": rec.sha256,
        "model_id": rec.model.id,
        "model_version": rec.model.version,
        "score": rec.overall.score,
        "std": rec.overall.std,
        "distribution": list(rec.overall.distribution),
        "bins": rec.overall.bins,
        "interval": None if rec.overall.interval is None else list(rec.overall.interval),
        "interval_level": rec.overall.interval_level,
        "attributes": _json(d["attributes"]),
        "critique": None if d["critique"] is None else _json(d["critique"]),
        "evidence": _json(d["evidence"]),
        "evidence_limitations": list(rec.evidence_limitations),
        "notes": list(rec.notes),
        "timings": _json(d["timings"]),
        **consistency_columns(rec.consistency),
        "error": None,
        "schema_version": rec.schema_version,
    }


def failure_row(row: InputRow, reason: str, model: tuple[str | None, str | None]) -> dict[str, Any]:
    return {
        "row": row.row,
        "image_id": row.image_id,
        "input": row.input,
        "sha256": None,
        "model_id": model[0],
        "model_version": model[1],
        "score": None,
        "std": None,
        "distribution": None,
        "bins": None,
        "interval": None,
        "interval_level": None,
        "attributes": None,
        "critique": None,
        "evidence": None,
        "evidence_limitations": [],
        "notes": [],
        "timings": None,
        **consistency_columns(None),
        "error": reason,
        "schema_version": SCHEMA_VERSION,
    }


def assessment_from_row(row: Mapping[str, Any]) -> Assessment:
    """The record a scored row was written from (``error`` must be null).

    Reads rows of this schema and of older tables (no ``bins`` / ``evidence`` / ``consistency_*``
    columns: those come back as the defaults, as such a record has them).
    """
    if row.get("error") is not None:
        raise ValueError(
            f"row {row.get('row')} ({row.get('input')}): a failed row has no assessment: {row['error']}"
        )
    crit = row.get("critique")
    return Assessment.from_dict(
        {
            "input": row["input"],
            "sha256": row["sha256"],
            "model": {"id": row["model_id"], "version": row["model_version"]},
            "overall": {
                "score": row["score"],
                "std": row["std"],
                "distribution": list(row.get("distribution") or []),
                **({"bins": row["bins"]} if row.get("bins") is not None else {}),
                "interval": None if row.get("interval") is None else list(row["interval"]),
                "interval_level": row.get("interval_level"),
            },
            "attributes": json.loads(row.get("attributes") or "{}"),
            "critique": None if crit is None else json.loads(crit),
            "evidence": json.loads(row.get("evidence") or "{}"),
            "evidence_limitations": list(row.get("evidence_limitations") or []),
            "notes": list(row.get("notes") or []),
            "timings": json.loads(row.get("timings") or "{}"),
            "consistency": _consistency_from_row(row),
            "schema_version": row.get("schema_version") or SCHEMA_VERSION,
        }
    )


def failure_reason(rec: Failure, row: InputRow) -> str:
    """The reason alone when the error line starts with the input's own name (it usually does)."""
    for prefix in (row.location, row.input):
        if prefix and rec.error.startswith(prefix + ": "):
            return rec.error[len(prefix) + 2 :]
    return rec.error


def to_table(rows: Iterable[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)


def conform(table: pa.Table) -> pa.Table:
    """``table`` with :data:`SCHEMA`'s columns in order, missing ones null.

    Why: a part written before the consistency columns existed (its inputs had no prompts,
    so its fingerprint still matches on resume) must merge with parts written now.
    """
    cols = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in SCHEMA
    ]
    return pa.Table.from_arrays(cols, schema=SCHEMA)


def write_atomic(table: pa.Table, path: str, *, metadata: dict[str, str] | None = None) -> None:
    """Write one Parquet file so that a reader sees it whole or not at all.

    Local files go to a temporary name in the same folder and are renamed; on object
    stores (S3, GCS) a single upload is already all-or-nothing, so the bytes are put once.
    """
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    if not is_remote(path):
        local = path[7:] if path.startswith("file://") else path
        # ".tmp": never taken for a part by readers, and swept by BatchStore.merge
        with atomic_path(os.path.abspath(local), suffix=".tmp") as tmp:
            pq.write_table(table, tmp, compression="zstd")
        return
    import fsspec

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    with fsspec.open(path, "wb") as fh:
        fh.write(buf.getvalue())
