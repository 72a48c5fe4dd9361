"""The process judge's frame encoder on both engines: ONNX Runtime (default) and PyTorch agree.

Real shipped weights and graphs; frames made here (a picture revealed band by band, as a
painting is built up), plus a reference image so the concept-grounding classifier runs too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("torch", reason="the process judge needs the [torch] extra")

from artjudge.models.process.encoder import PatchEncoder  # noqa: E402
from artjudge.models.process.judge import load_process_judge  # noqa: E402
from artjudge.models.process.onnx_encoder import OnnxPatchEncoder  # noqa: E402

# Scores on the judge's 1-10 scale: the calibration tolerance (tests/test_calibration.py).
TOLERANCE = 1e-3


def _frames(n: int = 6) -> list[Image.Image]:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:160, 0:200]
    final = np.stack([x * 255 // 199, y * 255 // 159, ((x // 25 + y // 25) % 2) * 200], -1).astype(np.uint8)
    final[40:120, 60:140] = rng.integers(0, 256, (80, 80, 3), np.uint8)
    frames = []
    for k in range(1, n + 1):
        canvas = np.full_like(final, 255)
        canvas[: 160 * k // n] = final[: 160 * k // n]
        frames.append(Image.fromarray(canvas))
    return frames


def test_tokens_and_logits_agree() -> None:
    frames = _frames()
    t, o = PatchEncoder(), OnnxPatchEncoder()
    a, b = t.encode(frames), o.encode(frames)
    assert a.shape == b.shape == (len(frames), 16, t.token_dim)
    assert np.abs(a - b).max() <= 1e-3 * max(1.0, float(np.abs(a).max()))
    assert np.abs(t.class_logits(a) - o.class_logits(a)).max() <= 1e-3
    assert o.encode([]).shape == (0, 16, t.token_dim)


def test_judge_scores_agree_across_engines(tmp_path: Path) -> None:
    frames = _frames()
    ref = tmp_path / "ref.png"
    frames[-1].save(ref)
    onnx_judge, torch_judge = load_process_judge(runtime="onnx"), load_process_judge(runtime="torch")
    assert (onnx_judge.engine, torch_judge.engine) == ("onnx", "torch")
    for reference in (None, str(ref)):
        a = onnx_judge.judge(list(frames), reference=reference).to_dict()["attributes"]
        b = torch_judge.judge(list(frames), reference=reference).to_dict()["attributes"]
        assert set(a) == set(b)
        for k in a:  # records are on 0-100; the tolerance is on 1-10
            assert abs(a[k]["score"] - b[k]["score"]) / 10.0 <= TOLERANCE, k
        ta = np.asarray(onnx_judge.full_pass(frames, reference=reference))
        tb = np.asarray(torch_judge.full_pass(frames, reference=reference))
        assert np.abs(ta - tb).max() <= TOLERANCE


def test_unknown_engine_is_refused() -> None:
    from artjudge.errors import InputError

    with pytest.raises(InputError, match="not a runtime"):
        load_process_judge(runtime="tensorrt")


def test_process_engine_names_are_deprecated_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    """``--engine`` and ``engine=`` still work for one release, and say what to use instead."""
    from artjudge.cli import build_parser

    args = build_parser().parse_args(["process", "frames", "--engine", "torch"])
    assert args.runtime == "torch"
    assert "--engine is deprecated; use --runtime" in capsys.readouterr().err
    with pytest.warns(DeprecationWarning, match="use runtime="):
        assert load_process_judge(engine="torch").engine == "torch"


def test_cli_process_takes_runtime(tmp_path: Path) -> None:
    from artjudge.cli import build_parser, main

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, im in enumerate(_frames()):
        im.save(folder / f"{i:02d}.png")
    args = build_parser().parse_args(["process", str(folder), "--runtime", "torch"])
    assert isinstance(args, argparse.Namespace) and args.runtime == "torch"
    scores = {}
    for engine in ("onnx", "torch"):
        out = tmp_path / f"{engine}.json"
        rc = main(
            [
                "process",
                str(folder),
                "--runtime",
                engine,
                "--no-timeline",
                "--format",
                "json",
                "--output",
                str(out),
            ]
        )
        assert rc == 0
        scores[engine] = {k: v["score"] for k, v in json.loads(out.read_text())["attributes"].items()}
    for k, v in scores["onnx"].items():
        assert abs(v - scores["torch"][k]) / 10.0 <= TOLERANCE, k
