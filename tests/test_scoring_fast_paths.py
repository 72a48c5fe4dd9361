"""The fast paths of scoring give the plain formulas' numbers, and the pipeline lanes keep order.

Issue 19 rewrote the per-image work around the network for speed: the hand-crafted measures
(histograms of 8-bit channels, one shared second difference), the network input (one pass
into the batch) and the thread layout (pipeline lanes). Scores must not move, so each fast
path is checked here against the straightforward formula it replaces, bit for bit where the
arithmetic is the same and in float32 (what the head reads) where only the summation order
changed. Real models and real images throughout; nothing of our own is mocked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import artjudge
from artjudge.errors import InputError
from artjudge.features.extract import in_lanes
from artjudge.features.filters import second_difference
from artjudge.features.handcrafted import (
    HANDCRAFTED_NAMES,
    _entropy,
    analysis_image,
    colourfulness,
    handcrafted_vector,
    luminance,
)
from artjudge.features.pixels import MEAN, STD, preprocess_array
from artjudge.record import Assessment, Failure
from artjudge.threads import POLICY_ENV, lane_policy, policy_for

REPO = Path(__file__).resolve().parents[1]
SUNSET = REPO / "examples" / "sunset.jpg"


def _images() -> list[Image.Image]:
    """Pictures that reach every branch: texture, flat white (luminance just above 1.0), black, odd sizes."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:300, 0:420]
    scene = np.stack([x * 255 // 419, y * 255 // 299, (x * y) % 256], -1).astype(np.uint8)
    sunset = Image.open(SUNSET).convert("RGB")
    return [
        Image.fromarray(scene),
        Image.fromarray(rng.integers(0, 256, (200, 260, 3), dtype=np.uint8)),
        Image.new("RGB", (64, 48), (255, 255, 255)),
        Image.new("RGB", (50, 50), (0, 0, 0)),
        Image.fromarray(scene).resize((17, 300)),
        Image.fromarray(scene).resize((40, 2)),
        sunset,
        sunset.resize((1000, 750)),
    ]


def _reference_vector(image: Image.Image) -> np.ndarray:
    """The hand-crafted measures by their textbook formulas (SciPy filters, np.histogram, float HSV)."""
    ndimage = pytest.importorskip("scipy.ndimage")
    small = analysis_image(image)
    rgb = np.asarray(small, dtype=np.float64) / 255.0
    hsv = np.asarray(small.convert("HSV"), dtype=np.float64) / 255.0
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    gray = luminance(rgb)
    gy, gx = np.gradient(gray)
    h, w = gray.shape
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    noise = (
        float(
            np.sqrt(np.pi / 2)
            * np.abs(ndimage.convolve(gray, kernel, mode="reflect")[1:-1, 1:-1]).sum()
            / (6.0 * (w - 2) * (h - 2))
        )
        if h >= 3 and w >= 3
        else 0.0
    )
    values = (
        colourfulness(rgb),
        sat.mean(),
        sat.std(),
        val.mean(),
        val.std(),
        gray.std(),
        np.log1p(ndimage.laplace(gray).var() * 1e4),
        float((np.hypot(gx, gy) > 0.1).mean()),
        noise,
        _entropy(gray, 64),
        _entropy(hue, 36, weights=sat),
        float((gray < 0.1).mean()),
        float((gray > 0.9).mean()),
    )
    return np.asarray(values, dtype=np.float32)


def test_handcrafted_vector_equals_the_plain_formulas() -> None:
    for image in _images():
        fast, plain = handcrafted_vector(image), _reference_vector(image)
        assert fast.dtype == np.float32
        np.testing.assert_array_equal(fast, plain, err_msg=f"image {image.size}")


def test_handcrafted_vector_on_agiqa_images(agiqa_dir: Path) -> None:
    for path in sorted((agiqa_dir / "images").glob("*.jpg"))[::300]:
        image = Image.open(path).convert("RGB")
        np.testing.assert_array_equal(handcrafted_vector(image), _reference_vector(image), err_msg=path.name)


@pytest.mark.parametrize("shape", [(1, 7), (2, 5), (3, 3), (31, 17)])
def test_second_difference_is_scipys_to_the_bit(shape: tuple[int, int]) -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    x = np.random.default_rng(0).random(shape)
    for axis in (0, 1):
        expected = ndimage.correlate1d(x, [1.0, -2.0, 1.0], axis=axis, mode="reflect")
        assert np.array_equal(second_difference(x, axis), expected)


def test_preprocess_array_is_bit_identical_to_the_stacked_formula() -> None:
    images = [*_images()[:2], Image.open(SUNSET).convert("L"), Image.open(SUNSET).convert("RGB")]
    stacked = np.stack(
        [
            np.asarray(
                im.convert("RGB").resize((384, 384), Image.Resampling.BICUBIC, reducing_gap=3.0),
                dtype=np.float32,
            )
            for im in images
        ]
    ).transpose(0, 3, 1, 2)
    expected = (np.ascontiguousarray(stacked) / np.float32(255.0) - np.float32(MEAN)) / np.float32(STD)
    out = preprocess_array(images, 384)
    assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"]
    assert np.array_equal(out, expected)


def test_in_lanes_keeps_input_order_and_raises_the_first_error() -> None:
    assert list(in_lanes(range(23), lambda i: i * i, 3)) == [i * i for i in range(23)]

    def work(i: int) -> int:
        if i == 5:
            raise ValueError("item 5: bad")
        return i

    got: list[int] = []
    with pytest.raises(ValueError, match="item 5"):
        for v in in_lanes(range(10), work, 2):
            got.append(v)
    assert got == [0, 1, 2, 3, 4]


def test_thread_policy_lanes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLICY_ENV, raising=False)
    policy = policy_for(threads=2)
    assert (policy.compute, policy.lanes) == (2, 2)
    assert (lane_policy(policy).compute, lane_policy(policy).lanes) == (1, 1)
    assert policy_for(workers=2, threads=None).lanes == policy_for(workers=2, threads=None).compute
    monkeypatch.setenv(POLICY_ENV, "off")
    assert policy_for(threads=2).lanes == 1  # library defaults: one lane, as before


def test_lanes_give_the_one_lane_records_in_order(tmp_path: Path) -> None:
    scorer = artjudge.load("default", runtime="onnx", cache=False, threads=2)
    assert scorer.lanes == 2
    paths: list[str] = []
    for i, image in enumerate(_images()[:5] + _images()[6:]):
        path = tmp_path / f"img_{i}.jpg"
        image.save(path, quality=90)
        paths.append(str(path))
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    items = paths[:3] + [str(tmp_path / "broken.jpg")] + paths[3:] + paths[:2]
    lanes = scorer.assess_many(items, batch_size=2, skip_errors=True)
    scorer.lanes = 1
    try:
        one = scorer.assess_many(items, batch_size=2, skip_errors=True)
    finally:
        scorer.lanes = 2
    assert [type(r) for r in lanes] == [type(r) for r in one]
    assert isinstance(lanes[3], Failure) and "broken.jpg" in lanes[3].input
    for a, b in zip(lanes, one, strict=True):
        assert a.input == b.input
        if isinstance(a, Assessment) and isinstance(b, Assessment):
            assert a.overall == b.overall and a.attributes == b.attributes
    with pytest.raises(InputError, match="broken.jpg"):
        scorer.assess_many(items, batch_size=2, skip_errors=False)


def test_thin_banner_is_measured_not_crashed() -> None:
    """A 16x4000 banner shrinks to 256x1 at the analysis size; the measures need 3 px a side."""
    rng = np.random.default_rng(3)
    banner = Image.fromarray(rng.integers(0, 256, (16, 4000, 3), dtype=np.uint8))
    values = handcrafted_vector(banner)
    assert values.shape == (len(HANDCRAFTED_NAMES),)
    assert np.isfinite(values).all()
