"""The realistic-media process generator: seeded, staged, physically plausible, labelled."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from artjudge.data.process.camera import CameraShot, photograph, photograph_all
from artjudge.data.process.media import (
    MEDIA,
    STAGES,
    frame_schedule,
    generate_media_dataset,
    generate_media_process,
    landscape_target,
)
from artjudge.data.process.synthetic import FAULTS, labels_from_faults
from artjudge.features.process_signals import process_signals


@pytest.fixture(scope="module")
def target() -> Image.Image:
    return landscape_target(np.random.default_rng(3), 128)


def _lum(img: Image.Image) -> float:
    return float(np.asarray(img.convert("L"), np.float32).mean())


def test_same_seed_same_process(target: Image.Image) -> None:
    a = generate_media_process(target, 5, medium="watercolour", n_frames=6, size=96, camera="photo")
    b = generate_media_process(target, 5, medium="watercolour", n_frames=6, size=96, camera="photo")
    c = generate_media_process(target, 6, medium="watercolour", n_frames=6, size=96, camera="photo")
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.frames, b.frames, strict=True))
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(np.asarray(a.frames[-1]), np.asarray(c.frames[-1]))


@pytest.mark.parametrize("n", [3, 4, 7, 16, 50])
@pytest.mark.parametrize("medium", MEDIA)
def test_schedule_covers_every_stage_and_ends_complete(medium: str, n: int) -> None:
    sched = frame_schedule(n, medium)
    assert len(sched) == n
    stages = [s for s, _ in sched]
    assert stages == sorted(stages) and stages[0] == 0 and stages[-1] == len(STAGES[medium]) - 1
    assert sched[-1][1] == 1.0
    if n >= len(STAGES[medium]):
        assert set(stages) == set(range(len(STAGES[medium])))


@pytest.mark.parametrize("bad", [2, 51])
def test_frame_count_outside_3_to_50_is_refused(bad: int) -> None:
    with pytest.raises(ValueError, match="n_frames"):
        frame_schedule(bad, "watercolour")


def test_unknown_medium_and_camera_are_refused(target: Image.Image) -> None:
    with pytest.raises(ValueError, match="medium 'gouache'"):
        generate_media_process(target, 0, medium="gouache")
    with pytest.raises(ValueError, match="camera mode 'tripod'"):
        photograph_all([target], np.random.default_rng(0), "tripod")


def test_watercolour_goes_lighter_to_darker_and_builds_detail(target: Image.Image) -> None:
    p = generate_media_process(
        target, 1, medium="watercolour", n_frames=8, size=128, camera="none", fault_rate=0
    )
    lums = [_lum(f) for f in p.frames]
    assert all(b <= a + 0.5 for a, b in zip(lums, lums[1:], strict=False)), lums
    assert p.stages[0] == "sketch" and p.stages[-1] == "detail"
    sig, _ = process_signals(p.frames)
    assert sig.frames[-1]["coverage"] > sig.frames[0]["coverage"] + 0.3
    assert sig.frames[-1]["saturation"] > sig.frames[0]["saturation"]
    assert (np.asarray(p.labels) == 10).all()  # clean process: every label at the top


def test_pencil_ink_stays_monochrome_and_darkens(target: Image.Image) -> None:
    p = generate_media_process(
        target, 2, medium="pencil_ink", n_frames=5, size=128, camera="none", fault_rate=0
    )
    last = np.asarray(p.frames[-1].convert("HSV"), np.float32)[..., 1].mean()
    assert last < 0.12 * 255  # ink on paper: hardly any colour
    assert _lum(p.frames[-1]) < _lum(p.frames[0])


def test_faults_set_the_documented_labels(target: Image.Image) -> None:
    faults = {"regression": 0.8, "flat_colour": 0.5}
    p = generate_media_process(target, 4, medium="opaque", n_frames=10, size=96, camera="none", faults=faults)
    assert np.allclose(p.labels, labels_from_faults(faults))
    # the scrubbed frame shows more bare paper than the frame before it
    sig, _ = process_signals(p.frames)
    cov = [f["coverage"] for f in sig.frames]
    assert min(b - a for a, b in zip(cov, cov[1:], strict=False)) < -0.1


def test_every_fault_renders(target: Image.Image) -> None:
    faults = dict.fromkeys(FAULTS, 0.6)
    p = generate_media_process(target, 9, medium="digital", n_frames=9, size=64, faults=faults)
    assert len(p.frames) == 9 and all(f.size == (64, 64) for f in p.frames)
    assert p.labels.min() < 10


def test_photo_changes_light_between_shots(target: Image.Image) -> None:
    rng = np.random.default_rng(0)
    a = photograph(target, CameraShot.draw(rng), rng)
    b = photograph(target, CameraShot.draw(rng), rng)
    assert a.size == target.size
    diff = np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean()
    assert diff > 1.0


def test_dataset_draws_frame_counts_and_media(target: Image.Image) -> None:
    ds = generate_media_dataset(6, 11, [target], n_frames=(3, 12), size=64, camera="photo")
    assert all(3 <= len(p.frames) <= 12 for p in ds)
    assert {p.medium for p in ds} <= set(MEDIA)
