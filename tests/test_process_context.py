"""The process judge's context: the reference or prompt moves consistency only, the judge
says "can't tell" where it was measured unable to, and its scores carry error intervals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artjudge.data.process.synthetic import generate_process, procedural_target
from artjudge.models.process.context_check import (
    ContextVerdict,
    decide,
    read_verdicts,
    verdict_path,
    write_verdicts,
)
from artjudge.models.process.judge import default_weights_path, load_process_judge
from artjudge.record import ProcessAssessment

SHIPPED = default_weights_path()
pytestmark = pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped process weights are not installed")


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def process() -> tuple[list[Image.Image], Image.Image, Image.Image]:
    """A clean synthetic process, its own reference and an unrelated picture."""
    p = generate_process(procedural_target(np.random.default_rng(1)), 11, n_frames=6, fault_rate=0.0)
    other = procedural_target(np.random.default_rng(2))
    return p.frames, p.reference, other


def _verdicts(prompt: bool, reference: bool) -> dict[str, ContextVerdict]:
    return {
        "prompt": ContextVerdict("prompt", prompt, "right vs wrong prompt: 48% [42%, 55%]"),
        "reference": ContextVerdict("reference", reference, "right vs wrong reference: 80% [76%, 85%]"),
    }


def test_depths_and_stabilities_do_not_move_with_the_reference(process) -> None:  # type: ignore[no-untyped-def]
    frames, ref, other = process
    judge = load_process_judge()
    judge.context_verdicts = _verdicts(prompt=True, reference=True)
    plain = judge.judge(frames)
    right = judge.judge(frames, reference=ref)
    wrong = judge.judge(frames, reference=other)
    emb = np.random.default_rng(0).normal(size=384).astype(np.float32)
    prompted = judge.judge(frames, prompt_embedding=emb)
    for rec in (right, wrong, prompted):
        assert {k: v for k, v in rec.scores.items() if k != "consistency"} == plain.scores
        steps = [{k: v for k, v in s.items() if k != "consistency"} for s in rec.timeline]
        assert steps == plain.timeline
    assert "consistency" not in plain.scores
    assert (
        right.scores["consistency"] != wrong.scores["consistency"]
    )  # the reference still reaches consistency


def test_consistency_of_equals_what_judge_reports(process) -> None:  # type: ignore[no-untyped-def]
    frames, ref, other = process
    judge = load_process_judge()
    judge.context_verdicts = _verdicts(prompt=True, reference=True)
    emb = np.random.default_rng(3).normal(size=(2, 384)).astype(np.float32)
    fast = judge.consistency_of(frames, references=[ref, other], prompt_embeddings=emb)
    slow = [judge.judge(frames, reference=r).scores["consistency"] / 10 for r in (ref, other)]
    slow += [judge.judge(frames, prompt_embedding=e).scores["consistency"] / 10 for e in emb]
    np.testing.assert_allclose(fast, slow, atol=2e-3)


def test_cant_tell_replaces_the_number(process) -> None:  # type: ignore[no-untyped-def]
    frames, ref, _ = process
    judge = load_process_judge()
    judge.context_verdicts = _verdicts(prompt=False, reference=True)
    emb = np.random.default_rng(0).normal(size=384).astype(np.float32)
    rec = judge.judge(frames, prompt_embedding=emb)
    assert "consistency" not in rec.attributes
    assert all("consistency" not in s for s in rec.timeline)
    assert rec.cant_tell["consistency"].startswith("can't tell: right vs wrong prompt")
    back = ProcessAssessment.from_dict(json.loads(rec.to_json()))
    assert back.cant_tell == rec.cant_tell
    assert "consistency" in judge.judge(frames, reference=ref).attributes  # a reference it can tell
    judge.context_verdicts = None  # never measured: the number, with a note saying so
    unchecked = judge.judge(frames, prompt_embedding=emb)
    assert "consistency" in unchecked.attributes and not unchecked.cant_tell
    assert any("was not measured" in n for n in unchecked.notes)


def test_decide_needs_every_source_above_chance() -> None:
    def r(share: float, lo: float, hi: float) -> dict[str, object]:
        return {"share_right_above_wrong": share, "ci95": [lo, hi], "n_processes": 40, "n_pairs": 200}

    verdicts = decide(
        {
            "synthetic": {"prompt": r(0.6, 0.52, 0.68), "reference": r(0.78, 0.7, 0.84)},
            "timelapse": {"prompt": r(0.54, 0.39, 0.68), "reference": r(1.0, 0.92, 1.0)},
        }
    )
    assert not verdicts["prompt"].can_tell  # the time-lapse's CI holds 50%
    assert verdicts["reference"].can_tell
    assert "timelapse 54% [39%, 68%]" in verdicts["prompt"].note


def test_verdicts_are_tied_to_the_weights(tmp_path: Path) -> None:
    weights = tmp_path / "judge.pt"
    weights.write_bytes(b"weights")
    write_verdicts(_verdicts(prompt=False, reference=True), "test", weights)
    from artjudge.io.files import sha256_file

    assert read_verdicts(weights, sha256_file(weights))["prompt"].can_tell is False
    assert read_verdicts(weights, "0" * 64) == {}  # measured on other weights: not applied
    verdict_path(weights).unlink()
    assert read_verdicts(weights, None) == {}


def test_shipped_records_carry_calibrated_intervals(process) -> None:  # type: ignore[no-untyped-def]
    frames, ref, _ = process
    judge = load_process_judge()
    if not judge.calibration:
        pytest.skip("the shipped residual file has no calibration (run scripts/process_residual_std.py)")
    rec = judge.judge(frames, reference=ref)
    for key, sd in rec.attributes.items():
        assert sd.interval is not None and sd.interval_level == 0.9, key
        lo, hi = sd.interval
        assert 0.0 <= lo <= sd.score <= hi <= 100.0
        q = judge.calibration[key].q
        assert hi - lo <= 2 * q + 1e-6
