"""Peak memory (RSS) of ``artjudge fuse`` on a large judgments CSV, against the size of the CSV.

Issue 18: ``fuse`` used ~23x the CSV size (a 23.9 MiB judgments.csv: 544,000 judgments of
150 items by 30 annotators). This benchmark writes that CSV (the same simulated panel as
``fuse_speed.py``) into a temporary folder, runs ``python -m artjudge fuse`` on it in a
fresh subprocess per case, and reads each child's peak RSS from ``os.wait4`` (the kernel's
``ru_maxrss`` of that child alone, started by a small launcher: see ``PROBE``). The baseline
is a child that only imports what ``fuse`` imports, so "above baseline" is what the data costs.

    python benchmarks/fuse_memory.py                       # 544,000 judgments (23.9 MiB)
    python benchmarks/fuse_memory.py --src /tmp/old/src    # the same against another checkout
    python benchmarks/fuse_memory.py --judgments 45900 --cases "fuse --method elo --no-reliability" \
        --out benchmarks/results/fuse_memory_elo.json

``--src`` puts another checkout's ``src`` first on PYTHONPATH for the children: the way the
before/after figures in benchmarks/README.md were taken. The sha256 of each fused.csv is
recorded, so two runs can be checked for identical output.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.preference.design import PairDesigner
from artjudge.preference.simulate import Panel, simulate_judgments

ROOT = Path(__file__).resolve().parents[1]
MIB = 2**20
BASELINE_IMPORTS = (
    "import artjudge.cli, artjudge.cli.preference, artjudge.cli.tables, artjudge.preference.formats, "
    "artjudge.preference.fusion, artjudge.preference.reliability, artjudge.preference.joint"
)
CASES: dict[str, list[str]] = {
    "fuse (bt + reliability report)": [],
    "fuse --no-reliability": ["--no-reliability"],
    "fuse --method elo --no-reliability": ["--method", "elo", "--no-reliability"],
}
DEFAULT_CASES = ("fuse (bt + reliability report)", "fuse --no-reliability")


def write_judgments(path: Path, n_items: int, n_judgments: int, n_annotators: int) -> int:
    """The fuse_speed panel, scaled: round-robin pairs, 1-point tie margin."""
    rng = np.random.default_rng(0)
    items = [f"painting_{k:03d}" for k in range(n_items)]
    mean = pd.Series(rng.uniform(20, 90, n_items), index=items)
    std = pd.Series(rng.uniform(8, 15, n_items), index=items)
    panel = Panel.make(n_annotators, bias_sd=5.0)
    plan = PairDesigner("round-robin", n_judgments, panel.annotators).plan(items)
    judgments = simulate_judgments(plan, mean, std, panel, tie_margin=1.0)
    judgments.to_csv(path, index=False)
    return len(judgments)


# A child's ru_maxrss includes the memory of the process that forked it (the count survives
# exec), so the measured command is started by this small launcher, not by the benchmark's
# own process (hundreds of MiB once the CSV is generated).
PROBE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def peak_rss(argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    """(peak RSS in bytes, wall seconds) of one command, as the kernel counted it (``os.wait4``)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, capture_output=True, text=True)
    fields = done.stdout.split()
    if done.returncode != 0 or len(fields) != 2 or fields[0] != "0":
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()[-500:]}")
    return int(fields[1]) * 1024, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--judgments", type=int, default=544_000)
    ap.add_argument("--annotators", type=int, default=30)
    ap.add_argument("--src", help="run the children against this checkout's src folder")
    ap.add_argument(
        "--cases",
        default=",".join(DEFAULT_CASES),
        help="comma-separated subset of: " + ", ".join(CASES) + " (Elo: 70 seasons, slow on big files)",
    )
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fuse_memory.json"))
    args = ap.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if args.src:
        env["PYTHONPATH"] = os.pathsep.join([str(Path(args.src).resolve()), env.get("PYTHONPATH", "")])
    chosen = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CASES]
    if unknown:
        raise SystemExit(f"--cases: unknown case {unknown[0]!r}; choose from {', '.join(CASES)}")
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "judgments.csv"
        n = write_judgments(csv, args.items, args.judgments, args.annotators)
        csv_bytes = csv.stat().st_size
        base, _ = peak_rss([sys.executable, "-c", BASELINE_IMPORTS], env)
        print(
            f"{n:,} judgments, CSV {csv_bytes / MIB:.1f} MiB; baseline (interpreter + imports) {base / MIB:.1f} MiB"
        )
        for name in chosen:
            out = Path(tmp) / "fused.csv"
            out.unlink(missing_ok=True)
            argv = [sys.executable, "-m", "artjudge", "fuse", str(csv), "--out", str(out), *CASES[name]]
            peak, wall = peak_rss(argv, env)
            row = {
                "case": name,
                "peak_rss_mib": round(peak / MIB, 1),
                "above_baseline_mib": round((peak - base) / MIB, 1),
                "peak_over_csv": round(peak / csv_bytes, 2),
                "above_baseline_over_csv": round((peak - base) / csv_bytes, 2),
                "seconds": round(wall, 1),
                "fused_sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
            }
            rows.append(row)
            print(
                f"{name:32s} peak {row['peak_rss_mib']:7.1f} MiB ({row['peak_over_csv']:.1f}x CSV), "
                f"above baseline {row['above_baseline_mib']:6.1f} MiB ({row['above_baseline_over_csv']:.1f}x), "
                f"{wall:.0f} s"
            )
    result = {
        "benchmark": "fuse_memory",
        "command": "python benchmarks/fuse_memory.py " + " ".join(sys.argv[1:]),
        "src": args.src or str(ROOT / "src"),
        "items": args.items,
        "judgments": n,
        "annotators": args.annotators,
        "csv_mib": round(csv_bytes / MIB, 2),
        "baseline_rss_mib": round(base / MIB, 1),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "rows": rows,
    }
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmpf = out_path.with_suffix(".tmp")
    tmpf.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmpf, out_path)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
