"""Batch throughput on 1 and 2 Dask workers against single-process ``assess_many``, and the driver's memory.

    python benchmarks/batch_scale.py [--images 128] [--model default|untrained|CKPT] [--rows 10000 100000]
                                     [--runtime onnx torch]

Part 1 (throughput, same run, same images): ``Scorer.assess_many`` in this process (the
baseline), ``run_batch`` with the local engine, and ``run_batch`` on a local Dask cluster
with 1 and 2 worker processes (torch threads per worker = cores / workers), in interleaved
rounds (median reported) so that other load on the machine hits every configuration alike.
Dask figures are steady state (workers started and holding the model, as on a long run);
the one-off cluster start with model loads is reported separately (``startup s``).
Images: the first N AGIQA-3K images from ../shared/data (else 512x512 JPEGs made here).
Part 1 runs once per runtime (``--runtime``, default both: ONNX Runtime, the
default, and PyTorch); each row names its engine and compares with that engine's baseline.

Part 2 (driver memory): manifests of 10k and 100k rows run through the Dask engine
(2 workers) and the local engine. Every row names a file that does not exist, so each
row becomes a failure row after a real ``load_image`` attempt: this measures the driver's
streaming, partitioning, task bookkeeping, progress and merge at full row count without
spending hours on inference; it does not measure scoring. Peak Python heap (tracemalloc)
and the peak growth of the process RSS (psutil, sampled every 10 ms) during the run.
Writes benchmarks/results/batch_scale.json (batch_memory.json with --skip-throughput, so a
memory-only run does not drop the throughput figures).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
AGIQA = ROOT.parent / "shared" / "data" / "agiqa-3k" / "images"


MANIFEST_ROW_GROUP = 8192


def _images(n: int, tmp: Path) -> tuple[list[str], str]:
    if AGIQA.is_dir():
        names = sorted(p for p in AGIQA.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:n]
        if len(names) == n:
            return [str(p) for p in names], f"first {n} AGIQA-3K images (sorted by name)"
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        p = tmp / f"gen{i:04d}.jpg"
        Image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)).save(p, quality=90)
        out.append(str(p))
    return out, f"{n} generated 512x512 JPEGs"


class _RSSPeak:
    """Peak growth of this process's resident memory while the block runs."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self) -> _RSSPeak:
        self.base = self.proc.memory_info().rss
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss - self.base)
            time.sleep(0.01)

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss - self.base)


def _untrained_checkpoint(folder: Path) -> str:
    """A head of the default configuration's shape with untrained weights: the same compute as the
    shipped model, for measuring speed before (or without) the trained weights."""
    import torch

    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.models.weights import save_checkpoint

    torch.manual_seed(0)
    cfg = HeadConfig()
    save_checkpoint(
        folder,
        ScoringHead(cfg).state_dict(),
        {"id": "untrained-default-shape", "version": "0", "config": {"head": cfg.to_dict()}},
    )
    return str(folder)


