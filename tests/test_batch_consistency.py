"""Per-row consistency in manifests, folders and batch (issue 17): columns, sidecars, resume, failures.

The scorer is the real untrained 64 px checkpoint of test_batch_local on the real Lite0
backbone, with the shipped offline consistency component. Reference consistency needs no
extra; prompt consistency needs the [text] extra (the MiniLM text encoder) and skips without it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers_extras import needs_extra, require_extra

require_extra("batch")
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import artjudge  # noqa: E402
from artjudge.batch import InputRow, iter_rows, run_batch  # noqa: E402
from artjudge.batch.sources import _stat_key, partition_fingerprint  # noqa: E402
from artjudge.batch.table import CONSISTENCY_COLUMNS, SCHEMA, assessment_from_row, conform  # noqa: E402
from artjudge.batch.worker import read_rows_file, write_rows_file  # noqa: E402
from artjudge.cli import main  # noqa: E402
from artjudge.errors import InputError  # noqa: E402
from artjudge.io.sidecars import MAX_SIDECAR_BYTES, read_prompt_sidecar  # noqa: E402
from test_batch_local import make_checkpoint  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "model")


@pytest.fixture(scope="module")
def scorer(ckpt: Path):  # type: ignore[no-untyped-def]
    return artjudge.load(str(ckpt))


@pytest.fixture(scope="module")
def factory(scorer):  # type: ignore[no-untyped-def]
    return lambda: scorer


def _square(path: Path, colour: tuple[int, int, int], shift: int = 0) -> Path:
    """A grey canvas with one coloured square: distinct images whose similarity order is known."""
    arr = np.full((96, 96, 3), 235, np.uint8)
    arr[20 + shift : 76 + shift, 20:76] = colour
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _images(folder: Path) -> list[Path]:
    return [
        _square(folder / "red.png", (210, 20, 20)),
        _square(folder / "red2.png", (205, 25, 20), shift=4),
        _square(folder / "blue.png", (20, 40, 210), shift=-18),
        _square(folder / "green.png", (20, 190, 40)),
    ]


def _read(path: Path) -> pd.DataFrame:
    return pq.read_table(str(path)).to_pandas()


# --------------------------------------------------------------------- sources


def test_manifest_prompt_and_reference_columns_in_every_format(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "path": ["a.png", "b.png", "c.png", "d.png"],
            "prompt": ["a red car", None, "  ", "two dogs"],
            "reference": [None, "refs/r.png", "", "/abs/r.png"],
        }
    )
    df.to_csv(tmp_path / "m.csv", index=False)
    df.to_json(tmp_path / "m.jsonl", orient="records", lines=True)
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "m.parquet")
    for name in ("m.csv", "m.jsonl", "m.parquet"):
        rows = list(iter_rows([str(tmp_path / name)]))
        assert [r.prompt for r in rows] == ["a red car", None, None, "two dogs"], name
        # references resolve against the manifest's folder, like image paths; blanks are none
        assert [r.reference for r in rows] == [None, str(tmp_path / "refs/r.png"), None, "/abs/r.png"], name
    rows = list(iter_rows([str(tmp_path / "m.csv")], root="/data"))
    assert rows[1].reference == "/data/refs/r.png"


def test_folder_images_take_their_prompt_sidecar(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d"):
        _square(tmp_path / f"{name}.png", (200, 30, 30))
    (tmp_path / "a.txt").write_text("  a red\ncolored car \n", encoding="utf-8")
    (tmp_path / "c.txt").write_bytes(b"\xff\xfe\x00bad")  # not UTF-8
    (tmp_path / "d.txt").write_text("x" * (MAX_SIDECAR_BYTES + 1))
    rows = {Path(r.input).name: r for r in iter_rows([str(tmp_path)])}
    assert set(rows) == {"a.png", "b.png", "c.png", "d.png"}  # the .txt files are not inputs
    assert rows["a.png"].prompt == "a red colored car" and rows["a.png"].error is None
    assert rows["b.png"].prompt is None and rows["b.png"].error is None
    assert rows["c.png"].error is not None and "c.txt: prompt sidecar is not UTF-8" in rows["c.png"].error
    assert rows["d.png"].error is not None and "over the limit" in rows["d.png"].error
    (tmp_path / "e.txt").write_text("")
    assert read_prompt_sidecar(str(tmp_path / "e.png")) is None  # blank sidecar: no prompt
    with pytest.raises(InputError, match="c.txt"):
        read_prompt_sidecar(str(tmp_path / "c.png"))


def test_fingerprint_covers_prompt_and_reference_and_keeps_old_parts(tmp_path: Path) -> None:
    ref = _square(tmp_path / "ref.png", (10, 10, 200))
    base = InputRow(0, "a.png", "/x/a.png", None, None)
    with_prompt = InputRow(0, "a.png", "/x/a.png", None, None, "a red car")
    other_prompt = InputRow(0, "a.png", "/x/a.png", None, None, "a blue car")
    with_ref = InputRow(0, "a.png", "/x/a.png", None, None, None, str(ref))
    fps = {partition_fingerprint([r]) for r in (base, with_prompt, other_prompt, with_ref)}
    assert len(fps) == 4
    # a row without prompt or reference hashes exactly as before they existed: old parts resume
    old = hashlib.sha256(f"0\ta.png\t/x/a.png\tNone\tNone\t{_stat_key('/x/a.png')}\n".encode()).hexdigest()
    assert partition_fingerprint([base]) == old
    # a replaced reference file changes it too
    before = partition_fingerprint([with_ref])
    _square(ref, (200, 10, 10), shift=9)
    import os

    os.utime(ref, ns=(1, 1))
    assert partition_fingerprint([with_ref]) != before


def test_dask_rows_file_carries_prompt_and_reference(tmp_path: Path) -> None:
    rows = [
        InputRow(0, "a.png", "/x/a.png", "id0", None, "a red car", None),
        InputRow(1, "b.png", "/x/b.png", None, None, None, "/x/ref.png"),
        InputRow(2, "", None, None, "manifest row 2: the path is empty", "p", None),
    ]
    write_rows_file(rows, str(tmp_path / "rows.parquet"))
    assert read_rows_file(str(tmp_path / "rows.parquet")) == rows


def test_old_parts_without_consistency_columns_merge() -> None:
    old = pa.table({"row": pa.array([0], pa.int64()), "input": ["a.png"], "score": [50.0]})
    table = conform(old)
    assert table.schema == SCHEMA and table.column("score").to_pylist() == [50.0]
    assert all(table.column(c).to_pylist() == [None] for c in CONSISTENCY_COLUMNS)


# --------------------------------------------------------------------- batch runs


def _reference_manifest(tmp_path: Path) -> Path:
    _images(tmp_path / "imgs")
    pd.DataFrame(
        {
            "path": ["imgs/red.png", "imgs/red.png", "imgs/green.png", "imgs/blue.png"],
            "image_id": ["same", "other", "none", "missing"],
            "reference": ["imgs/red2.png", "imgs/blue.png", None, "imgs/nope.png"],
        }
    ).to_csv(tmp_path / "m.csv", index=False)
    return tmp_path / "m.csv"


def test_batch_reference_column_scores_per_row_and_a_missing_reference_fails_its_row(
    tmp_path: Path, factory, scorer
) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out.parquet"
    s = run_batch(
        [str(_reference_manifest(tmp_path))], str(out), factory, part_size=3, batch_size=2, progress=False
    )
    assert (s.rows, s.scored, s.failed) == (4, 3, 1)
    df = _read(out).set_index("image_id")
    # a missing reference: one clear reason on its own row; the others are scored
    assert df.loc["missing", "error"] == f"reference {tmp_path / 'imgs/nope.png'}: file not found"
    assert df.loc["missing", "input"] == "imgs/blue.png"
    # no reference: a quality score and no consistency (null, not a number)
    assert df.loc["none", "score"] >= 0 and df.loc["none", list(CONSISTENCY_COLUMNS)].isna().all()
    same, other = df.loc["same"], df.loc["other"]
    assert same["consistency_source"] == other["consistency_source"] == "reference"
    assert same["consistency_reference"] == str(tmp_path / "imgs/red2.png")
    assert same["consistency_score"] > other["consistency_score"]
    assert (same["consistency_checked"], same["consistency_unchecked"]) == (3, 0)
    assert {e["element"] for e in json.loads(same["consistency_elements"])} == {
        "content",
        "layout",
        "palette",
    }
    # the same numbers as the scorer's own API, and the table row gives back the record
    direct = scorer.assess(str(tmp_path / "imgs/red.png"), reference=str(tmp_path / "imgs/red2.png"))
    assert same["consistency_score"] == pytest.approx(direct.consistency.score, abs=1e-6)
    row = pq.read_table(str(out)).to_pylist()[0]  # pyarrow rows: nulls stay None
    back = assessment_from_row(row)
    assert back.consistency == direct.consistency
    d = back.to_dict()
    d["timings"], expected = {}, direct.to_dict()
    expected["timings"], expected["input"] = {}, d["input"]
    assert d == expected


@needs_extra("text")
def test_batch_prompt_column_lists_elements_and_unchecked_ones(tmp_path: Path, factory, scorer) -> None:  # type: ignore[no-untyped-def]
    _images(tmp_path / "imgs")
    prompt = "a red car next to a zorblax"
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"path": "imgs/red.png", "prompt": prompt})
        + "\n"
        + json.dumps({"path": "imgs/blue.png"})
        + "\n"
    )
    out = tmp_path / "out.parquet"
    run_batch([str(tmp_path / "m.jsonl")], str(out), factory, progress=False)
    df = _read(out)
    first = df.iloc[0]
    assert first["consistency_source"] == "prompt" and first["consistency_prompt"] == prompt
    elements = {e["element"]: e for e in json.loads(first["consistency_elements"])}
    assert not elements["zorblax"]["checked"] and elements["car"]["checked"]
    assert first["consistency_unchecked"] == sum(not e["checked"] for e in elements.values()) >= 1
    assert first["consistency_checked"] + first["consistency_unchecked"] == len(elements)
    direct = scorer.assess(str(tmp_path / "imgs/red.png"), prompt=prompt).consistency
    assert first["consistency_score"] == pytest.approx(direct.score, abs=1e-6)
    assert pd.isna(df.iloc[1]["consistency_score"])
    assert assessment_from_row(pq.read_table(str(out)).to_pylist()[0]).consistency == direct


@needs_extra("text")
def test_a_changed_prompt_rescores_only_its_part(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    _images(tmp_path / "imgs")
    names = ["red", "red2", "blue", "green"]

    def write(prompts: list[str]) -> Path:
        pd.DataFrame({"path": [f"imgs/{n}.png" for n in names], "prompt": prompts}).to_csv(
            tmp_path / "m.csv", index=False
        )
        return tmp_path / "m.csv"

    out = tmp_path / "out.parquet"
    kwargs: dict[str, Any] = {"part_size": 2, "batch_size": 2, "keep_parts": True, "progress": False}
    run_batch(
        [str(write(["a red car", "a red car", "a blue car", "a green car"]))], str(out), factory, **kwargs
    )
    s = run_batch(
        [str(write(["a red car", "a red car", "a blue car", "a dog"]))], str(out), factory, **kwargs
    )
    assert (s.parts, s.parts_resumed, s.parts_written) == (2, 1, 1)
    assert _read(out)["consistency_prompt"].tolist() == ["a red car", "a red car", "a blue car", "a dog"]


# --------------------------------------------------------------------- CLI


def test_cli_assess_reads_a_manifest_with_a_reference_column(
    tmp_path: Path, ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _reference_manifest(tmp_path)
    rc = main(["assess", str(manifest), "--model", str(ckpt), "--format", "jsonl", "--no-cache", "-q"])
    assert rc == 0
    captured = capsys.readouterr()
    recs = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    by_input = [(r["input"], r.get("error"), (r.get("consistency") or {}).get("source")) for r in recs]
    assert by_input[:3] == [
        (str(tmp_path / "imgs/red.png"), None, "reference"),
        (str(tmp_path / "imgs/red.png"), None, "reference"),
        (str(tmp_path / "imgs/green.png"), None, None),
    ]
    assert "reference" in by_input[3][1] and "file not found" in by_input[3][1]
    assert "1 skipped" in captured.err


def test_cli_batch_manifest_reference_column(tmp_path: Path, ckpt: Path) -> None:
    out = tmp_path / "out.parquet"
    rc = main(
        ["batch", str(_reference_manifest(tmp_path)), "-o", str(out), "--model", str(ckpt), "--no-progress"]
    )
    assert rc == 0
    df = _read(out)
    assert df["consistency_score"].notna().tolist() == [True, True, False, False]
    assert df["error"].notna().tolist() == [False, False, False, True]


@needs_extra("text")
def test_cli_batch_folder_prompt_sidecar(tmp_path: Path, ckpt: Path) -> None:
    _images(tmp_path / "imgs")
    (tmp_path / "imgs" / "green.txt").write_text("a green square\n")
    out = tmp_path / "out.parquet"
    assert main(["batch", str(tmp_path / "imgs"), "-o", str(out), "--model", str(ckpt), "--no-progress"]) == 0
    df = _read(out).set_index("input")
    prompts = df["consistency_prompt"].to_dict()
    assert prompts.pop(str(tmp_path / "imgs" / "green.png")) == "a green square"
    assert all(pd.isna(v) for v in prompts.values())


@needs_extra("text")
def test_cli_assess_folder_prompt_sidecar(
    tmp_path: Path, ckpt: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _images(tmp_path / "imgs")
    (tmp_path / "imgs" / "red.txt").write_text("a red colored car\n")
    rc = main(
        ["assess", str(tmp_path / "imgs"), "--model", str(ckpt), "--format", "jsonl", "--no-cache", "-q"]
    )
    assert rc == 0
    recs = {Path(r["input"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert recs["red.png"]["consistency"]["prompt"] == "a red colored car"
    assert recs["blue.png"].get("consistency") is None
    # --prompt applies to every image, over the sidecar
    rc = main(
        [
            "assess",
            str(tmp_path / "imgs"),
            "--model",
            str(ckpt),
            "--prompt",
            "a dog",
            "--format",
            "jsonl",
            "-q",
        ]
    )
    recs = {Path(r["input"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert {r["consistency"]["prompt"] for r in recs.values()} == {"a dog"}


def test_a_scorer_without_consistency_scores_the_rows_and_says_so(tmp_path: Path, scorer) -> None:  # type: ignore[no-untyped-def]
    from artjudge.models.base import NO_CONSISTENCY, no_consistency_note
    from test_batch_local import _ExplodingScorer

    out = tmp_path / "out.parquet"
    other = _ExplodingScorer(scorer)  # declared as a scorer of another kind: no consistency component
    unsupported = {"prompt": NO_CONSISTENCY, "reference": NO_CONSISTENCY}
    other.info = lambda: {**scorer.info(), "capabilities": ["critique"], "unsupported": unsupported}  # type: ignore[method-assign]
    s = run_batch([str(_reference_manifest(tmp_path))], str(out), lambda: other, progress=False)
    assert (s.rows, s.failed) == (4, 0)  # quality scores kept, the reference not read
    df = _read(out).set_index("image_id")
    assert df["consistency_score"].isna().all()
    note = no_consistency_note(scorer.info()["id"])
    assert [note in list(n) for n in df["notes"]] == [True, True, False, True]
