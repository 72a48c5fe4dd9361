"""The batch table keeps every field of the record: a Parquet row reads back as the same Assessment.

Uses the shipped default scorer with critique, so the rows carry real evidence (with a
limitation, from a blank image), a real critique and a 101-bin distribution.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("batch")
import pyarrow.parquet as pq  # noqa: E402

import artjudge  # noqa: E402
from artjudge.batch import InputRow, run_batch  # noqa: E402
from artjudge.batch.table import (  # noqa: E402
    SCHEMA,
    assessment_from_row,
    assessment_row,
    failure_row,
    to_table,
    write_atomic,
)
from artjudge.record import Assessment, ScoreDistribution, json_schema  # noqa: E402


def _images(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(4)
    out = []
    for i in range(2):
        p = folder / f"scene{i}.png"
        Image.fromarray(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)).save(p)
        out.append(p)
    blank = folder / "blank.png"  # a uniform image: evidence marked invalid, a limitation named
    Image.new("RGB", (96, 72), (128, 128, 128)).save(blank)
    return [*out, blank]


@pytest.fixture(scope="module")
def scorer():  # type: ignore[no-untyped-def]
    return artjudge.load("default")


def test_a_row_round_trips_to_the_same_record(tmp_path: Path, scorer) -> None:  # type: ignore[no-untyped-def]
    paths = _images(tmp_path / "imgs")
    records = [scorer.assess(str(p), critique=True) for p in paths]
    # an attribute on another bin layout: bins must survive too
    records[0].attributes["mood"] = ScoreDistribution(55.5, 3.25, [0.1, 0.2, 0.3, 0.25, 0.15], "levels:5")
    assert "uniform" in records[2].evidence_limitations
    rows = [assessment_row(InputRow(i, r.input, r.input), r) for i, r in enumerate(records)]
    rows.append(failure_row(InputRow(3, "gone.png", "gone.png"), "file not found", ("m", "1")))
    out = tmp_path / "t.parquet"
    write_atomic(to_table(rows), str(out))
    back = pq.read_table(str(out)).to_pylist()
    assert pq.read_schema(str(out)).names == SCHEMA.names
    for rec, row in zip(records, back, strict=False):
        again = assessment_from_row(row)
        assert again.to_dict() == rec.to_dict()  # every field, to the last float
    with pytest.raises(
        ValueError, match="row 3 \\(gone.png\\): a failed row has no assessment: file not found"
    ):
        assessment_from_row(back[3])


def test_batch_run_keeps_evidence_and_critique(tmp_path: Path, scorer) -> None:  # type: ignore[no-untyped-def]
    import jsonschema

    paths = _images(tmp_path / "imgs")
    out = tmp_path / "out.parquet"
    run_batch(
        [str(tmp_path / "imgs")],
        str(out),
        lambda: scorer,
        model="default",
        part_size=2,
        critique=True,
        progress=False,
    )
    rows = pq.read_table(str(out)).to_pylist()
    assert len(rows) == 3 and all(r["error"] is None for r in rows)
    schema = json_schema("assessment")
    for row in rows:
        rec = assessment_from_row(row)
        jsonschema.validate(rec.to_dict(), schema)
        direct = scorer.assess(row["input"], critique=True)  # evidence and critique are deterministic
        assert rec.evidence == direct.evidence and rec.critique == direct.critique
        assert rec.overall == direct.overall
        assert json.loads(row["evidence"]) == direct.to_dict()["evidence"]
    blank = next(r for r in rows if r["input"].endswith("blank.png"))
    assert "uniform" in blank["evidence_limitations"]
    assert isinstance(assessment_from_row(blank), Assessment)
    assert {p.name for p in paths} == {Path(r["input"]).name for r in rows}