def throughput(args: argparse.Namespace, tmp: Path, engine: str) -> tuple[list[dict[str, Any]], str]:
    """Each configuration scores the same images once per round; rounds interleave the
    configurations so that a change in the machine's load hits them all alike (median reported).
    ``engine`` is the inference engine every scorer (here and in the Dask workers) loads with."""
    import statistics

    import torch
    from distributed import Client

    import artjudge
    from artjudge.batch import local_cluster, run_batch

    paths, what = _images(args.images, tmp)
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    factory = functools.partial(artjudge.load, args.model, runtime=engine)
    scorer = factory()
    scorer.assess_many(paths[: args.batch_size], batch_size=args.batch_size)  # warm-up
    clusters: dict[int, tuple[Any, Any, float]] = {}
    try:
        for w in args.workers:
            t0 = time.perf_counter()
            cluster = local_cluster(w)
            client = Client(cluster)
            # Warm-up run: starts every worker's model (one load per worker process).
            run_batch(
                paths[: w * args.batch_size],
                str(tmp / f"warm{w}-{engine}.parquet"),
                factory,
                model=args.model,
                executor="dask",
                client=client,
                part_size=args.batch_size,
                batch_size=args.batch_size,
                threads=max(1, cores // w),
                progress=False,
            )
            clusters[w] = (cluster, client, time.perf_counter() - t0)

        def baseline(r: int) -> int:
            return len(scorer.assess_many(paths, batch_size=args.batch_size, skip_errors=True))

        def local(r: int) -> int:
            return run_batch(
                paths,
                str(tmp / f"local{r}-{engine}.parquet"),
                lambda: scorer,
                model=args.model,
                part_size=args.part_size,
                batch_size=args.batch_size,
                progress=False,
            ).rows

        def dask(w: int) -> Any:
            def go(r: int) -> int:
                return run_batch(
                    paths,
                    str(tmp / f"dask{w}-{r}-{engine}.parquet"),
                    factory,
                    model=args.model,
                    executor="dask",
                    client=clusters[w][1],
                    part_size=args.part_size,
                    batch_size=args.batch_size,
                    threads=max(1, cores // w),
                    progress=False,
                ).rows

            return go

        configs: list[tuple[str, int, Any]] = [
            ("assess_many, 1 process (baseline)", 0, baseline),
            ("run_batch, local engine", 0, local),
        ]
        configs += [(f"run_batch, dask-local {w} worker(s)", w, dask(w)) for w in args.workers]
        times: dict[str, list[float]] = {name: [] for name, _, _ in configs}
        for r in range(args.rounds):
            for name, _, fn in configs:
                t = time.perf_counter()
                n = fn(r)
                times[name].append(time.perf_counter() - t)
                assert n == len(paths)
                print(f"round {r}: {name}: {times[name][-1]:.1f} s", flush=True)
    finally:
        for cluster, client, _ in clusters.values():
            client.close()
            cluster.close()
    rows: list[dict[str, Any]] = []
    for name, w, _ in configs:
        med = statistics.median(times[name])
        row: dict[str, Any] = {
            "engine": engine,
            "config": name,
            "workers": w,
            "seconds": med,
            "seconds_all": times[name],
            "img_s": len(paths) / med,
        }
        if w:
            row["startup_s"] = clusters[w][2]
        rows.append(row)
    for entry in rows:
        entry["vs_baseline"] = entry["img_s"] / rows[0]["img_s"]
    return rows, what


def driver_memory(args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from distributed import Client

    import artjudge
    from artjudge.batch import local_cluster, run_batch

    factory = functools.partial(artjudge.load, args.model)
    scorer = factory()
    out: list[dict[str, Any]] = []
    cluster = local_cluster(2)
    client = Client(cluster)
    try:
        # Warm-up: each worker loads the model once, outside the measured runs.
        pq.write_table(pa.table({"path": ["missing/warm.jpg"] * 4}), tmp / "warm.parquet")
        run_batch(
            [str(tmp / "warm.parquet")],
            str(tmp / "warm-out.parquet"),
            factory,
            model=args.model,
            executor="dask",
            client=client,
            part_size=1,
            progress=False,
        )
        for n in args.rows:
            manifest = tmp / f"manifest{n}.parquet"
            # Parquet is read one row group at a time, so a manifest meant for streaming is
            # written in row groups (8,192 rows, as `artjudge batch` reads them) rather than one.
            pq.write_table(
                pa.table(
                    {
                        "path": [f"missing/{i:07d}.jpg" for i in range(n)],
                        "image_id": [str(i) for i in range(n)],
                    }
                ),
                manifest,
                row_group_size=MANIFEST_ROW_GROUP,
            )
            for engine in ("dask", "local"):
                target = tmp / f"mem{n}-{engine}.parquet"
                kw: dict[str, Any] = {"client": client} if engine == "dask" else {}
                fac = factory if engine == "dask" else (lambda: scorer)
                tracemalloc.start()
                t = time.perf_counter()
                with _RSSPeak() as rss:
                    s = run_batch(
                        [str(manifest)],
                        str(target),
                        fac,
                        model=args.model,
                        executor=engine,
                        part_size=args.part_size_rows,
                        progress=False,
                        **kw,
                    )
                dt = time.perf_counter() - t
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                assert s.rows == n and s.failed == n
                out.append(
                    {
                        "rows": n,
                        "engine": engine,
                        "seconds": dt,
                        "rows_s": n / dt,
                        "heap_peak_mib": peak / 2**20,
                        "rss_growth_mib": rss.peak / 2**20,
                        "output_mib": target.stat().st_size / 2**20,
                    }
                )
                shutil.rmtree(str(target) + ".parts", ignore_errors=True)
    finally:
        client.close()
        cluster.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model",
        default="default",
        help="'default', a checkpoint folder, or 'untrained' (default head shape, untrained weights)",
    )
    ap.add_argument("--images", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--part-size", type=int, default=32, help="partition size for the throughput runs")
    ap.add_argument("--part-size-rows", type=int, default=1024, help="partition size for the memory runs")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--rounds", type=int, default=2, help="interleaved repetitions (median reported)")
    ap.add_argument(
        "--runtime",
        dest="engine",
        nargs="+",
        choices=("onnx", "torch"),
        default=["onnx", "torch"],
        help="inference engines for the throughput part (default both, one after the other)",
    )
    ap.add_argument(
        "--skip-throughput",
        action="store_true",
        help="memory part only; writes benchmarks/results/batch_memory.json (unless --json), "
        "leaving the throughput figures in batch_scale.json untouched",
    )
    ap.add_argument(
        "--json",
        default=None,
        help="results file name under benchmarks/results (default: batch_scale.json, "
        "or batch_memory.json with --skip-throughput)",
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="batch_scale-") as d:
        tmp = Path(d)
        if args.model == "untrained":
            args.model = _untrained_checkpoint(tmp / "untrained")
        tp: list[dict[str, Any]] = []
        what = "skipped"
        if not args.skip_throughput:
            for engine in args.engine:
                rows, what = throughput(args, tmp, engine)
                tp += rows
        mem = driver_memory(args, tmp)

        import artjudge

        info = artjudge.load(args.model).info()
    print(
        f"\nThroughput: {what}, model {info['id']} {info['version']}, batch {args.batch_size}, "
        f"{os.cpu_count()} cores"
    )
    print(
        f"{'engine':6s} {'config (median of rounds)':42s} {'seconds':>8s} {'img/s':>7s} {'vs base':>8s} "
        f"{'startup s':>9s}"
    )
    for r in tp:
        print(
            f"{r['engine']:6s} {r['config']:42s} {r['seconds']:8.1f} {r['img_s']:7.2f} {r['vs_baseline']:7.2f}x "
            f"{r.get('startup_s', float('nan')):9.1f}"
        )
    print("\nDriver memory (every row a missing file -> failure row; scoring not measured here)")
    print(
        f"{'rows':>8s} {'engine':7s} {'seconds':>8s} {'rows/s':>8s} {'heap peak MiB':>14s} {'RSS growth MiB':>15s}"
    )
    for r in mem:
        print(
            f"{r['rows']:8d} {r['engine']:7s} {r['seconds']:8.1f} {r['rows_s']:8.0f} {r['heap_peak_mib']:14.1f} "
            f"{r['rss_growth_mib']:15.1f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "command": "python benchmarks/batch_scale.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "load_average_1_5_15_at_end": list(os.getloadavg()),  # other work on the machine during the run
        "model": {"id": info["id"], "version": info["version"]},
        "images": what,
        "batch_size": args.batch_size,
        "engines": [] if args.skip_throughput else args.engine,
        "throughput": tp,
        "driver_memory": mem,
        "driver_memory_note": "every manifest row names a missing file; measures streaming, "
        "partitioning, bookkeeping and merge, not inference",
    }
    target = RESULTS / (args.json or ("batch_memory.json" if args.skip_throughput else "batch_scale.json"))
    target.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nwrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
