"""Throughput of ``assess_many`` on both engines against the bare ONNX encoder (the ceiling).

    python benchmarks/speed_assess.py [--n 64] [--n-large 24] [--repeats 3]

One run, two image sets: 512x512 JPEGs and large JPEGs (3000 px long side, AGIQA-3K test
images upscaled; synthetic paintings when the data is absent). Per set, in the same run:

* torch: ``assess_many`` cold (no feature cache) with ``runtime="torch"``, full decode
  (the pipeline as it was before ONNX Runtime);
* onnx: ``assess_many`` cold with the default (``runtime="onnx"``, lean decoding);
* bare ONNX encoder: the ONNX graph alone on already decoded, resized batches (the ceiling),
  in both thread layouts the pipeline could use: one session with ``compute`` intra-op
  threads, and ``lanes`` threads each running batches on the single-threaded lane session
  (what ``assess_many`` uses). The ceiling is the faster of the two, so a layout change
  cannot make the ratio look better than the machine allows;
* bare torch encoder: the old ceiling, for reference.

Runs alternate and the median of the repeats is reported, so a busy neighbour slows all
alike. Bars: onnx >= 3x torch and >= 70% of the bare ONNX encoder (the faster layout). ``uptime``'s load is
recorded next to the figures: they mean little on a shared machine. With ``--write`` the
figures replace the tracked benchmarks/results/speed_assess.json; without it they go to a
file under the system's temporary folder (a trial run on a busy machine must not overwrite
the recorded figures).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, machine, print_table, save_results, save_trial_results  # noqa: E402


def _sources(n: int) -> list[Path]:
    src = SHARED_DATA / "agiqa-3k" / "images"
    names = (
        sorted(p.name for p in src.glob("*.jpg"))[:: max(1, 2384 // max(1, n))][:n] if src.is_dir() else []
    )
    return [src / name for name in names]


def make_jpegs(folder: Path, n: int, side: int | None = 512, prefix: str = "img") -> list[str]:
    """JPEGs: AGIQA-3K images at ``side`` x ``side`` (512) or upscaled to a ``side`` long side (large)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    srcs = _sources(n)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        if i < len(srcs):
            img = Image.open(srcs[i]).convert("RGB")
        else:
            img = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).resize(
                (512, 512), Image.Resampling.BICUBIC
            )
        if prefix == "img":
            img = img.resize((512, 512))
        else:
            assert side is not None
            scale = side / max(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC)
        path = folder / f"{prefix}_{i:04d}.jpg"
        img.save(path, quality=92)
        out.append(str(path))
    return out


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def bench_set(paths: list[str], batch_size: int, repeats: int, scorers: dict[str, Any]) -> dict[str, Any]:
    from PIL import Image

    from artjudge.features.pixels import preprocess_array

    onnx, torch_scorer = scorers["onnx"], scorers["torch"]
    res = onnx.config.resolution
    batches = [
        preprocess_array([Image.open(p).convert("RGB") for p in paths[i : i + batch_size]], res)
        for i in range(0, len(paths), batch_size)
    ]
    onnx_encoder = onnx.extractor.encoder
    torch_encoder = torch_scorer.extractor.encoder
    n = len(paths)

    cpu: dict[str, list[float]] = {}

    def timed(name: str, fn: Any) -> float:
        """images/s of ``fn``, and its process CPU ms per image (a figure a busy machine bends less)."""
        c0 = time.process_time()
        rate = float(fn())
        cpu.setdefault(name, []).append((time.process_time() - c0) / n * 1000)
        return rate

    def bare_onnx() -> float:
        t0 = time.perf_counter()
        for x in batches:
            onnx_encoder.bare(x)
        return n / (time.perf_counter() - t0)

    lanes = max(1, onnx.policy.compute)
    lane_encoder = onnx_encoder.lane_encoder()
    lane_pool = ThreadPoolExecutor(max_workers=lanes)

    def bare_onnx_lanes() -> float:
        t0 = time.perf_counter()
        list(lane_pool.map(lane_encoder.bare, batches))
        return n / (time.perf_counter() - t0)

    def bare_torch() -> float:
        import torch

        t0 = time.perf_counter()
        for x in batches:
            torch_encoder.bare_forward(torch.from_numpy(x))
        return n / (time.perf_counter() - t0)

    def pipeline(scorer: Any) -> float:
        t0 = time.perf_counter()
        scorer.assess_many(paths, batch_size=batch_size)
        return n / (time.perf_counter() - t0)

    # warm-up: first calls allocate arenas and page in weights
    onnx.assess_many(paths[: batch_size * lanes], batch_size=batch_size)
    torch_scorer.assess_many(paths[:batch_size], batch_size=batch_size)
    bare_onnx_lanes()
    runs: dict[str, list[float]] = {
        "torch": [],
        "onnx": [],
        "bare_onnx_session": [],
        "bare_onnx_lanes": [],
        "bare_torch": [],
    }
    if "candidate" in scorers:  # a model folder that would replace the default (same run, same images)
        scorers["candidate"].assess_many(paths[: batch_size * lanes], batch_size=batch_size)
        runs["candidate"] = []
    for _ in range(repeats):
        if "candidate" in scorers:
            runs["candidate"].append(timed("candidate", lambda: pipeline(scorers["candidate"])))
        runs["bare_onnx_session"].append(timed("bare_onnx_session", bare_onnx))
        runs["bare_onnx_lanes"].append(timed("bare_onnx_lanes", bare_onnx_lanes))
        runs["onnx"].append(timed("onnx", lambda: pipeline(onnx)))
        runs["torch"].append(pipeline(torch_scorer))
        runs["bare_torch"].append(bare_torch())
    lane_pool.shutdown()
    med = {k: statistics.median(v) for k, v in runs.items()}
    # the ceiling: the faster of the two layouts, median by median
    med["bare_onnx"] = max(med["bare_onnx_session"], med["bare_onnx_lanes"])
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    return {
        "n": n,
        "cpu_ms_per_image": cpu_med,
        # CPU time the network needs per image over what the whole pipeline spends: the share of
        # the cores' work that is the network, the throughput ratio an idle machine would allow
        "cpu_share_network": min(cpu_med["bare_onnx_session"], cpu_med["bare_onnx_lanes"]) / cpu_med["onnx"],
        "lanes": lanes,
        "pipeline_lanes": onnx.lanes,
        "runs": runs,
        "median": med,
        "onnx_vs_torch": med["onnx"] / med["torch"],
        "onnx_vs_bare_onnx": med["onnx"] / med["bare_onnx"],
        **({"candidate_vs_torch": med["candidate"] / med["torch"]} if "candidate" in med else {}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=64, help="512x512 JPEGs (default 64)")
    ap.add_argument("--n-large", type=int, default=24, help="3000 px JPEGs (default 24)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, help="network threads (default: the thread policy's, all cores)")
    ap.add_argument(
        "--candidate", type=Path, help="also time this model folder (onnx engine), e.g. a new default"
    )
    ap.add_argument(
        "--write",
        action="store_true",
        help="replace the tracked benchmarks/results/speed_assess.json (default: a file in the temp folder)",
    )
    args = ap.parse_args()

    import artjudge

    load_before = load_avg()
    t_start = time.perf_counter()
    sets: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        small = make_jpegs(Path(tmp) / "small", args.n)
        large = make_jpegs(Path(tmp) / "large", args.n_large, side=3000, prefix="large")
        # the torch path as it was before this change: PyTorch eager, every pixel decoded
        scorers = {
            "onnx": artjudge.load(runtime="onnx", cache=False, threads=args.threads),
            "torch": artjudge.load(runtime="torch", cache=False, threads=args.threads, lean_decode=False),
        }
        if args.candidate is not None:
            scorers["candidate"] = artjudge.load(
                str(args.candidate), runtime="onnx", cache=False, threads=args.threads
            )
        threads = scorers["onnx"].policy.compute
        scorers_lanes = scorers["onnx"].lanes
        for name, paths in (("512px", small), ("3000px", large)):
            sets[name] = bench_set(paths, args.batch_size, args.repeats, scorers)
    load_after = load_avg()
    rows = []
    for name, r in sets.items():
        m = r["median"]
        rows += [
            [
                f"{name}: torch path (assess_many)",
                f"{m['torch']:.2f}",
                f"{m['torch'] / m['bare_onnx']:.0%}",
                "1.00x",
            ],
            [
                f"{name}: onnx path (assess_many)",
                f"{m['onnx']:.2f}",
                f"{r['onnx_vs_bare_onnx']:.0%}",
                f"{r['onnx_vs_torch']:.2f}x",
            ],
            *(
                [
                    [
                        f"{name}: candidate (onnx)",
                        f"{m['candidate']:.2f}",
                        f"{m['candidate'] / m['bare_onnx']:.0%}",
                        f"{r['candidate_vs_torch']:.2f}x",
                    ]
                ]
                if "candidate" in m
                else []
            ),
            [f"{name}: bare ONNX encoder (ceiling: faster layout)", f"{m['bare_onnx']:.2f}", "100%", ""],
            [
                f"{name}:   one session, {threads} intra-op threads",
                f"{m['bare_onnx_session']:.2f}",
                f"{m['bare_onnx_session'] / m['bare_onnx']:.0%}",
                "",
            ],
            [
                f"{name}:   {r['lanes']} lanes x 1 thread",
                f"{m['bare_onnx_lanes']:.2f}",
                f"{m['bare_onnx_lanes'] / m['bare_onnx']:.0%}",
                "",
            ],
            [
                f"{name}: bare torch encoder (old ceiling)",
                f"{m['bare_torch']:.2f}",
                f"{m['bare_torch'] / m['bare_onnx']:.0%}",
                "",
            ],
        ]
    print_table(
        f"images/s, {threads} network threads (assess_many: {scorers_lanes} lanes x 1), batch "
        f"{args.batch_size}, median of {args.repeats}; "
        f"load {load_before} -> {load_after}",
        ["path", "images/s", "vs bare ONNX", "vs torch path"],
        rows,
    )
    for name, r in sets.items():
        c = r["cpu_ms_per_image"]
        print(
            f"{name}: CPU ms per image: bare ONNX {c['bare_onnx_session']:.1f} (session) / "
            f"{c['bare_onnx_lanes']:.1f} (lanes), onnx path {c['onnx']:.1f}: the network is "
            f"{r['cpu_share_network']:.0%} of the pipeline's CPU time"
        )
    ok = all(r["onnx_vs_torch"] >= 3.0 and r["onnx_vs_bare_onnx"] >= 0.70 for r in sets.values())
    print(
        f"bars (onnx >= 3x torch and >= 70% of the bare ONNX encoder, both sets): {'met' if ok else 'NOT met'}"
    )
    path = (save_results if args.write else save_trial_results)(
        "speed_assess",
        {
            "machine": machine(),
            "load_before": load_before,
            "load_after": load_after,
            "batch_size": args.batch_size,
            "threads": threads,
            "pipeline_lanes": scorers_lanes,
            "thread_policy": os.environ.get("ARTJUDGE_THREAD_POLICY", "on"),
            "seconds": time.perf_counter() - t_start,
            "sets": sets,
            "met": ok,
        },
    )
    print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
