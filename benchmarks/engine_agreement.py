"""Do the engines agree, and how far does lean decoding move scores? All 479 AGIQA-3K test images.

    python benchmarks/engine_agreement.py [--limit N] [--large 40]

Scores the AGIQA-3K test split (split by prompt, seed 0, as every benchmark) with the
shipped default:

* ``torch``: PyTorch eager, full decode (the scores shipped before ONNX Runtime);
* ``onnx``: ONNX Runtime, full decode (engine difference alone);
* ``onnx+lean``: ONNX Runtime with lean decoding (what ``artjudge assess`` now does);

then, on ``--large`` of them upscaled to 3000 px JPEGs, ``onnx`` with and without lean
decoding (where lean decoding actually cuts the decode). Bars: max |torch - onnx| <= 0.05
and max |onnx - onnx+lean| <= 0.05 points on the test images. Writes
benchmarks/results/engine_agreement.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, machine, print_table, save_results  # noqa: E402

BAR = 0.05


def test_paths(limit: int | None) -> list[str]:
    from artjudge.data import read_dataset

    df = read_dataset("agiqa-3k", SHARED_DATA / "agiqa-3k").frame
    paths = df.loc[df["split"] == "test", "path"].astype(str).tolist()
    return paths[:limit] if limit else paths


def scores(paths: list[str], engine: str, lean: bool) -> tuple[np.ndarray, float]:
    from artjudge.models.embedded import load_embedded

    scorer = load_embedded("default", runtime=engine, lean_decode=lean)
    t0 = time.perf_counter()
    recs = scorer.assess_many(paths, batch_size=16)
    dt = time.perf_counter() - t0
    return np.array([r.overall.score for r in recs]), dt


def upscale(paths: list[str], folder: Path, side: int = 3000) -> list[str]:
    from PIL import Image

    out = []
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            im = im.convert("RGB")
            scale = side / max(im.size)
            big = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
        dst = folder / f"large_{i:03d}.jpg"
        big.save(dst, quality=92)
        out.append(str(dst))
    return out


def summary(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    d = np.abs(a - b)
    return {"max_abs": float(d.max()), "mean_abs": float(d.mean()), "p99_abs": float(np.quantile(d, 0.99))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, help="score only the first N test images (quick look)")
    ap.add_argument("--large", type=int, default=40, help="test images upscaled to 3000 px (default 40)")
    args = ap.parse_args()
    paths = test_paths(args.limit)
    runs: dict[str, Any] = {}
    s_torch, t_torch = scores(paths, "torch", lean=False)
    s_onnx, t_onnx = scores(paths, "onnx", lean=False)
    s_lean, t_lean = scores(paths, "onnx", lean=True)
    runs["test"] = {
        "n": len(paths),
        "torch_vs_onnx": summary(s_torch, s_onnx),
        "onnx_vs_onnx_lean": summary(s_onnx, s_lean),
        "torch_vs_onnx_lean": summary(s_torch, s_lean),
        "seconds": {"torch": t_torch, "onnx": t_onnx, "onnx_lean": t_lean},
    }
    with tempfile.TemporaryDirectory() as tmp:
        big = upscale(paths[: args.large], Path(tmp))
        b_full, tb_full = scores(big, "onnx", lean=False)
        b_lean, tb_lean = scores(big, "onnx", lean=True)
    runs["large_3000px"] = {
        "n": len(big),
        "onnx_vs_onnx_lean": summary(b_full, b_lean),
        "seconds": {"onnx": tb_full, "onnx_lean": tb_lean},
    }
    rows = [
        ["test: torch vs onnx", len(paths), *runs["test"]["torch_vs_onnx"].values()],
        ["test: onnx vs onnx+lean", len(paths), *runs["test"]["onnx_vs_onnx_lean"].values()],
        ["test: torch vs onnx+lean", len(paths), *runs["test"]["torch_vs_onnx_lean"].values()],
        ["3000 px: onnx vs onnx+lean", len(big), *runs["large_3000px"]["onnx_vs_onnx_lean"].values()],
    ]
    print_table(
        "score differences (points, 0-100)",
        ["comparison", "n", "max |d|", "mean |d|", "p99 |d|"],
        [[r[0], r[1], f"{r[2]:.4f}", f"{r[3]:.4f}", f"{r[4]:.4f}"] for r in rows],
    )
    ok = (
        runs["test"]["torch_vs_onnx"]["max_abs"] <= BAR
        and runs["test"]["torch_vs_onnx_lean"]["max_abs"] <= BAR
    )
    print(f"bar (max |d| <= {BAR} on the test images): {'met' if ok else 'NOT met'}")
    save_results("engine_agreement", {"machine": machine(), "bar": BAR, "met": ok, **runs})


if __name__ == "__main__":
    main()
