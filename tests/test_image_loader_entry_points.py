"""One image loader behind every entry point (issue 14 item 3).

Each bad input (a truncated file, a decompression bomb, an image over the pixel limit) is
built once as a real file and given to every entry point that decodes a still image: the
answer must be the reason ``artjudge.io.load_image`` gives, word for word. Awkward but valid
inputs (16-bit grayscale, an ICC-tagged image, transparency) must reach each model as the
loader's pixels: the score of the file equals the score of ``load_image(file).image``, and
differs from what Pillow's plain ``convert("RGB")`` would have fed it.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from artjudge.errors import InputError
from artjudge.io import ImageTooLarge, NotAnImage, check_pixel_limit, image_size, load_image
from artjudge.io.keyframes import KeyframeConfig, extract_keyframes
from helpers_extras import require_extra

# ----------------------------------------------------------------------------- inputs


def _painting(w: int = 96, h: int = 72, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    small = Image.fromarray(rng.integers(0, 255, (4, 4, 3), dtype=np.uint8))
    return small.resize((w, h), Image.Resampling.BICUBIC)


def _png_with_claimed_size(width: int, height: int) -> bytes:
    """A 1 kB PNG whose header claims ``width x height``: a decompression bomb as open() sees it."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def _bad_inputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(buf, "PNG")
    truncated = folder / "truncated.png"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    bomb = folder / "bomb.png"
    bomb.write_bytes(_png_with_claimed_size(30_000, 30_000))  # 900 MP claimed (Pillow's own guard)
    over = folder / "over.png"
    over.write_bytes(_png_with_claimed_size(10_000, 8_000))  # 80 MP: over artjudge's 64 MP only
    text = folder / "notes.png"
    text.write_text("not an image, whatever the name says")
    return {"truncated": truncated, "bomb": bomb, "over_limit": over, "text": text}


def _gray16(path: Path, w: int = 80, h: int = 64, low: int = 20_000) -> Path:
    """A 16-bit grayscale gradient well above 255: Pillow's convert("RGB") clips it to white."""
    x = np.linspace(low, 65_000, w)[None, :].repeat(h, axis=0)
    y = np.linspace(0, 9_000, h)[:, None].repeat(w, axis=1)
    im = Image.fromarray((x - y).astype(np.uint16))
    assert im.mode.startswith("I;16")
    im.save(path)
    return path


def _naive_rgb(path: Path) -> Image.Image:
    """What the openers replaced here did with a file: no scaling, no ICC, no compositing."""
    with Image.open(path) as im:
        im.load()
        return im.convert("RGB")


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("good") / "good.png"
    _painting().save(p)
    return p


def _reason_of(call: Callable[[], Any]) -> InputError:
    with pytest.raises(InputError) as e:
        call()
    return e.value


# ------------------------------------------------------------------------ the loader


def test_loader_reasons_and_error_types(bad: dict[str, Path]) -> None:
    # the loader itself: the reference answers every entry point must match
    assert _reason_of(lambda: load_image(bad["truncated"])).reason.startswith("truncated PNG file")
    bomb = _reason_of(lambda: load_image(bad["bomb"]))
    assert isinstance(bomb, ImageTooLarge) and "decompression bomb" in bomb.reason
    over = _reason_of(lambda: load_image(bad["over_limit"]))
    assert isinstance(over, ImageTooLarge) and "10000x8000" in over.reason
    text = _reason_of(lambda: load_image(bad["text"]))
    assert isinstance(text, NotAnImage) and text.reason == "not an image (looks like text)"


def test_what_labels_the_role_and_keeps_the_reason(bad: dict[str, Path], tmp_path: Path) -> None:
    plain = _reason_of(lambda: load_image(bad["truncated"]))
    labelled = _reason_of(lambda: load_image(bad["truncated"], what="reference"))
    assert labelled.reason == plain.reason
    assert str(labelled) == f"reference {bad['truncated']}: {plain.reason}"
    assert isinstance(_reason_of(lambda: load_image(bad["bomb"], what="frame")), ImageTooLarge)
    folder = _reason_of(lambda: load_image(tmp_path, what="reference"))
    assert folder.reason == "is a directory, not an image file"  # no CLI hint for a role
    loaded = load_image(_painting(), what="frame")
    assert loaded.source == "<image>"  # the role only labels errors, never the record


