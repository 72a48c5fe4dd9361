"""Process data: the synthetic generator, Sheep Market rasteriser, time-lapse and AGIQA readers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artjudge.data.process.synthetic import (
    FAULTS,
    PAPER,
    generate_dataset,
    generate_process,
    labels_from_faults,
    procedural_target,
)
from artjudge.errors import InputError
from artjudge.taxonomy import PROCESS


def _target() -> Image.Image:
    return procedural_target(np.random.default_rng(5), 64)


def test_generator_is_seeded() -> None:
    a = generate_process(_target(), seed=3, n_frames=5, size=64)
    b = generate_process(_target(), seed=3, n_frames=5, size=64)
    c = generate_process(_target(), seed=4, n_frames=5, size=64)
    assert a.faults == b.faults and np.array_equal(a.labels, b.labels)
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.frames, b.frames, strict=True))
    assert any(
        not np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.frames, c.frames, strict=True)
    )
    assert len(a.frames) == 5 and a.frames[0].size == (64, 64)


def test_clean_process_converges_to_reference() -> None:
    p = generate_process(_target(), seed=1, n_frames=6, size=64, faults={})
    assert np.all(p.labels == 10.0)
    ref = np.asarray(p.reference, np.float32)
    errs = [np.abs(np.asarray(f, np.float32) - ref).mean() for f in p.frames]
    assert errs[-1] < errs[0] * 0.5  # coarse to fine: the canvas approaches the target


def test_fault_magnitude_sets_label() -> None:
    keys = PROCESS.keys()
    for fault, attr in [
        ("style_switch", "style_stability"),
        ("colour_jump", "color_stability"),
        ("layout_shift", "composition_stability"),
        ("regression", "process_stability"),
        ("no_detail", "detail_depth"),
        ("flat_colour", "color_depth"),
        ("unfinished", "composition_depth"),
        ("departure", "consistency"),
    ]:
        small = labels_from_faults({fault: 0.2})[keys.index(attr)]
        big = labels_from_faults({fault: 0.9})[keys.index(attr)]
        assert 1.0 <= big < small < 10.0, fault
    assert set(FAULTS) == {
        "style_switch",
        "colour_jump",
        "layout_shift",
        "regression",
        "no_detail",
        "flat_colour",
        "unfinished",
        "departure",
    }


def test_regression_fault_erases_canvas() -> None:
    p = generate_process(_target(), seed=2, n_frames=6, size=64, faults={"regression": 1.0})
    paper = np.array(PAPER)
    paper_frac = [(np.abs(np.asarray(f, np.int32) - paper).sum(-1) == 0).mean() for f in p.frames]
    # somewhere after the start, paper reappears: the erasure
    assert max(paper_frac[2:]) > paper_frac[1] + 0.1
    assert p.labels[PROCESS.keys().index("process_stability")] == pytest.approx(2.0)


def test_dataset_mixes_targets() -> None:
    ds = generate_dataset(3, seed=0, targets=[_target()], n_frames=4, size=48)
    assert len(ds) == 3 and all(len(p.frames) == 4 for p in ds)
    assert len({p.seed for p in ds}) == 3


def test_sheep_rasterise(shared_data: Path) -> None:
    from artjudge.data.process.sheep import load_sheep, rasterise

    root = shared_data / "process" / "sheep-market"
    if not root.is_dir():
        pytest.skip("sheep-market not present")
    drawings = load_sheep(root, "test")
    assert len(drawings) == 300
    d = drawings[0]
    frames = rasterise(d.strokes, n_frames=5, size=64)
    ink = [(np.asarray(f) < 128).any(-1).sum() for f in frames]
    assert ink == sorted(ink) and ink[0] > 0  # ink only accumulates
    shuffled = rasterise(d.strokes, 5, 64, order=np.random.default_rng(0).permutation(len(d.strokes)))
    assert np.array_equal(np.asarray(frames[-1]), np.asarray(shuffled[-1]))  # same final drawing
    with pytest.raises(InputError, match="no split"):
        load_sheep(root, "nonsense")


def test_inverse_painting_reader(shared_data: Path) -> None:
    from artjudge.data.process.inverse_painting import load_timelapse

    root = shared_data / "process" / "inverse-painting-sample"
    if not root.is_dir():
        pytest.skip("inverse-painting-sample not present")
    tl = load_timelapse(root)
    assert len(tl.frames) == 10
    assert tl.seconds == sorted(tl.seconds)  # type: ignore[type-var]
    assert tl.paths[-1].name.startswith("10_")


def test_agiqa_pairs_split_by_prompt(agiqa_dir: Path) -> None:
    from artjudge.data.process.agiqa_align import load_align_pairs

    pairs = load_align_pairs(agiqa_dir)
    assert len(pairs) == 2384
    prompts = {s: {p.prompt.split(",")[0] for p in pairs if p.split == s} for s in ("train", "val", "test")}
    assert not (prompts["train"] & prompts["test"]) and not (prompts["val"] & prompts["test"])
    assert all(1.0 <= p.consistency <= 10.0 for p in pairs)
    assert {p.style for p in pairs} <= {"", "anime", "realistic", "sci-fi", "baroque", "abstract"}
