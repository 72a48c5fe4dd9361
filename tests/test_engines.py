"""The two inference engines (ONNX Runtime, PyTorch), lean decoding and the torch-free scoring path.

Real models throughout: the shipped ONNX graphs and weights, images made here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import artjudge
from artjudge.errors import ModelNotAvailable
from artjudge.io import load_image
from artjudge.models.weights import ENCODER_ONNX, PACKAGE_WEIGHTS, read_verified, seal_folder

REPO = Path(__file__).resolve().parents[1]
SUNSET = REPO / "examples" / "sunset.jpg"
BAR = 0.05  # points (0-100): the engines must agree this closely on every image


def _images(folder: Path) -> list[Path]:
    """A few fixed images: a gradient, blocks, noise, a wide photo-like scene, and the example."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:300, 0:400]
    arrays = {
        "gradient.png": np.stack([x * 255 // 399, y * 255 // 299, (x + y) * 255 // 698], -1),
        "blocks.jpg": ((x // 50 + y // 50) % 2 * 180 + 40)[..., None].repeat(3, -1),
        "noise.jpg": rng.integers(0, 256, (256, 256, 3)),
        "wide.jpg": np.stack([x % 256, np.full_like(x, 120), 255 - y * 255 // 299], -1)[:, :, :].repeat(2, 1),
    }
    paths = []
    for name, arr in arrays.items():
        Image.fromarray(arr.astype(np.uint8)).save(folder / name, quality=90)
        paths.append(folder / name)
    return [*paths, SUNSET]


@pytest.fixture(scope="module")
def onnx_scorer():  # type: ignore[no-untyped-def]
    return artjudge.load("default", runtime="onnx")


def test_default_engine_is_onnx(onnx_scorer) -> None:  # type: ignore[no-untyped-def]
    assert onnx_scorer.engine == "onnx"
    assert artjudge.load("default").engine == "onnx"


def test_engines_agree(tmp_path: Path, onnx_scorer) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("torch", reason="needs the [torch] extra: pip install -e '.[torch]'")
    paths = [str(p) for p in _images(tmp_path)]
    torch_scorer = artjudge.load("default", runtime="torch")
    assert torch_scorer.engine == "torch"
    a = onnx_scorer.assess_many(paths)
    b = torch_scorer.assess_many(paths)
    for ra, rb in zip(a, b, strict=True):
        assert abs(ra.overall.score - rb.overall.score) <= BAR, (ra.input, ra.overall.score, rb.overall.score)
        assert abs(ra.overall.std - rb.overall.std) <= BAR
    # the standardised features (what students and rubric critics read) agree too
    ea, eb = onnx_scorer.embed(paths), torch_scorer.embed(paths)
    assert np.abs(ea - eb).max() < 1e-2


def test_unknown_engine_is_refused() -> None:
    from artjudge.errors import InputError

    with pytest.raises(InputError, match="not a runtime"):
        artjudge.load("default", runtime="tensorrt")
    with (
        pytest.warns(DeprecationWarning, match="use runtime="),
        pytest.raises(InputError, match="not a runtime"),
    ):
        artjudge.load("default", engine="tensorrt")  # the old name, kept for one release


def _copy_default(folder: Path) -> Path:
    shutil.copytree(PACKAGE_WEIGHTS / "default", folder)
    return folder


def test_tampered_head_graph_is_refused(tmp_path: Path) -> None:
    ckpt = _copy_default(tmp_path / "ckpt")
    graph = ckpt / "head.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0xFF
    graph.write_bytes(bytes(data))
    with pytest.raises(ModelNotAvailable, match="SHA-256 mismatch"):
        artjudge.load(str(ckpt), runtime="onnx")


def test_tampered_or_unhashed_encoder_graph_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / ENCODER_ONNX.name
    shutil.copy(ENCODER_ONNX, copy)
    shutil.copy(ENCODER_ONNX.with_name(ENCODER_ONNX.name + ".sha256"), tmp_path)
    assert read_verified(copy)[:4] == ENCODER_ONNX.read_bytes()[:4]
    with copy.open("r+b") as fh:
        fh.seek(1000)
        byte = fh.read(1)
        fh.seek(1000)
        fh.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ModelNotAvailable, match="SHA-256 mismatch"):
        read_verified(copy)
    (tmp_path / (ENCODER_ONNX.name + ".sha256")).unlink()
    with pytest.raises(ModelNotAvailable, match="no SHA-256"):
        read_verified(copy)


def test_stale_head_graph_falls_back_to_torch_head(tmp_path: Path) -> None:
    """A head.onnx exported from another head.pt is never run: the torch head scores instead."""
    pytest.importorskip("torch", reason="needs the [torch] extra: pip install -e '.[torch]'")
    ckpt = _copy_default(tmp_path / "ckpt")
    meta = json.loads((ckpt / "head.onnx.json").read_text())
    (ckpt / "head.onnx.json").write_text(json.dumps(dict(meta, source_sha256="0" * 64)))
    seal_folder(ckpt)  # a folder written this way (sealed as written), not one changed afterwards
    scorer = artjudge.load(str(ckpt), runtime="onnx")
    assert scorer.engine == "onnx+torch-head"


def test_checkpoint_without_graph_and_its_export(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs the [torch] extra: pip install -e '.[torch]'")
    pytest.importorskip("onnx", reason="needs onnx (dev extra): pip install -e '.[dev]'")
    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.models.onnx_export import export_head
    from artjudge.models.weights import save_checkpoint

    torch.manual_seed(0)
    cfg = HeadConfig(resolution=64, hidden=16, members=3, targets=["overall", "colour"])
    head = ScoringHead(cfg)
    ckpt = save_checkpoint(
        tmp_path / "model",
        head.state_dict(),
        {"id": "engine-test", "version": "0", "config": {"head": cfg.to_dict()}},
    )
    paths = [str(p) for p in _images(tmp_path / "img")]
    before = artjudge.load(str(ckpt), runtime="onnx")
    assert before.engine == "onnx+torch-head"
    export_head(ckpt)
    after = artjudge.load(str(ckpt), runtime="onnx")
    assert after.engine == "onnx"
    reference = artjudge.load(str(ckpt), runtime="torch").assess_many(paths)
    for ra, rb in zip(after.assess_many(paths), reference, strict=True):
        assert abs(ra.overall.score - rb.overall.score) <= BAR
        assert abs(ra.attributes["colour"].score - rb.attributes["colour"].score) <= BAR


def test_cli_engine_torch_fallback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch", reason="needs the [torch] extra: pip install -e '.[torch]'")
    from artjudge.cli import main

    out = {}
    for engine in ("torch", "onnx"):
        assert main(["assess", str(SUNSET), "--runtime", engine, "--no-cache", "--format", "json", "-q"]) == 0
        out[engine] = json.loads(capsys.readouterr().out)
    rec_t = out["torch"][0] if isinstance(out["torch"], list) else out["torch"]
    rec_o = out["onnx"][0] if isinstance(out["onnx"], list) else out["onnx"]
    assert abs(rec_t["overall"]["score"] - rec_o["overall"]["score"]) <= BAR


def test_lean_decoding_is_noted_and_bounded(tmp_path: Path, onnx_scorer) -> None:  # type: ignore[no-untyped-def]
    y, x = np.mgrid[0:1800, 0:2400]
    arr = np.stack([x * 255 // 2399, y * 255 // 1799, (x // 97 + y // 89) % 2 * 200], -1).astype(np.uint8)
    big = tmp_path / "big.jpg"
    Image.fromarray(arr).save(big, quality=90)
    full = load_image(big)
    assert full.image.size == (2400, 1800) and not any("reduced size" in n for n in full.notes)
    lean = load_image(big, target_size=(384, 512))
    w, h = lean.image.size
    assert (w, h) == (600, 450)  # 1/4: the smallest DCT scale keeping 384 short / 512 long
    assert lean.original_size == (2400, 1800) and lean.sha256 == full.sha256
    rec = onnx_scorer.assess(str(big))
    assert any("decoded at reduced size 600x450" in n for n in rec.notes), rec.notes
    small = onnx_scorer.assess(str(SUNSET))
    assert not any("reduced size" in n for n in small.notes)


def test_default_scoring_path_never_imports_torch(tmp_path: Path) -> None:
    """assess on the default engine with ``import torch`` made impossible (a meta-path hook)."""
    img = tmp_path / "x.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), np.uint8)).save(img)
    code = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
        return None
sys.meta_path.insert(0, Block())
import artjudge
scorer = artjudge.load("default", runtime="onnx")
recs = scorer.assess_many([{str(SUNSET)!r}, {str(img)!r}])
print(scorer.engine, [round(r.overall.score, 2) for r in recs])
assert "torch" not in sys.modules
from artjudge.cli import main
sys.exit(main(["assess", {str(img)!r}, "--format", "jsonl", "-q", "--no-cache"]))
"""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.startswith("onnx ")
