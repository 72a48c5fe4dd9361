"""Consistency with the text prompt: the process judge's consistency score against AGIQA-3K
``mos_align`` on its test split (split_by_group over prompts, test 0.2, val 0.1, seed 0),
against image-only ridges on the same frozen features, fitted in the same run.

    python benchmarks/consistency_agiqa.py

The judge sees the image as a one-frame process with the prompt (MiniLM embedding) as its
context token and the image's concept alignment with the prompt (``grounding``). The
ridges see only the image: (a) its pooled patch tokens; (b) those plus the ImageNet class
logits the judge's grounding starts from, so that whatever the judge gains over (b) comes
from the prompt. The judge's consistency is the shipped blend: half the network, half a
ridge readout of its wide inputs fitted on the train split (see consistency_cv.py). A
paired bootstrap gives the interval of the judge's SRCC gain over the better ridge.
Writes benchmarks/results/consistency_agiqa.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.eval import metrics
    from artjudge.io.files import atomic_write_text
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import default_weights_path, load_net
    from artjudge.train.process import add_alignment, agiqa_bundle, predict, ridge_readout

    t0 = time.time()
    root = SHARED / "agiqa-3k"
    if not (root / "data.csv").is_file():
        print(f"AGIQA-3K not found at {root}", file=sys.stderr)
        return 2
    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    net, blob = load_net(wpath)
    encoder = PatchEncoder(resolution=int(blob["meta"]["resolution"]), grid=net.cfg.grid)
    bundle, splits = agiqa_bundle(encoder, root, Path(args.cache_dir))
    split = np.array(splits)
    train, test = bundle.subset(split == "train"), bundle.subset(split == "test")
    y_train, y_test = train.labels[:, 0], test.labels[:, 0]
    if net.grounder.ready:
        add_alignment([test], encoder, net.grounder, fit=False)

    model_pred = predict(net, test)[:, 0]

    def ridge_fit_predict(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, float]:
        """Image-only ridge, alpha by cross-validation on the train split."""
        coef, intercept, alpha = ridge_readout(x_train, y_train)
        return x_test @ coef + intercept, alpha

    pooled_train, pooled_test = train.frames[:, 0].mean(axis=1), test.frames[:, 0].mean(axis=1)
    ridge_a, alpha_a = ridge_fit_predict(pooled_train, pooled_test)
    logits_train, logits_test = encoder.class_logits(train.frames[:, 0]), encoder.class_logits(test.frames[:, 0])
    ridge_b, alpha_b = ridge_fit_predict(np.hstack([pooled_train, logits_train]),
                                         np.hstack([pooled_test, logits_test]))

    rows = {}
    for name, pred in (("process judge (image + prompt)", model_pred), ("ridge, image tokens", ridge_a),
                       ("ridge, image tokens + logits", ridge_b)):
        rep = metrics.report(pred, y_test, bootstrap=args.bootstrap, seed=0)
        rows[name] = {"srcc": rep.srcc.value, "srcc_ci": [rep.srcc.lo, rep.srcc.hi],
                      "plcc": rep.plcc.value, "plcc_ci": [rep.plcc.lo, rep.plcc.hi]}
    # paired bootstrap of the SRCC difference, judge minus the better image-only ridge
    best_ridge = max(("ridge, image tokens", ridge_a), ("ridge, image tokens + logits", ridge_b),
                     key=lambda kv: rows[kv[0]]["srcc"])
    diffs = []
    rng = np.random.default_rng(0)
    for _ in range(args.bootstrap):
        i = rng.integers(0, len(y_test), len(y_test))
        diffs.append(metrics.srcc(model_pred[i], y_test[i]) - metrics.srcc(best_ridge[1][i], y_test[i]))
    gain = {"against": best_ridge[0], "srcc_diff": rows["process judge (image + prompt)"]["srcc"]
            - rows[best_ridge[0]]["srcc"], "srcc_diff_ci": [float(np.percentile(diffs, 2.5)),
                                                          float(np.percentile(diffs, 97.5))],
            "share_of_resamples_judge_ahead": float(np.mean(np.array(diffs) > 0))}
    print(f"\nAGIQA-3K mos_align, test split by prompt: n={len(y_test)} (train n={len(y_train)})")
    print(f"{'method':<34}{'SRCC':>8}{'95% CI':>18}{'PLCC':>8}{'95% CI':>18}")
    for name, r in rows.items():
        print(f"{name:<34}{r['srcc']:>8.3f}   [{r['srcc_ci'][0]:.3f}, {r['srcc_ci'][1]:.3f}]"
              f"{r['plcc']:>8.3f}   [{r['plcc_ci'][0]:.3f}, {r['plcc_ci'][1]:.3f}]")
    print(f"judge - {gain['against']}: SRCC {gain['srcc_diff']:+.3f}, paired 95% CI "
          f"[{gain['srcc_diff_ci'][0]:+.3f}, {gain['srcc_diff_ci'][1]:+.3f}], judge ahead in "
          f"{gain['share_of_resamples_judge_ahead']:.0%} of resamples")
    result = {
        "command": "python benchmarks/consistency_agiqa.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "split": "split_by_group(prompt, test_fraction=0.2, val_fraction=0.1, seed=0)",
        "n_test": int(len(y_test)), "n_train": int(len(y_train)), "resolution": encoder.resolution,
        "ridge_alpha": {"tokens": alpha_a, "tokens+logits": alpha_b}, "results": rows,
        "judge_beats_image_only": bool(rows["process judge (image + prompt)"]["srcc"]
                                       > max(rows["ridge, image tokens"]["srcc"],
                                             rows["ridge, image tokens + logits"]["srcc"])),
        "paired_gain": gain, "seconds": round(time.time() - t0, 1),
        "weights": str(wpath), "weights_version": blob.get("version"),
    }
    atomic_write_text(RESULTS / "consistency_agiqa.json", json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
