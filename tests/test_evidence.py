"""Each evidence measure checked on a synthetic image whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter

from artjudge.features import evidence as E


def _img(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _scene(seed: int = 0, size: int = 256) -> Image.Image:
    """A structured, textured test picture: gradient sky, a dark hill, a bright sun, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    arr = np.zeros((size, size, 3))
    arr[..., 0] = 80 + 120 * y
    arr[..., 1] = 120 + 60 * x
    arr[..., 2] = 200 - 100 * y
    hill = y > 0.65 + 0.1 * np.sin(8 * x)
    arr[hill] = (40, 90, 30)
    sun = (x - 0.7) ** 2 + (y - 0.3) ** 2 < 0.005
    arr[sun] = (255, 230, 120)
    arr += rng.normal(0, 6, arr.shape)
    return _img(arr)


def _subject_at(cx: float, cy: float, size: int = 300, half: int = 22) -> Image.Image:
    arr = np.full((size, size, 3), 40.0)
    px, py = int(cx * size), int(cy * size)
    arr[max(0, py - half) : py + half, max(0, px - half) : px + half] = (230, 200, 60)
    return _img(arr)


def test_pure_red_is_warm_saturated_and_colourful() -> None:
    ev = E.measure(Image.new("RGB", (128, 128), (255, 0, 0)))
    assert ev["saturation_mean"].value == pytest.approx(1.0)
    assert ev["brightness_mean"].value == pytest.approx(1.0)
    assert ev["colourfulness"].value > 59  # Hasler-Süsstrunk: "extremely colourful"
    assert ev["warmth"].value > 0.5
    assert "uniform" in ev.limitations
    assert not ev["symmetry"].valid and not ev["sharpness"].valid  # nothing to judge in a flat field


def test_pure_blue_is_cool_and_grey_is_neutral() -> None:
    assert E.measure(_img(np.full((64, 64, 3), (20, 40, 230))))["warmth"].value < -0.5
    grey = E.measure(Image.new("RGB", (64, 64), (128, 128, 128)))
    assert grey["colourfulness"].value == pytest.approx(0.0, abs=1e-6)
    assert grey["warmth"].value == 0.0
    assert {"uniform", "achromatic"} <= set(grey.limitations)


def test_hasler_susstrunk_matches_hand_computation() -> None:
    rgb = np.zeros((2, 1, 3))
    rgb[0, 0] = (1.0, 0.0, 0.0)
    rgb[1, 0] = (0.0, 0.0, 1.0)
    rg = np.array([255.0, 0.0])
    yb = np.array([127.5, -255.0])
    expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    assert E.colourfulness(rgb) == pytest.approx(expected)


def test_mirrored_image_is_symmetric_and_balanced() -> None:
    arr = np.asarray(_scene(1), dtype=np.float64)
    half = arr[:, :128]
    mirrored = np.concatenate([half, half[:, ::-1]], axis=1)
    ev_m = E.measure(_img(mirrored))
    ev_o = E.measure(_scene(1))
    assert ev_m["symmetry"].value > 0.98
    assert ev_m["symmetry"].value > ev_o["symmetry"].value + 0.2
    assert ev_m["balance"].value > 0.95


def test_blur_lowers_sharpness_and_edges() -> None:
    img = _scene(2)
    blurred = img.filter(ImageFilter.GaussianBlur(3))
    a, b = E.measure(img), E.measure(blurred)
    assert b["sharpness"].value < a["sharpness"].value / 5
    assert b["texture"].value < a["texture"].value


def test_noise_estimate_recovers_added_noise() -> None:
    flat = np.full((256, 256), 128.0)
    for sigma in (5.0, 15.0):
        noisy = flat + np.random.default_rng(0).normal(0, sigma, flat.shape)
        est = E.noise_sigma(np.clip(noisy, 0, 255) / 255.0)
        assert est == pytest.approx(sigma, rel=0.15)
    assert E.noise_sigma(flat / 255.0) == pytest.approx(0.0, abs=1e-9)