def test_arrays_load_like_images_and_bad_arrays_are_refused() -> None:
    arr = np.asarray(_painting())
    out = load_image(arr)
    assert out.source == "<array>" and np.array_equal(np.asarray(out.image), arr)
    assert out.sha256 == load_image(Image.fromarray(arr)).sha256
    gray = load_image(arr[..., 0].astype(np.int64))  # integral 0-255 values of another dtype
    assert gray.image.mode == "RGB" and np.array_equal(np.asarray(gray.image)[..., 2], arr[..., 0])
    with pytest.raises(InputError, match=r"^<array>: image array must be HxW"):
        load_image(np.zeros((2, 40, 40, 3), np.uint8))
    with pytest.raises(InputError, match="holds values 0..1.5; give uint8 0-255"):
        load_image(np.linspace(0, 1.5, 40 * 40).reshape(40, 40))
    with pytest.raises(InputError, match="too small"):
        load_image(np.zeros((4, 4, 3), np.uint8))


def test_keep_alpha_returns_colour_managed_rgba(tmp_path: Path) -> None:
    from test_io_images import _B, _G, _R, _matrix_icc

    rgba = np.zeros((40, 48, 4), np.uint8)
    rgba[..., 0] = 255  # stored red, which the profile below says is sRGB's blue
    rgba[:, :24, 3] = 255
    rgba[:, 24:, 3] = 0
    p = tmp_path / "alpha.png"
    Image.fromarray(rgba, "RGBA").save(p, icc_profile=_matrix_icc(_B, _G, _R, "swapped primaries"))
    kept = load_image(p, keep_alpha=True)
    flat = load_image(p)
    assert kept.image.mode == "RGBA" and flat.image.mode == "RGB"
    px = np.asarray(kept.image)
    assert px[0, 0, 2] > 240 and px[0, 0, 0] < 15  # colour managed, like the score's copy
    assert px[0, 0, 3] == 255 and px[0, -1, 3] == 0  # transparency kept
    assert np.array_equal(np.asarray(flat.image)[:, :24], px[:, :24, :3])
    assert "alpha channel composited on white" in flat.notes
    assert load_image(_painting(), keep_alpha=True).image.mode == "RGB"  # nothing to keep
    pal = Image.new("P", (32, 32), 1)
    pal.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pal.info["transparency"] = 1
    pp = tmp_path / "key.png"
    pal.save(pp, transparency=1)
    out = load_image(pp, keep_alpha=True)
    assert out.image.mode == "RGBA" and out.notes == ["palette with transparency kept as alpha"]


def test_image_size_reads_the_header_like_the_loader(bad: dict[str, Path], tmp_path: Path) -> None:
    im = _painting(96, 72)
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "rotated.jpg"
    im.save(p, exif=exif.tobytes())
    assert image_size(p) == load_image(p).image.size == (72, 96)
    for key in ("bomb", "over_limit", "text"):
        assert (
            _reason_of(lambda k=key: image_size(bad[k])).reason
            == _reason_of(lambda k=key: load_image(bad[k])).reason
        )
    with pytest.raises(ImageTooLarge, match=r"^clip: image is 64x48 = 0.0 megapixels, over the limit"):
        check_pixel_limit((64, 48), "clip", 1_000)


# ---------------------------------------------------------------- the entry points


@pytest.fixture(scope="module")
def process_judge() -> Any:
    import artjudge

    return artjudge.load_process_judge()


BAD = ("truncated", "bomb", "over_limit", "text")


@pytest.mark.parametrize("kind", BAD)
def test_process_judge_frames_and_reference(
    kind: str, bad: dict[str, Path], good: Path, process_judge: Any
) -> None:
    expected = _reason_of(lambda: load_image(bad[kind])).reason
    frame = _reason_of(lambda: process_judge.judge([good, bad[kind]]))
    assert frame.reason == expected and frame.source == f"frame {bad[kind]}"
    ref = _reason_of(lambda: process_judge.judge([good], reference=bad[kind]))
    assert ref.reason == expected and ref.source == f"reference {bad[kind]}"
    assert type(frame) is type(_reason_of(lambda: load_image(bad[kind])))


