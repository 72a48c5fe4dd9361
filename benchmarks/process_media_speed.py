"""Time of the realistic-media generator: one 16-frame process at 256 px, per medium and camera.

    python benchmarks/process_media_speed.py [--repeats 5] [--frames 16] [--size 256]

Median wall and CPU time of ``generate_media_process`` (clean and with every fault at 0.6, which
renders the target three times), after one warm-up call. Issue 16 asks for well under a
second. Writes benchmarks/results/process_media_speed.json. Timings depend on the machine's
load: rerun on an idle machine for final figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args(argv)
    from artjudge.data.process.media import MEDIA, generate_media_process, landscape_target
    from artjudge.data.process.synthetic import FAULTS
    from artjudge.io.files import atomic_write_text

    target = landscape_target(np.random.default_rng(0), args.size)
    generate_media_process(target, 0, n_frames=args.frames, size=args.size)  # warm-up
    rows = []
    for medium in MEDIA:
        for camera in ("none", "fixed", "photo"):
            for faulty in (False, True):
                faults = dict.fromkeys(FAULTS, 0.6) if faulty else {}
                times, cpu = [], []
                for r in range(args.repeats):
                    t0, c0 = time.perf_counter(), time.process_time()
                    generate_media_process(
                        target,
                        r,
                        medium=medium,
                        n_frames=args.frames,
                        size=args.size,
                        camera=camera,
                        faults=faults,
                    )
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                rows.append(
                    {
                        "medium": medium,
                        "camera": camera,
                        "all_faults": faulty,
                        "median_s": round(statistics.median(times), 4),
                        "median_cpu_s": round(statistics.median(cpu), 4),
                    }
                )
                print(
                    f"{medium:<12}{camera:<7}{'all faults' if faulty else 'clean':<11}{rows[-1]['median_s']:.3f} s"
                    f"  (CPU {rows[-1]['median_cpu_s']:.3f} s)"
                )
    clean = [r["median_s"] for r in rows if not r["all_faults"]]
    clean_cpu = [r["median_cpu_s"] for r in rows if not r["all_faults"]]
    res = {
        "command": "python benchmarks/process_media_speed.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "frames": args.frames,
        "size": args.size,
        "repeats": args.repeats,
        "load_average_1min": round(os.getloadavg()[0], 2),
        "clean_median_of_medians_s": round(statistics.median(clean), 4),
        "clean_max_s": max(clean),
        "clean_median_cpu_s": round(statistics.median(clean_cpu), 4),
        "clean_max_cpu_s": max(clean_cpu),
        "rows": rows,
    }
    print(
        f"clean: median {res['clean_median_of_medians_s']:.3f} s, max {res['clean_max_s']:.3f} s "
        f"(load average {res['load_average_1min']}); CPU time median {res['clean_median_cpu_s']:.3f} s, "
        f"max {res['clean_max_cpu_s']:.3f} s"
    )
    atomic_write_text(RESULTS / "process_media_speed.json", json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
