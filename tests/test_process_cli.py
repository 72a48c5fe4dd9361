"""`artjudge process` and the shipped weights, end to end on real frames."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import artjudge
from artjudge.cli import main
from artjudge.io.keyframes import KeyframeConfig
from artjudge.models.process.judge import default_weights_path, sha256_file
from artjudge.record import ProcessAssessment
from artjudge.taxonomy import PROCESS
from helpers_extras import missing_modules, skip_reason


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _frames(folder: Path, n: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    canvas = np.full((96, 96, 3), 240, dtype=np.uint8)
    rng = np.random.default_rng(0)
    for i in range(n):
        x, y = rng.integers(0, 64, 2)
        canvas[y : y + 32, x : x + 32] = rng.integers(0, 255, 3)
        Image.fromarray(canvas.copy()).save(folder / f"{i + 1}.png")
    return folder


def test_shipped_weights_hash_and_card() -> None:
    path = default_weights_path()
    assert path.is_file(), "shipped weights missing: run python scripts/train_process.py"
    assert path.stat().st_size < 8 * 1024 * 1024
    expected = path.with_suffix(".pt.sha256").read_text().split()[0]
    assert sha256_file(path) == expected
    assert expected in (path.parent / "MODEL_CARD.md").read_text()


def test_process_command_on_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _frames(tmp_path / "frames", 5)
    ref = tmp_path / "ref.png"
    Image.open(d / "5.png").save(ref)
    out_json, png = tmp_path / "r.json", tmp_path / "t.png"
    rc = main(
        [
            "process",
            str(d),
            "--reference",
            str(ref),
            "--format",
            "json",
            "--output",
            str(out_json),
            "--timeline",
            str(png),
            "--min-keyframes",
            "2",
            "--max-keyframes",
            "5",
        ]
    )
    assert rc == 0
    assert capsys.readouterr().out == ""  # with --output, the JSON goes to the file only (issue 26.8)
    saved = json.loads(out_json.read_text())
    assert list(saved["attributes"]) == PROCESS.keys()
    assert all(
        10 <= v["score"] <= 100 and v["std"] > 0 for v in saved["attributes"].values()
    )  # 0-100 with std
    assert saved["timeline"][-1] == {k: v["score"] for k, v in saved["attributes"].items()}
    assert saved["keyframe_indices"][0] == 0 and saved["keyframe_indices"][-1] == 4
    assert len(saved["timeline"]) == len(saved["keyframe_indices"])
    assert png.is_file() and Image.open(png).size[0] > 100
    # the Python API gives the same numbers as the CLI
    judge = artjudge.load_process_judge()
    res = judge.judge(d, reference=ref, keyframes=KeyframeConfig(min_keyframes=2, max_keyframes=5))
    assert res.to_dict()["attributes"] == saved["attributes"]


def test_process_command_table_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _frames(tmp_path / "f", 3)
    rc = main(["process", str(d), "--no-timeline"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "Process Stability" in out and "key frames used" in out
    assert main(["process", str(tmp_path / "missing")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["process", str(d), "--reference", str(d)]) == 2
    assert "reference " in (err := capsys.readouterr().err) and "is a directory, not an image file" in err


def test_follow_scores_frames_as_they_arrive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _frames(tmp_path / "live", 3)
    rc = main(
        [
            "process",
            str(d),
            "--follow",
            "--poll",
            "0.05",
            "--idle-timeout",
            "0.3",
            "--timeline",
            str(tmp_path / "live.png"),
            "--output",
            str(tmp_path / "live.json"),
        ]
    )
    assert rc == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert [x["n"] for x in lines] == [1, 2, 3]
    assert [x["frame"] for x in lines] == ["1.png", "2.png", "3.png"]
    # the live scores equal a whole-folder pass over the same frames
    judge = artjudge.load_process_judge()
    res = judge.judge([Image.open(d / f"{i}.png") for i in (1, 2, 3)])
    assert lines[-1]["scores"] == res.scores
    saved = ProcessAssessment.from_dict(json.loads((tmp_path / "live.json").read_text()))  # the same record
    assert saved.scores == res.scores and saved.keyframe_indices == [0, 1, 2]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["process", str(empty), "--follow", "--poll", "0.05", "--idle-timeout", "0.1"]) == 2
    assert "no frame arrived" in capsys.readouterr().err


@pytest.mark.slow
def test_process_command_with_prompt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _frames(tmp_path / "p", 3)
    assert main(["process", str(d), "--prompt", "   "]) == 2
    assert "prompt is empty" in capsys.readouterr().err
    if missing_modules("text"):
        # without the [text] extra a prompt is refused with one line naming the extra
        assert main(["process", str(d), "--prompt", "a red square", "--no-timeline"]) == 2
        assert "pip install 'artjudge[text]'" in capsys.readouterr().err
        pytest.skip(skip_reason("text"))
    assert (
        main(
            [
                "process",
                str(d),
                "--prompt",
                "a red square on a grey wall",
                "--format",
                "json",
                "--no-timeline",
            ]
        )
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    # the shipped judge cannot tell a right prompt from a wrong one (benchmarks/
    # process_consistency_swap.py): consistency is "can't tell", not a number
    assert res["prompt"] == "a red square on a grey wall" and len(res["attributes"]) == 7
    assert res["cant_tell"]["consistency"].startswith("can't tell: right vs wrong prompt")
    assert main(["process", str(d), "--prompt", "a red square on a grey wall", "--no-timeline"]) == 0
    assert "can't tell" in capsys.readouterr().out