def test_process_judge_sees_the_loaders_pixels(tmp_path: Path, good: Path, process_judge: Any) -> None:
    deep = _gray16(tmp_path / "deep.png")
    assert load_image(deep).notes == ["16-bit grayscale reduced to 8-bit", "grayscale expanded to RGB"]
    frames = [good, deep]
    from_files = process_judge.judge(frames, reference=deep).scores
    loaded = [load_image(p).image for p in frames]
    assert from_files == process_judge.judge(loaded, reference=loaded[1]).scores
    naive = process_judge.judge([loaded[0], _naive_rgb(deep)], reference=_naive_rgb(deep)).scores
    assert naive != from_files  # the test can tell the loader's pixels from a plain convert


@pytest.mark.parametrize("kind", BAD)
def test_keyframes_folder_frames(kind: str, bad: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        _painting(seed=i).save(folder / f"{i + 1}.png")
    shutil.copy(bad[kind], folder / f"4{bad[kind].suffix}")
    err = _reason_of(lambda: extract_keyframes(folder))
    assert err.reason == _reason_of(lambda: load_image(folder / f"4{bad[kind].suffix}")).reason
    assert err.source == str(folder / "4.png")


def test_keyframes_folder_frames_are_the_loaders_pixels(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    paths = [_gray16(folder / f"{i + 1}.png", low=10_000 * (i + 1)) for i in range(2)]
    exif = Image.Exif()
    exif[0x0112] = 8
    _painting(64, 80, seed=3).save(folder / "3.jpg", exif=exif.tobytes(), quality=95)
    paths.append(folder / "3.jpg")
    kf = extract_keyframes(folder, KeyframeConfig(min_keyframes=3, max_keyframes=3))
    assert kf.indices == [0, 1, 2]
    want = [load_image(p).image for p in paths]
    for got, exp in zip(kf.frames, want, strict=True):
        assert got.size == exp.size == (80, 64)  # EXIF orientation 8 applied: 64x80 stored
        assert np.array_equal(np.asarray(got), np.asarray(exp))
    assert not np.array_equal(np.asarray(kf.frames[0]), np.asarray(_naive_rgb(paths[0])))


def test_keyframes_video_frames_get_the_pixel_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(4):
            arr = np.full((48, 64, 3), 40 * i, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    assert len(extract_keyframes(path).frames) >= 2
    expected = _reason_of(lambda: check_pixel_limit((64, 48), str(path), 1_000))
    err = _reason_of(lambda: extract_keyframes(path, KeyframeConfig(max_pixels=1_000)))
    assert isinstance(err, ImageTooLarge) and str(err) == str(expected)
    monkeypatch.setenv("ARTJUDGE_MAX_PIXELS", "1000")  # the same knob as for still images
    assert str(_reason_of(lambda: extract_keyframes(path))) == str(expected)


@pytest.mark.parametrize("kind", BAD)
def test_service_upload_check(kind: str, bad: dict[str, Path]) -> None:
    require_extra("serve")  # the service's upload check; the other entry points need no extra
    from artjudge.serve.uploads import PayloadTooLarge, UnsupportedMedia, check_image

    expected = _reason_of(lambda: load_image(bad[kind].read_bytes(), name="up.png"))
    err = _reason_of(lambda: check_image("up.png", bad[kind].read_bytes(), 10**8, 64_000_000))
    assert str(err) == str(expected)
    want = {ImageTooLarge: PayloadTooLarge, NotAnImage: UnsupportedMedia}.get(type(expected), InputError)
    assert type(err) is want  # 413 / 415 / 400


@pytest.mark.parametrize("kind", BAD)
def test_critique_cli(kind: str, bad: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from artjudge.cli import main

    expected = _reason_of(lambda: load_image(bad[kind]))
    assert main(["critique", str(bad[kind]), "--no-score"]) == 2
    assert f"artjudge: error: {expected}" in capsys.readouterr().err


def test_critique_cli_measures_the_loaders_rgba(tmp_path: Path) -> None:
    from artjudge.cli.critique import _image_for_measuring

    rgba = np.zeros((48, 40, 4), np.uint8)
    rgba[..., 1] = 180
    rgba[:24, :, 3] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    p = tmp_path / "sticker.png"
    Image.fromarray(rgba, "RGBA").save(p, exif=exif.tobytes())
    image, sha = _image_for_measuring(str(p))
    loaded = load_image(p, keep_alpha=True)
    assert image.mode == "RGBA" and image.size == (48, 40)  # rotated, alpha kept
    assert np.array_equal(np.asarray(image), np.asarray(loaded.image)) and sha == loaded.sha256


def test_chat_backend_reencodes_through_the_loader(bad: dict[str, Path]) -> None:
    import base64

    from artjudge.critique.backends import image_to_data_url

    buf = io.BytesIO()
    _painting().save(buf, "BMP")
    url = image_to_data_url(buf.getvalue())
    assert url.startswith("data:image/jpeg;base64,")
    assert Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size == (96, 72)
    with pytest.raises(NotAnImage):
        image_to_data_url(bad["text"].read_bytes())
    with pytest.raises(InputError, match="truncated BMP"):
        image_to_data_url(buf.getvalue()[:-2000])


# ---------------------------------------------------------------------- the VLM paths


@pytest.fixture(scope="module")
def tiny_vlm() -> Any:
    pytest.importorskip("transformers", reason="the vlm extra (transformers, peft) is not installed")
    pytest.importorskip("peft", reason="the vlm extra (transformers, peft) is not installed")
    import torch

    from artjudge.models.vlm.core import load_vlm
    from vlm_fixtures import tiny_vlm_dir

    torch.set_num_threads(1)
    return load_vlm(tiny_vlm_dir("qwen2_5_vl"))


@pytest.mark.parametrize("kind", BAD)
def test_vlm_scorer_critic_and_pair_judge(kind: str, bad: dict[str, Path], good: Path, tiny_vlm: Any) -> None:
    from artjudge.critique.vlm import VLMCritic
    from artjudge.models.vlm.pair import VLMPairJudge
    from artjudge.models.vlm.scorer import VLMScorer
    from artjudge.record import Failure

    expected = _reason_of(lambda: load_image(bad[kind]))
    scorer = VLMScorer(tiny_vlm)
    assert str(_reason_of(lambda: scorer.assess(bad[kind]))) == str(expected)
    out = scorer.assess_many([good, bad[kind]], skip_errors=True)
    assert isinstance(out[1], Failure) and out[1].error == str(expected)
    assert str(_reason_of(lambda: VLMCritic(tiny_vlm).critique(bad[kind]))) == str(expected)
    assert str(_reason_of(lambda: VLMPairJudge(tiny_vlm)(good, bad[kind]))) == str(expected)


def test_vlm_sees_the_loaders_pixels(tmp_path: Path, good: Path, tiny_vlm: Any) -> None:
    from artjudge.models.vlm.pair import VLMPairJudge
    from artjudge.models.vlm.scorer import VLMScorer

    deep = _gray16(tmp_path / "deep.png")
    scorer = VLMScorer(tiny_vlm)
    rec = scorer.assess(deep)
    assert rec.sha256 == load_image(deep).sha256 and rec.input == str(deep)
    loaded = load_image(deep).image
    assert scorer.assess(loaded).overall.distribution == pytest.approx(rec.overall.distribution, abs=1e-6)
    naive = scorer.assess(_naive_rgb(deep)).overall.distribution
    assert naive != pytest.approx(rec.overall.distribution, abs=1e-6)  # the check can fail
    judge = VLMPairJudge(tiny_vlm)
    assert judge(good, deep) == pytest.approx(judge(good, loaded), abs=1e-6)
    arr = np.asarray(loaded)
    assert scorer.assess(arr).overall.distribution == pytest.approx(rec.overall.distribution, abs=1e-6)
