"""Speed of two small hot paths that the tests used to time: evidence and bootstrap intervals.

    python benchmarks/evidence_metrics_speed.py

Timings belong here, not in the tests (a shared machine makes a timed assertion flaky),
each against a baseline measured in the same run, median of ``--repeats`` interleaved runs:

* ``features.evidence.measure`` on a 512x512 image (the synthetic scene the evidence tests
  use), against decoding the same picture from an in-memory PNG and converting it to an array;
* ``eval.metrics.bootstrap_ci(srcc, n=1000)`` on 500 items through the vectorised fast path,
  against the same call through the plain per-resample loop (a lambda is not in the fast
  table), which the tests check gives the same interval.

Prints a table and writes benchmarks/results/evidence_metrics_speed.json.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, save_results  # noqa: E402


def scene(seed: int = 6, size: int = 512) -> Image.Image:
    """The evidence tests' picture: gradient sky, a dark hill, a bright sun, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    arr = np.zeros((size, size, 3))
    arr[..., 0] = 80 + 120 * y
    arr[..., 1] = 120 + 60 * x
    arr[..., 2] = 200 - 100 * y
    arr[y > 0.65 + 0.1 * np.sin(8 * x)] = (40, 90, 30)
    arr[(x - 0.7) ** 2 + (y - 0.3) ** 2 < 0.005] = (255, 230, 120)
    arr += rng.normal(0, 6, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="interleaved runs per path (median reported)")
    ap.add_argument("--items", type=int, default=500, help="items in the bootstrap vectors")
    ap.add_argument("--resamples", type=int, default=1000)
    args = ap.parse_args()

    from artjudge.eval import metrics as M
    from artjudge.features import evidence as E

    img = scene()
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = buf.getvalue()

    def decode() -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)

    rng = np.random.default_rng(0)
    target = rng.uniform(0, 100, args.items)
    pred = target + rng.normal(0, 15, args.items)

    def fast() -> tuple[float, float]:
        return M.bootstrap_ci(M.srcc, pred, target, n=args.resamples, seed=0)

    def loop() -> tuple[float, float]:
        return M.bootstrap_ci(lambda a, b: M.srcc(a, b), pred, target, n=args.resamples, seed=0)

    E.measure(img)  # warm-up: reference tables, imports
    decode()
    fast()
    runs: dict[str, list[float]] = {"measure": [], "decode": [], "fast": [], "loop": []}
    for _ in range(args.repeats):
        runs["decode"].append(timed(decode))
        runs["measure"].append(timed(lambda: E.measure(img)))
        runs["fast"].append(timed(fast))
        runs["loop"].append(timed(loop))
    med = {k: statistics.median(v) for k, v in runs.items()}
    gap = float(np.max(np.abs(np.subtract(fast(), loop()))))  # the tests require < 1e-12

    rows = [
        [
            "evidence.measure, 512x512",
            med["measure"] * 1e3,
            "decode PNG to array",
            med["decode"] * 1e3,
            med["measure"] / med["decode"],
        ],
        [
            f"bootstrap_ci(srcc) fast path, {args.items} items x {args.resamples}",
            med["fast"] * 1e3,
            "plain per-resample loop",
            med["loop"] * 1e3,
            med["fast"] / med["loop"],
        ],
    ]
    print_table("Small hot paths (median ms)", ["path", "ms", "baseline", "baseline ms", "ratio"], rows)
    print(f"fast path interval vs the loop's: max |difference| {gap:.2e}")
    path = save_results(
        "evidence_metrics_speed",
        {
            "repeats": args.repeats,
            "evidence": {
                "image": "512x512 synthetic scene (tests/test_evidence.py)",
                "measure_ms": med["measure"] * 1e3,
                "decode_png_ms": med["decode"] * 1e3,
                "runs_s": {"measure": runs["measure"], "decode": runs["decode"]},
            },
            "bootstrap": {
                "items": args.items,
                "resamples": args.resamples,
                "metric": "srcc",
                "fast_ms": med["fast"] * 1e3,
                "loop_ms": med["loop"] * 1e3,
                "speedup": med["loop"] / med["fast"],
                "interval_max_abs_diff": gap,
                "runs_s": {"fast": runs["fast"], "loop": runs["loop"]},
            },
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
