"""Measure the process judge's per-attribute error, the ``std`` its records report.

    python scripts/process_residual_std.py [--weights PATH] [--n-test 160]

A ``ProcessAssessment`` gives every attribute a score on 0-100 *and* a std. The judge has no
distribution of its own, so the std is what was measured: the root-mean-square residual
(prediction - label) of these weights on the held-out synthetic processes of
``benchmarks/process_accuracy.py`` (seed 20251122, AGIQA-3K *test*-split images as targets,
never painted in training), times 10 to put it on 0-100. Its square over 100 is that
benchmark's per-attribute MSE on 1-10, so the two files can be checked against each other.

It also calibrates the records' error intervals (issue 25.1, ``ScoreDistribution.interval``):
a split-conformal ``q`` per attribute (``score +- q``, level 0.9) from the residuals on
``--n-cal`` *other* synthetic processes (seed ``CAL_SEED``), with coverage and mean width
measured on the test processes above and set beside the narrowest interval that would
have covered 90% of them (``oracle_width``).

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
CAL_SEED = 20251125  # calibration processes for the intervals: a seed no fit or benchmark uses
CAL_TARGET_SEED = 98  # their AGIQA-3K test-split targets (the test set paints seed 99's)


def shipped_predictions(
    wpath: Path, n: int, seed: int, target_seed: int, cache_dir: Path
) -> tuple[np.ndarray, np.ndarray, str, str | None, str]:
    """What the judge at ``wpath`` reports (1-10) on ``n`` synthetic processes painting AGIQA-3K
    test-split images (``target_seed``), their labels, and how the prediction was made."""
    from artjudge.data.process.synthetic import generate_dataset
    from artjudge.io.files import sha256_file
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import load_net
    from artjudge.models.process.signals_readout import SignalsReadout, readout_path
    from artjudge.train.process import (
        ProcessTrainConfig,
        add_alignment,
        load_targets,
        predict,
        synthetic_bundle,
    )
    from artjudge.train.signals import readout_predictions

    net, blob = load_net(wpath)
    tc = ProcessTrainConfig()
    encoder = PatchEncoder(resolution=int(blob["meta"]["resolution"]), grid=net.cfg.grid)
    agiqa_root = SHARED / "agiqa-3k"
    have_agiqa = (agiqa_root / "data.csv").is_file()
    targets = load_targets(agiqa_root if have_agiqa else None, 80, tc.size, target_seed, split="test")
    name = "synthetic-heldout" if seed == TEST_SEED else "synthetic-calibration"
    test = synthetic_bundle(encoder, n, seed, targets, cache_dir, tc.n_frames, tc.size, name=name)
    if net.grounder.ready:
        add_alignment([test], encoder, net.grounder, fit=False)
    pred = predict(net, test)  # (N, 8) on 1-10
    judge = "network alone (no signals readout beside these weights)"
    readout_file = readout_path(wpath)
    readout = SignalsReadout.load(readout_file, sha256_file(wpath))
    readout_sha = None
    if readout is not None:
        # The shipped judge blends the network with the signals readout, so its error is
        # measured on that blend; the processes are rendered again from their seed (the
        # token cache holds no pixels), exactly as benchmarks/process_accuracy.py does.
        procs = generate_dataset(n, seed, targets, n_frames=tc.n_frames, size=tc.size)
        pred = readout_predictions(readout, pred, procs)[1]
        judge = "network blended with its signals readout (the shipped judge)"
        readout_sha = sha256_file(readout_file)
    return pred, test.labels, judge, readout_sha, "AGIQA-3K test split" if have_agiqa else "procedural"


def calibration_block(
    cal_pred: np.ndarray, cal_y: np.ndarray, test_pred: np.ndarray, test_y: np.ndarray, n_cal: int
) -> dict[str, object]:
    """The card's ``calibration`` block (SHARED_FORMATS): a constant-width split-conformal
    interval per attribute, q from the calibration processes, coverage and width measured
    on the held-out test processes, next to the narrowest interval that would cover them."""
    from artjudge.scoring.intervals import DEFAULT_LEVEL, conformal_quantile, coverage, oracle_width
    from artjudge.taxonomy import PROCESS

    heads = {}
    for j, k in enumerate(PROCESS.keys()):
        ok_c, ok_t = np.isfinite(cal_y[:, j]), np.isfinite(test_y[:, j])
        q = conformal_quantile(10.0 * np.abs(cal_pred[ok_c, j] - cal_y[ok_c, j]), DEFAULT_LEVEL)
        s, y = 10.0 * test_pred[ok_t, j], 10.0 * test_y[ok_t, j]
        lo, hi = np.clip(s - q, 0, 100), np.clip(s + q, 0, 100)
        half = oracle_width(y, s, DEFAULT_LEVEL) / 2  # the oracle, clipped to 0-100 like the intervals
        oracle = float(np.mean(np.clip(s + half, 0, 100) - np.clip(s - half, 0, 100)))
        heads[k] = {
            "q": round(q, 3),
            "scale": "constant",
            "coverage": round(coverage(y, lo, hi), 4),
            "mean_width": round(float(np.mean(hi - lo)), 3),
            "oracle_width": round(oracle, 3),
            "n": int(ok_c.sum()),
            "n_test": int(ok_t.sum()),
        }
    return {
        "level": DEFAULT_LEVEL,
        "method": (
            f"split conformal on |residual| (0-100, constant scale) over {n_cal} synthetic processes "
            f"(seed {CAL_SEED}, AGIQA-3K test-split targets seed {CAL_TARGET_SEED}); coverage and mean "
            f"width on the {len(test_y)} held-out processes of benchmarks/process_accuracy.py "
            f"(seed {TEST_SEED}); oracle_width: mean width of the narrowest constant interval covering 90% of "
            "those, clipped to 0-100 as the intervals are"
        ),
        "heads": heads,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default", help="'default' (the shipped judge) or a checkpoint path")
    ap.add_argument("--n-test", type=int, default=160)
    ap.add_argument("--n-cal", type=int, default=160, help="calibration processes for the intervals")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.io.files import atomic_write_json, sha256_file
    from artjudge.models.process.calibration import residual_std_path
    from artjudge.models.process.judge import default_weights_path
    from artjudge.models.weights import seal_folder
    from artjudge.taxonomy import PROCESS

    t0 = time.time()
    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    cache = Path(args.cache_dir)
    pred, labels, judge, readout_sha, targets = shipped_predictions(wpath, args.n_test, TEST_SEED, 99, cache)
    cal_pred, cal_labels, *_ = shipped_predictions(wpath, args.n_cal, CAL_SEED, CAL_TARGET_SEED, cache)
    resid = pred - labels
    rms = np.sqrt(np.nanmean(resid**2, axis=0))
    keys = PROCESS.keys()
    out = {
        "weights": wpath.name,
        "weights_sha256": sha256_file(wpath),
        "judge": judge,
        "signals_readout_sha256": readout_sha,
        "scale": "0-100",
        "definition": "root-mean-square of (prediction - label) x 10 per attribute, on held-out synthetic "
        "processes (benchmarks/process_accuracy.py's test set); every attribute but consistency is "
        "judged without the reference, as the judge does",
        "data": {"n": len(labels), "seed": TEST_SEED, "targets": targets, "frames": 8},
        "residual_std": {k: round(float(10.0 * v), 3) for k, v in zip(keys, rms, strict=True)},
        "mean_residual": {
            k: round(float(10.0 * v), 3) for k, v in zip(keys, np.nanmean(resid, axis=0), strict=True)
        },
        "calibration": calibration_block(cal_pred, cal_labels, pred, labels, len(cal_labels)),
        "command": " ".join(
            ["python scripts/process_residual_std.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "seconds": round(time.time() - t0, 1),
    }
    dest = residual_std_path(wpath)
    atomic_write_json(dest, out, indent=2)
    seal_folder(dest.parent)  # std and intervals change records: the folder's seal and version follow
    heads = out["calibration"]["heads"]  # type: ignore[index]
    for k in keys:
        h = heads[k]
        print(
            f"{k:<24} std {out['residual_std'][k]:7.3f}  bias {out['mean_residual'][k]:+7.3f}  "
            f"90% interval +-{h['q']:.2f}: coverage {h['coverage']:.3f}, width {h['mean_width']:.2f} "
            f"(oracle {h['oracle_width']:.2f}, ratio {h['mean_width'] / max(h['oracle_width'], 1e-9):.2f})"
        )
    print(f"wrote {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