def test_edges_dense_in_checkerboard_absent_in_gradient() -> None:
    y, x = np.mgrid[0:128, 0:128]
    checker = ((x // 4 + y // 4) % 2) * 255.0
    grad = np.repeat((x / 127.0 * 255.0)[..., None], 3, axis=2)
    e_check = E.measure(_img(np.repeat(checker[..., None], 3, axis=2)))
    e_grad = E.measure(_img(grad))
    assert e_check["edge_density"].value > 0.3
    assert e_grad["edge_density"].value < 0.01
    assert e_check["texture"].value > e_grad["texture"].value


def test_subject_on_thirds_point_beats_corner_and_centre_beats_corner() -> None:
    thirds = E.measure(_subject_at(1 / 3, 1 / 3))
    corner = E.measure(_subject_at(0.08, 0.08))
    centre = E.measure(_subject_at(0.5, 0.5))
    assert thirds["saliency_thirds"].value > corner["saliency_thirds"].value + 0.3
    assert thirds["saliency_thirds"].value > centre["saliency_thirds"].value
    assert centre["saliency_centre"].value > thirds["saliency_centre"].value
    assert centre["saliency_centre"].value > corner["saliency_centre"].value + 0.3
    # a subject off to one side unbalances the weight; a central one does not
    assert centre["balance"].value > corner["balance"].value + 0.3
    # a small subject on a plain field leaves most of it as negative space
    assert corner["negative_space"].value > 0.7


def test_complementary_pair_fits_I_template_and_single_hue_fits_i() -> None:
    rng = np.random.default_rng(0)
    arr = np.zeros((128, 128, 3))
    arr[:, :64] = (230, 30, 30)
    arr[:, 64:] = (30, 230, 230)
    arr += rng.normal(0, 6, arr.shape)
    ev = E.measure(_img(arr))
    assert ev["hue_harmony"].detail["template"] == "I"
    assert ev["hue_harmony"].value < 1.0
    one = np.full((128, 128, 3), (40.0, 80.0, 220.0)) + rng.normal(0, 4, (128, 128, 3))
    assert E.measure(_img(one))["hue_harmony"].detail["template"] == "i"
    # three hues 120 degrees apart fit no template well
    tri = np.zeros((120, 120, 3))
    tri[:, :40] = (230, 20, 20)
    tri[:, 40:80] = (20, 230, 20)
    tri[:, 80:] = (20, 20, 230)
    assert E.measure(_img(tri))["hue_harmony"].value > ev["hue_harmony"].value + 5


def test_palette_finds_the_colours_present() -> None:
    arr = np.zeros((100, 100, 3))
    arr[:, :70] = (20, 40, 200)  # 70% blue
    arr[:, 70:] = (240, 120, 20)  # 30% orange
    ev = E.measure(_img(arr))
    cols = ev["palette"].detail["colours"]
    assert cols[0]["name"] == "blue" and cols[0]["share"] == pytest.approx(0.7, abs=0.03)
    assert any(c["name"] == "orange" for c in cols)
    assert ev["palette"].value > 50  # blue and orange are far apart in L*a*b*


def test_affect_follows_valdez_mehrabian() -> None:
    ev = E.measure(_img(np.full((64, 64, 3), (128, 64, 64))))
    y, s = ev["brightness_mean"].value, ev["saturation_mean"].value
    assert ev["affect_pleasure"].value == pytest.approx(0.69 * y + 0.22 * s, abs=1e-5)
    assert ev["affect_arousal"].value == pytest.approx(-0.31 * y + 0.60 * s, abs=1e-5)
    assert ev["affect_dominance"].value == pytest.approx(-0.76 * y + 0.32 * s, abs=1e-5)
    bright = E.measure(Image.new("RGB", (32, 32), (250, 250, 250)))
    dark = E.measure(Image.new("RGB", (32, 32), (10, 10, 10)))
    assert bright["affect_pleasure"].value > dark["affect_pleasure"].value
    assert dark["affect_dominance"].value > bright["affect_dominance"].value


def test_contrast_measures() -> None:
    half = np.zeros((64, 64, 3))
    half[:, 32:] = 255
    ev = E.measure(_img(half))
    assert ev["contrast_rms"].value == pytest.approx(0.5, abs=0.01)
    assert ev["contrast_michelson"].value == pytest.approx(1.0, abs=0.01)


def test_tiny_and_transparent_images_are_flagged() -> None:
    tiny = E.measure(_scene(3).resize((16, 16)))
    assert "tiny" in tiny.limitations
    assert not tiny["saliency_thirds"].valid and tiny["colourfulness"].valid
    rgba = _scene(4).convert("RGBA")
    a = np.asarray(rgba).copy()
    a[:, :100, 3] = 0
    ev = E.measure(Image.fromarray(a))
    assert "transparency" in ev.limitations
    assert ev["transparency"].value == pytest.approx(100 / 256, abs=0.02)


def test_reference_ranges_give_percentiles_and_qualifiers() -> None:
    refs = E.reference_ranges()
    if not refs:
        pytest.skip("reference file not built")
    ev = E.measure(_scene(5))
    m = ev["colourfulness"]
    assert m.reference and m.percentile is not None and 0 <= m.percentile <= 100
    assert m.qualifier in {"very low", "low", "typical", "high", "very high"}
    assert (
        E.qualifier_for(5) == "very low"
        and E.qualifier_for(50) == "typical"
        and E.qualifier_for(95) == "very high"
    )
    assert E.percentile_of(refs["colourfulness"]["p50"], refs["colourfulness"]) == pytest.approx(50, abs=0.5)
    assert 0.0 <= ev["abstraction"].value <= 1.0


def test_to_dict_round_trip() -> None:
    # (its speed is measured by benchmarks/evidence_metrics_speed.py, not asserted here)
    ev = E.measure(_scene(6, size=512))
    d = ev.to_dict()
    back = E.Evidence.from_dict(d)
    assert set(back) == set(ev) and back["warmth"].value == ev["warmth"].value
    assert d["_limitations"] == []
