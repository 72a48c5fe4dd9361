"""`artjudge assess` end to end: formats, folders and globs, bad inputs, exit codes, --resume."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from artjudge.cli import main
from helpers_images import write_paintings


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_folder_glob_and_file_to_jsonl(tmp_path: Path) -> None:
    a = write_paintings(tmp_path / "a", 2)
    write_paintings(tmp_path / "b" / "nested", 2, start=10, ext="png")
    out = tmp_path / "out.jsonl"
    code = main(
        [
            "assess",
            str(tmp_path / "a"),
            str(tmp_path / "b" / "**" / "*.png"),
            str(a[0]),
            "--output",
            str(out),
            "--quiet",
            "--no-cache",
        ]
    )
    assert code == 0
    recs = _jsonl(out)
    assert len(recs) == 5  # a file given twice (folder + explicit) is scored twice, as asked
    assert all(0 <= r["overall"]["score"] <= 100 for r in recs)
    assert all(r["schema_version"] == "1.1" for r in recs)  # docs/record.md


def test_csv_and_json_formats(tmp_path: Path) -> None:
    paths = write_paintings(tmp_path, 2)
    out_csv = tmp_path / "s.csv"
    assert main(["assess", *map(str, paths), "--output", str(out_csv), "-q", "--no-cache"]) == 0
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["input"] for r in rows] == [str(p) for p in paths]
    assert all(float(r["score"]) >= 0 for r in rows)
    # the error interval travels in the CSV too, apart from the raters' std
    assert all(float(r["interval_lo"]) <= float(r["score"]) <= float(r["interval_hi"]) for r in rows)
    assert all(float(r["interval_level"]) == 0.9 for r in rows)
    out_json = tmp_path / "s.json"
    assert main(["assess", *map(str, paths), "--output", str(out_json), "-q", "--no-cache"]) == 0
    data = json.loads(out_json.read_text())
    assert isinstance(data, list) and len(data) == 2
    assert not (tmp_path / "s.json.partial.jsonl").exists()


def test_stdout_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (p,) = write_paintings(tmp_path, 1)
    assert main(["assess", str(p), "--format", "json", "-q", "--no-cache"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["input"] == str(p)


def test_bad_inputs_are_reported_and_the_batch_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_paintings(tmp_path, 1)
    (tmp_path / "zero.jpg").write_bytes(b"")
    (tmp_path / "fake.jpg").write_text("hello")
    truncated = tmp_path / "cut.jpg"
    data = good[0].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (1, 1)).save(tiny)
    out = tmp_path / "o.jsonl"
    code = main(
        ["assess", str(tmp_path), str(tmp_path / "missing.jpg"), "--output", str(out), "-q", "--no-cache"]
    )
    assert code == 0
    recs = _jsonl(out)
    ok = [r for r in recs if "overall" in r]
    bad = {Path(r["input"]).name: r["error"] for r in recs if "error" in r}
    assert len(ok) == 1
    assert set(bad) == {"zero.jpg", "fake.jpg", "cut.jpg", "tiny.png", "missing.jpg"}
    err = capsys.readouterr().err
    assert "1 assessed, 5 skipped" in err


def test_nothing_assessable_exits_nonzero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("no images here")
    assert main(["assess", str(empty_dir), "-q", "--format", "jsonl"]) == 1
    err = capsys.readouterr().err
    assert "no images" in err and "nothing could be assessed" in err


def test_resume_skips_finished_inputs(tmp_path: Path) -> None:
    paths = write_paintings(tmp_path / "imgs", 4)
    out = tmp_path / "run.jsonl"
    assert main(["assess", *map(str, paths[:2]), "--output", str(out), "-q", "--no-cache"]) == 0
    first = _jsonl(out)
    # an interrupted run leaves a cut last line: it must be tolerated and that input redone
    with out.open("a") as fh:
        fh.write('{"input": "' + str(paths[2]) + '", "sha2')
    assert main(["assess", str(tmp_path / "imgs"), "--output", str(out), "--resume", "-q", "--no-cache"]) == 0
    lines = out.read_text().splitlines()
    recs = []
    for line in lines:
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    inputs = [r["input"] for r in recs]
    assert sorted(inputs) == sorted(str(p) for p in paths)  # each input exactly once
    assert recs[:2] == first  # finished records untouched


def test_resume_needs_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (p,) = write_paintings(tmp_path, 1)
    assert main(["assess", str(p), "--resume"]) == 2
    assert "--resume needs --output" in capsys.readouterr().err
