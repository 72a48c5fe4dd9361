"""Calibration: the shipped weights' outputs on fixed inputs, pinned (pyiqa's ResultsCalibra idea).

Every other test checks shapes, ranges and contracts; none would notice a preprocessing
change (resize filter, colour conversion, EXIF handling, token layout) that moves every
shipped score by a point. These tests score fixed images with the shipped default head
and the shipped process judge and compare with reference values in tests/calibration/
to 1e-3 points. The images are made here with integer arithmetic (exact on every
platform) and written as PNG, plus examples/sunset.jpg and three AGIQA-3K test images
from ../shared/data when present.

A deliberate change of scores regenerates the references (and must say so in its commit):

    python tests/test_calibration.py --update
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_DATA

REPO_ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = Path(__file__).resolve().parent / "calibration"
EMBEDDED_REF = CALIBRATION / "embedded_default.json"
PROCESS_REF = CALIBRATION / "process_default.json"
SUNSET = REPO_ROOT / "examples" / "sunset.jpg"
AGIQA_IMAGES = ("AttnGAN_normal_000.jpg", "DALLE2_normal_018.jpg", "midjourney_lowstep_020.jpg")
TOLERANCE = 1e-3  # points on the 0-100 scale (embedded) and on the judge's own scale (process)


# ----------------------------------------------------------------------------- fixed inputs
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:h, 0:w].astype(np.int64)


def _gradient(h: int = 192, w: int = 256) -> np.ndarray:
    y, x = _grid(h, w)
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], -1).astype(
        np.uint8
    )


def _checker(h: int = 240, w: int = 240) -> np.ndarray:
    y, x = _grid(h, w)
    on = ((x // 30) + (y // 30)) % 2 == 1
    img = np.empty((h, w, 3), np.uint8)
    img[on], img[~on] = (200, 40, 40), (240, 230, 200)
    return img


def _shapes(h: int = 224, w: int = 320) -> np.ndarray:
    """Sky, ground, a sun and a house: a crude but structured picture."""
    y, x = _grid(h, w)
    img = np.zeros((h, w, 3), np.int64)
    img[:] = (90, 150, 230)
    img[y > h * 2 // 3] = (60, 140, 60)
    img[(x - w * 3 // 4) ** 2 + (y - h // 4) ** 2 < (h // 8) ** 2] = (250, 220, 60)
    img[(x > w // 5) & (x < w // 2) & (y > h // 2) & (y < h * 5 // 6)] = (170, 80, 50)
    return img.astype(np.uint8)


def _texture(h: int = 200, w: int = 200) -> np.ndarray:
    """High-frequency content from an integer hash (no RNG whose stream could change)."""
    y, x = _grid(h, w)
    v = (x * 7919 + y * 104729 + (x * y) % 251) % 256
    return np.stack([v, (v * 3) % 256, (v * 7 + 50) % 256], -1).astype(np.uint8)


SYNTHETIC: dict[str, Callable[[], np.ndarray]] = {
    "gradient.png": _gradient,
    "checker.png": _checker,
    "shapes.png": _shapes,
    "texture.png": _texture,
}


def _process_frames(n: int = 6) -> list[Image.Image]:
    """A painting being made: the shapes picture revealed band by band on a white canvas."""
    final = _shapes()
    h = final.shape[0]
    frames = []
    for k in range(1, n + 1):
        canvas = np.full_like(final, 255)
        rows = h * k // n
        canvas[:rows] = final[:rows]
        frames.append(Image.fromarray(canvas))
    return frames


def _agiqa_dir() -> Path:
    return Path(SHARED_DATA) / "agiqa-3k" / "images"


def _timelapse() -> list[Path]:
    root = (
        Path(SHARED_DATA) / "process" / "inverse-painting-sample" / "data" / "sample_data" / "train" / "rgb"
    )
    folders = (
        sorted(p for p in root.rglob("*") if p.is_dir() and any(p.glob("*.jpg"))) if root.is_dir() else []
    )
    if not folders:
        return []
    return sorted(folders[0].glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))


def _write_synthetic(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in SYNTHETIC.items():
        Image.fromarray(make()).save(folder / name)
        out[name] = folder / name
    return out


# ----------------------------------------------------------------------------- measuring
def embedded_scores(paths: dict[str, Path], engine: str | None = None) -> dict[str, dict[str, float]]:
    """Overall and attribute scores of the shipped default head, per image name.

    The references were made with the PyTorch engine; ONNX Runtime must reproduce them within
    the same tolerance (its pooled features differ by ~1e-5, scores by ~1e-4 points).
    """
    import artjudge

    scorer = artjudge.load("default", runtime=engine)
    out = {}
    for name, path in paths.items():
        rec = scorer.assess(str(path))
        out[name] = {
            "overall": float(rec.overall.score),
            **{f"attr.{k}": float(v.score) for k, v in rec.attributes.items()},
        }
    return out


def _final_scores(result: Any) -> dict[str, float]:
    """The 8 final scores on 1-10, whatever record type ``judge()`` returns (as
    check_scores_unchanged.py: a 0-100 ``ProcessAssessment`` is divided by 10)."""
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    if d.get("scores"):
        return {k: float(v) for k, v in d["scores"].items()}
    return {
        k: float(v["score"] if isinstance(v, dict) else v) / 10.0
        for k, v in (d.get("attributes") or {}).items()
    }


def process_outputs(frame_sets: dict[str, tuple[list[Any], Any]]) -> dict[str, dict[str, Any]]:
    """Per case: the judge's final 8 scores and the network's (T, 8) timeline from a full pass."""
    from artjudge.models.process.judge import load_process_judge

    judge = load_process_judge()
    out: dict[str, dict[str, Any]] = {}
    for name, (frames, reference) in frame_sets.items():
        images = [f if isinstance(f, Image.Image) else Image.open(f).convert("RGB") for f in frames]
        ref = reference if reference is None or isinstance(reference, Image.Image) else str(reference)
        final = _final_scores(judge.judge(list(frames), reference=ref))
        timeline = judge.full_pass(images, reference=ref)
        out[name] = {"final": final, "timeline": np.round(np.asarray(timeline, np.float64), 5).tolist()}
    return out


def _process_cases(tmp: Path) -> dict[str, tuple[list[Any], Any]]:
    frames = _process_frames()
    paths = []
    for i, im in enumerate(frames):
        paths.append(tmp / f"frame_{i}.png")
        im.save(paths[-1])
    cases: dict[str, tuple[list[Any], Any]] = {
        "reveal": (paths, None),
        "reveal_reversed": (paths[::-1], None),
        "reveal_with_reference": (paths, paths[-1]),
    }
    timelapse = _timelapse()
    if timelapse:
        cases["timelapse"] = (timelapse, None)
    return cases


def _load(path: Path) -> dict[str, Any]:
    if not path.is_file():
        pytest.fail(f"{path}: calibration reference missing; run `python tests/test_calibration.py --update`")
    return json.loads(path.read_text())


def _diff_report(ref: dict[str, float], got: dict[str, float]) -> list[str]:
    bad = [
        f"{k}: reference {ref[k]:.4f}, now {got.get(k, float('nan')):.4f}"
        for k in ref
        if not abs(ref[k] - got.get(k, float("nan"))) <= TOLERANCE
    ]
    bad += [f"{k}: new output not in the reference" for k in got if k not in ref]
    return bad


# ----------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def embedded_reference() -> dict[str, Any]:
    return _load(EMBEDDED_REF)


ENGINES = ("onnx", "torch")


@pytest.mark.parametrize("engine", ENGINES)
def test_embedded_default_synthetic_and_example(
    tmp_path: Path, embedded_reference: dict[str, Any], engine: str
) -> None:
    if engine == "torch":
        pytest.importorskip("torch", reason="needs the [torch] extra: pip install -e '.[torch]'")
    paths = _write_synthetic(tmp_path)
    paths["sunset.jpg"] = SUNSET
    got = embedded_scores(paths, engine)
    bad = [
        f"{name} {line}"
        for name in paths
        for line in _diff_report(embedded_reference["images"][name], got[name])
    ]
    assert not bad, "shipped default head moved on fixed inputs:\n" + "\n".join(bad)


@pytest.mark.parametrize("engine", ENGINES)
def test_embedded_default_agiqa(embedded_reference: dict[str, Any], engine: str) -> None:
    if engine == "torch":
        pytest.importorskip("torch", reason="needs the [torch] extra: pip install -e '.[torch]'")
    folder = _agiqa_dir()
    paths = {name: folder / name for name in AGIQA_IMAGES}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        pytest.skip(f"AGIQA-3K images not found: {', '.join(missing)} (set ARTJUDGE_SHARED_DATA)")
    got = embedded_scores(paths, engine)
    bad = [
        f"{name} {line}"
        for name in paths
        for line in _diff_report(embedded_reference["images"][name], got[name])
    ]
    assert not bad, "shipped default head moved on AGIQA-3K images:\n" + "\n".join(bad)


def test_process_default(tmp_path: Path) -> None:
    reference = _load(PROCESS_REF)["cases"]
    cases = _process_cases(tmp_path)
    if "timelapse" not in cases:
        reference = {k: v for k, v in reference.items() if k != "timelapse"}
    got = process_outputs(cases)
    bad = []
    for name, ref in reference.items():
        bad += [f"{name} final {line}" for line in _diff_report(ref["final"], got[name]["final"])]
        timeline = np.asarray(got[name]["timeline"])
        expected = np.asarray(ref["timeline"])
        if timeline.shape != expected.shape:
            bad.append(f"{name} timeline: shape {timeline.shape}, reference {expected.shape}")
        elif not np.abs(timeline - expected).max() <= TOLERANCE:
            bad.append(f"{name} timeline: max |difference| {np.abs(timeline - expected).max():.5f}")
    assert not bad, "shipped process judge moved on fixed inputs:\n" + "\n".join(bad)


def test_process_timelapse_present_or_skipped() -> None:
    """Say so when the real time-lapse case cannot run, rather than passing on less."""
    if not _timelapse():
        pytest.skip("time-lapse sample not found under ../shared/data/process (set ARTJUDGE_SHARED_DATA)")
    assert "timelapse" in _load(PROCESS_REF)["cases"]


# ----------------------------------------------------------------------------- regenerating
def _model_info() -> dict[str, str]:
    import artjudge
    from artjudge.io.files import sha256_file
    from artjudge.models.process.judge import default_weights_path
    from artjudge.models.weights import PACKAGE_WEIGHTS

    return {
        "artjudge": artjudge.__version__,
        "default_head_sha256": sha256_file(PACKAGE_WEIGHTS / "default" / "head.pt"),
        "process_sha256": sha256_file(default_weights_path()),
    }


def update(tmp: Path) -> None:
    """Recompute both reference files from the code and weights as they are now."""
    from artjudge.io.files import atomic_write_json

    paths = _write_synthetic(tmp / "still")
    paths["sunset.jpg"] = SUNSET
    folder = _agiqa_dir()
    if all((folder / n).is_file() for n in AGIQA_IMAGES):
        paths.update({n: folder / n for n in AGIQA_IMAGES})
    else:
        print(f"AGIQA-3K images not found under {folder}: keeping their old references", file=sys.stderr)
    images = embedded_scores(paths, "torch")
    if EMBEDDED_REF.is_file():
        images = {**json.loads(EMBEDDED_REF.read_text())["images"], **images}
    info = _model_info()
    atomic_write_json(
        EMBEDDED_REF,
        {
            "tolerance": TOLERANCE,
            "made_by": "python tests/test_calibration.py --update",
            "weights": info,
            "images": images,
        },
    )
    (tmp / "process").mkdir()
    cases = process_outputs(_process_cases(tmp / "process"))
    atomic_write_json(
        PROCESS_REF,
        {
            "tolerance": TOLERANCE,
            "made_by": "python tests/test_calibration.py --update",
            "weights": info,
            "cases": cases,
        },
    )
    print(f"wrote {EMBEDDED_REF} ({len(images)} images) and {PROCESS_REF} ({len(cases)} cases)")


if __name__ == "__main__":
    import tempfile

    ap = argparse.ArgumentParser(description="Regenerate tests/calibration/*.json from the current code.")
    ap.add_argument("--update", action="store_true", required=True)
    ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        update(Path(d))
