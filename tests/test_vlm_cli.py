"""The VLM behind the same command-line entry points as the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="the vlm extra (transformers, peft) is not installed")
pytest.importorskip("peft", reason="the vlm extra (transformers, peft) is not installed")
import torch

from artjudge.cli import main
from vlm_fixtures import tiny_vlm_dir, write_images

torch.set_num_threads(1)


def test_assess_with_a_vlm_writes_records_and_reports_bad_input(tmp_path: Path) -> None:
    images = write_images(tmp_path / "imgs", 2)
    (tmp_path / "imgs" / "broken.png").write_text("not an image")
    out = tmp_path / "vlm.jsonl"
    model = "vlm:" + str(tiny_vlm_dir("qwen2_5_vl"))
    assert main(["assess", str(tmp_path / "imgs"), "--model", model, "--output", str(out), "-q"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    scored = [r for r in recs if "overall" in r]
    assert sorted(r["input"] for r in scored) == sorted(str(p) for p in images)
    assert all(
        len(r["overall"]["distribution"]) == 101 and r["model"]["id"].startswith("vlm:") for r in scored
    )
    assert [Path(r["input"]).name for r in recs if "error" in r] == ["broken.png"]


def test_critique_with_a_vlm_uses_the_vlm_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (image,) = write_images(tmp_path, 1)
    model = "vlm:" + str(tiny_vlm_dir("qwen2_5_vl"))
    code = main(["critique", str(image), "--model", model, "--json", str(tmp_path / "c.json")])
    assert code == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["critique"]["critic"].startswith("vlm:")  # the words come from the VLM critic
    assert data["evidence"]  # and the measured evidence is still kept beside them
