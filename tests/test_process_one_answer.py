"""One answer per process: CLI, Python, HTTP and --follow agree on the same frames (issue 16).

The frames are 640 px wide on purpose: the judge downscales frames to 512 px, and before
issue 16 a frame reached the encoder by two routes (downscaled for ``judge()``, full size
for ``update()``/``--follow``), which moved consistency 2.89 vs 2.96 on the same frames.
"""

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
from artjudge.io.keyframes import KeyframeConfig, select_frames


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _painting(folder: Path, n: int = 10, w: int = 640, h: int = 480) -> list[Path]:
    """A painting built up in ``n`` frames: blocks of colour, then finer marks, on paper."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    canvas = np.full((h, w, 3), (245, 240, 230), dtype=np.uint8)
    paths = []
    for i in range(n):
        size = max(8, 160 // (i + 1))
        for _ in range(6 + 4 * i):
            x, y = rng.integers(0, w - size), rng.integers(0, h - size)
            canvas[y : y + size, x : x + size] = rng.integers(0, 255, 3)
        paths.append(folder / f"{i + 1}.png")
        Image.fromarray(canvas).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def judge() -> artjudge.models.process.ProcessJudge:  # type: ignore[name-defined]
    return artjudge.load_process_judge()


def test_one_keyframe_policy_for_folders_and_lists(tmp_path: Path) -> None:
    paths = _painting(tmp_path / "p", n=10)
    folder = select_frames(tmp_path / "p")
    listed = select_frames([str(p) for p in paths])
    assert folder.indices == listed.indices == list(range(10))  # <= max_keyframes: every frame
    assert all(a.size == b.size == (512, 384) for a, b in zip(folder.frames, listed.frames, strict=True))
    assert all(
        np.array_equal(np.asarray(a), np.asarray(b))
        for a, b in zip(folder.frames, listed.frames, strict=True)
    )
    few = select_frames([str(p) for p in paths], KeyframeConfig(min_keyframes=2, max_keyframes=4))
    assert len(few.indices) <= 4 and few.indices[0] == 0 and few.indices[-1] == 9


def test_cli_python_http_and_follow_agree(tmp_path: Path, judge, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    paths = _painting(tmp_path / "p", n=5)
    assert main(["process", str(tmp_path / "p"), "--format", "json", "--no-timeline"]) == 0
    cli = json.loads(capsys.readouterr().out)
    py = judge.judge([str(p) for p in paths]).to_dict()
    py_images = judge.judge([Image.open(p) for p in paths]).to_dict()
    assert cli["attributes"] == py["attributes"] == py_images["attributes"]
    assert cli["keyframe_indices"] == py["keyframe_indices"] == [0, 1, 2, 3, 4]
    assert cli["signals"] == py["signals"] and len(py["signals"]["frames"]) == 5
    # --follow over the same folder: every line and the final record equal judge() to 1e-4
    assert (
        main(
            [
                "process",
                str(tmp_path / "p"),
                "--follow",
                "--poll",
                "0.05",
                "--idle-timeout",
                "0.3",
                "--no-timeline",
                "--output",
                str(tmp_path / "live.json"),
            ]
        )
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert len(lines) == 5
    for line, step in zip(lines, py["timeline"], strict=True):
        assert line["scores"].keys() == step.keys()
        assert (
            max(abs(line["scores"][k] - step[k]) for k in step) <= 1e-4 * 10
        )  # 1e-4 on 1-10 = 1e-3 on 0-100
    live = json.loads((tmp_path / "live.json").read_text())
    assert all(abs(live["attributes"][k]["score"] - v["score"]) <= 1e-3 for k, v in py["attributes"].items())
    # Python update() frame by frame equals judge() frame by frame
    judge.start()
    for p, step in zip(paths, py["timeline"], strict=True):
        got = judge.update(p)
        assert max(abs(10 * got[k] - step[k]) for k in step) <= 1e-3
    # HTTP: the same frames uploaded give the same record
    fastapi = pytest.importorskip("fastapi")
    del fastapi
    from fastapi.testclient import TestClient

    from artjudge.serve import Settings, create_app

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", rate_per_second=1000, rate_burst=1000)
    with TestClient(create_app(settings)) as client:
        files = [("frames", (p.name, p.read_bytes(), "image/png")) for p in paths]
        r = client.post("/v1/process", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["attributes"] == py["attributes"] and body["keyframe_indices"] == py["keyframe_indices"]
    assert body["signals"] == py["signals"]


def test_no_consistency_without_context(tmp_path: Path, judge, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    paths = _painting(tmp_path / "p", n=3, w=200, h=200)
    res = judge.judge([str(p) for p in paths])
    assert "consistency" not in res.attributes and all("consistency" not in t for t in res.timeline)
    assert main(["process", str(tmp_path / "p"), "--no-timeline"]) == 0
    table = capsys.readouterr().out
    assert "Consistency" not in table.split("key frames used")[0] and "not judged" in table
    with_ref = judge.judge([str(p) for p in paths], reference=str(paths[-1]))
    assert "consistency" in with_ref.attributes and 10 <= with_ref.attributes["consistency"].score <= 100
