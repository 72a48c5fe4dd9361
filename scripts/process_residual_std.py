"""Measure the process judge's per-attribute error, the ``std`` its records report.

    python scripts/process_residual_std.py [--weights PATH] [--n-test 160]

A ``ProcessAssessment`` gives every attribute a score on 0-100 *and* a std. The judge has no
distribution of its own, so the std is what was measured: the root-mean-square residual
(prediction - label) of these weights on the held-out synthetic processes of
``benchmarks/process_accuracy.py`` (seed 20251122, AGIQA-3K *test*-split images as targets,
never painted in training), times 10 to put it on 0-100. Its square over 100 is that
benchmark's per-attribute MSE on 1-10, so the two files can be checked against each other.

Writes ``<weights>.residual_std.json`` beside the weights, tied to their SHA-256: the judge
reads it at load time and ignores it (with a note) when the weights changed since.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
TEST_SEED = 20251122  # as benchmarks/process_accuracy.py


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default", help="'default' (the shipped judge) or a checkpoint path")
    ap.add_argument("--n-test", type=int, default=160)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.data.process.synthetic import generate_dataset
    from artjudge.io.files import atomic_write_json, sha256_file
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import default_weights_path, load_net, residual_std_path
    from artjudge.models.process.signals_readout import SignalsReadout, readout_path
    from artjudge.taxonomy import PROCESS
    from artjudge.train.process import (
        ProcessTrainConfig,
        add_alignment,
        load_targets,
        predict,
        synthetic_bundle,
    )
    from artjudge.train.signals import readout_predictions

    t0 = time.time()
    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    net, blob = load_net(wpath)
    tc = ProcessTrainConfig()
    encoder = PatchEncoder(resolution=int(blob["meta"]["resolution"]), grid=net.cfg.grid)
    agiqa_root = SHARED / "agiqa-3k"
    have_agiqa = (agiqa_root / "data.csv").is_file()
    test_targets = load_targets(agiqa_root if have_agiqa else None, 80, tc.size, 99, split="test")
    test = synthetic_bundle(
        encoder,
        args.n_test,
        TEST_SEED,
        test_targets,
        Path(args.cache_dir),
        tc.n_frames,
        tc.size,
        name="synthetic-heldout",
    )
    if net.grounder.ready:
        add_alignment([test], encoder, net.grounder, fit=False)
    pred = predict(net, test)  # (N, 8) on 1-10
    judge = "network alone (no signals readout beside these weights)"
    readout_sha = None
    readout_file = readout_path(wpath)
    readout = SignalsReadout.load(readout_file, sha256_file(wpath))
    if readout is not None:
        # The shipped judge blends the network with the signals readout, so its error is
        # measured on that blend; the processes are rendered again from their seed (the
        # token cache holds no pixels), exactly as benchmarks/process_accuracy.py does.
        procs = generate_dataset(args.n_test, TEST_SEED, test_targets, n_frames=tc.n_frames, size=tc.size)
        pred = readout_predictions(readout, pred, procs)[1]
        judge = "network blended with its signals readout (the shipped judge)"
        readout_sha = sha256_file(readout_file)
    resid = pred - test.labels
    rms = np.sqrt(np.nanmean(resid**2, axis=0))
    keys = PROCESS.keys()
    out = {
        "weights": wpath.name,
        "weights_sha256": sha256_file(wpath),
        "judge": judge,
        "signals_readout_sha256": readout_sha,
        "scale": "0-100",
        "definition": "root-mean-square of (prediction - label) x 10 per attribute, on held-out synthetic "
        "processes (benchmarks/process_accuracy.py's test set)",
        "data": {
            "n": len(test),
            "seed": TEST_SEED,
            "targets": "AGIQA-3K test split" if have_agiqa else "procedural",
            "frames": tc.n_frames,
        },
        "residual_std": {k: round(float(10.0 * v), 3) for k, v in zip(keys, rms, strict=True)},
        "mean_residual": {
            k: round(float(10.0 * v), 3) for k, v in zip(keys, np.nanmean(resid, axis=0), strict=True)
        },
        "command": " ".join(
            ["python scripts/process_residual_std.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "seconds": round(time.time() - t0, 1),
    }
    dest = residual_std_path(wpath)
    atomic_write_json(dest, out, indent=2)
    for k in keys:
        print(f"{k:<24} std {out['residual_std'][k]:7.3f}  bias {out['mean_residual'][k]:+7.3f}  (0-100)")
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
