"""Process-judge accuracy on held-out synthetic processes, against the averaged-embedding
baseline trained in the same run on the same data; and the Sheep Market real-order check.

    python benchmarks/process_accuracy.py [--n-test 160] [--n-sheep 0] [--shuffles 3]

Held-out processes use a different seed and AGIQA-3K *test*-split images as targets (never
painted in training). Per attribute: SRCC, PLCC, MSE (1-10 scale) and ACC (rounded-score
agreement, PPJudge). Real order: for Sheep Market *test* drawings (every one with at least
4 strokes by default; ``--n-sheep N`` samples N), the true stroke order against random
permutations of the same strokes (never the true order itself); the judge should give the
true order higher process stability. Writes benchmarks/results/process_accuracy.json.
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


def attribute_table(pred: np.ndarray, target: np.ndarray) -> dict[str, dict[str, float]]:
    from artjudge.eval import metrics
    from artjudge.taxonomy import PROCESS

    out = {}
    keys = [a.key for a in PROCESS.attributes]
    for j, key in enumerate(keys):
        out[key] = {
            "srcc": metrics.srcc(pred[:, j], target[:, j]),
            "plcc": metrics.plcc(pred[:, j], target[:, j]),
            "mse": metrics.mse(pred[:, j], target[:, j]),
            "acc": metrics.acc(pred[:, j], target[:, j]),
        }
    out["mean"] = {m: float(np.nanmean([out[k][m] for k in keys])) for m in ("srcc", "plcc", "mse", "acc")}
    return out


def _shuffles(n_strokes: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``k`` random stroke orders, each different from the true one."""
    out: list[np.ndarray] = []
    while len(out) < k:
        perm = rng.permutation(n_strokes)
        if not np.array_equal(perm, np.arange(n_strokes)):
            out.append(perm)
    return out


def real_order_check(judge_net: torch.nn.Module, baseline: torch.nn.Module, encoder: object, n: int,
                     shuffles: int, n_frames: int, seed: int = 7) -> dict[str, object]:
    from tqdm import tqdm

    from artjudge.models.process.model import logits_to_scores
    from artjudge.data.process.sheep import load_sheep, rasterise
    from artjudge.taxonomy import PROCESS

    j = PROCESS.keys().index("process_stability")
    drawings = [d for d in load_sheep(SHARED / "process" / "sheep-market", "test") if len(d.strokes) >= 4]
    rng = np.random.default_rng(seed)
    pick = np.arange(len(drawings)) if n <= 0 else rng.choice(len(drawings), size=min(n, len(drawings)),
                                                               replace=False)
    model_true, model_shuf, base_true, base_shuf = [], [], [], []
    for i in tqdm(pick, desc="sheep order"):
        d = drawings[int(i)]
        orders = [np.arange(len(d.strokes)), *_shuffles(len(d.strokes), shuffles, rng)]
        imgs = [im for o in orders for im in rasterise(d.strokes, n_frames, 128, o)]
        flat = torch.from_numpy(encoder.encode(imgs))  # type: ignore[attr-defined]
        toks = flat.reshape(len(orders), n_frames, *flat.shape[1:])
        with torch.no_grad():
            m = logits_to_scores(judge_net(toks)["logits"][:, -1, j]).numpy()
            b = logits_to_scores(baseline(toks)[:, j]).numpy()
        model_true.append(m[0])
        model_shuf.append(m[1:])
        base_true.append(b[0])
        base_shuf.append(b[1:])
    mt, ms = np.array(model_true), np.stack(model_shuf)
    bt, bs = np.array(base_true), np.stack(base_shuf)
    return {
        "n_drawings": len(pick), "shuffles_per_drawing": shuffles, "frames": n_frames,
        "model_true_beats_all_shuffles": float(np.mean((mt[:, None] > ms).all(axis=1))),
        "model_true_beats_each_shuffle": float(np.mean(mt[:, None] > ms)),
        "model_mean_true": float(mt.mean()), "model_mean_shuffled": float(ms.mean()),
        "baseline_true_beats_all_shuffles": float(np.mean((bt[:, None] > bs).all(axis=1))),
        "baseline_true_beats_each_shuffle": float(np.mean(bt[:, None] > bs)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=160)
    ap.add_argument("--n-sheep", type=int, default=0, help="Sheep Market test drawings (0: all; -1: skip the order check)")
    ap.add_argument("--shuffles", type=int, default=3)
    ap.add_argument("--baseline-epochs", type=int, default=60)
    ap.add_argument("--weights", default="default")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.io.files import atomic_write_text
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import default_weights_path, load_net
    from artjudge.train.process import (
        Bundle,
        ProcessTrainConfig,
        add_alignment,
        agiqa_bundle,
        load_targets,
        predict,
        sheep_pairs,
        synthetic_bundle,
        train_baseline,
    )

    t0 = time.time()
    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    net, blob = load_net(wpath)
    meta = blob["meta"]
    tc = ProcessTrainConfig()
    cache = Path(args.cache_dir)
    encoder = PatchEncoder(resolution=int(meta["resolution"]), grid=net.cfg.grid)
    agiqa_root = SHARED / "agiqa-3k"
    have_agiqa = (agiqa_root / "data.csv").is_file()
    # The training data, exactly as train-process built it (read from the feature cache).
    train_targets = load_targets(agiqa_root if have_agiqa else None, tc.n_targets, tc.size, int(meta["seed"]))
    synth = synthetic_bundle(encoder, int(meta["n_synthetic"]), int(meta["seed"]), train_targets, cache,
                             tc.n_frames, tc.size)
    sources: list = [(synth, 1.0)]
    if int(meta["n_sheep"]) > 0:
        pairs = sheep_pairs(encoder, SHARED / "process" / "sheep-market", "train", int(meta["n_sheep"]),
                            int(meta["seed"]), cache, tc.sheep_frames, tc.size,
                            shuffles=int(meta.get("sheep_shuffles", 1)))
        sources.append((pairs, float(meta.get("sheep_passes", 1.0))))
    if have_agiqa:
        ag, splits = agiqa_bundle(encoder, agiqa_root, cache)
        sources.append((ag.subset(np.array([s == "train" for s in splits])), 1.0))

    # Held out: new seed, targets from the AGIQA-3K test split.
    test_targets = load_targets(agiqa_root if have_agiqa else None, 80, tc.size, 99, split="test")
    test = synthetic_bundle(encoder, args.n_test, 20251122, test_targets, cache, tc.n_frames, tc.size,
                            name="synthetic-heldout")
    if net.grounder.ready:  # the judge's grounding features, for the judge and the baseline alike
        add_alignment([s for s, _ in sources if isinstance(s, Bundle)] + [test], encoder, net.grounder, fit=False)
    baseline = train_baseline(sources, epochs=args.baseline_epochs, progress=True)
    model_pred = predict(net, test)
    base_pred = predict(baseline, test)
    model_tab = attribute_table(model_pred, test.labels)
    base_tab = attribute_table(base_pred, test.labels)

    order = None
    if (SHARED / "process" / "sheep-market").is_dir() and args.n_sheep >= 0:
        order = real_order_check(net, baseline, encoder, args.n_sheep, args.shuffles, tc.sheep_frames)

    from artjudge.taxonomy import PROCESS

    print(f"\nheld-out synthetic processes: n={len(test)} (frames={tc.n_frames})")
    print(f"{'attribute':<24}{'model SRCC':>11}{'base SRCC':>11}{'model PLCC':>11}{'base PLCC':>11}"
          f"{'model MSE':>10}{'base MSE':>10}{'model ACC':>10}{'base ACC':>10}")
    for key in [*PROCESS.keys(), "mean"]:
        m, b = model_tab[key], base_tab[key]
        print(f"{key:<24}{m['srcc']:>11.3f}{b['srcc']:>11.3f}{m['plcc']:>11.3f}{b['plcc']:>11.3f}"
              f"{m['mse']:>10.3f}{b['mse']:>10.3f}{m['acc']:>10.3f}{b['acc']:>10.3f}")
    wins = model_tab["mean"]["srcc"] > base_tab["mean"]["srcc"]
    print(f"model wins on mean SRCC: {wins} ({model_tab['mean']['srcc']:.3f} vs {base_tab['mean']['srcc']:.3f})")
    if order:
        print(f"real order (Sheep Market test, {order['n_drawings']} drawings x {order['shuffles_per_drawing']} "
              f"shuffles): true order scores higher process stability than every shuffle on "
              f"{order['model_true_beats_all_shuffles']:.1%} (model) vs "
              f"{order['baseline_true_beats_all_shuffles']:.1%} (baseline) of drawings; "
              f"pairwise {order['model_true_beats_each_shuffle']:.1%} vs {order['baseline_true_beats_each_shuffle']:.1%}")
    result = {
        "command": "python benchmarks/process_accuracy.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "weights": str(wpath), "weights_version": blob.get("version"),
        "n_test": len(test), "test_seed": 20251122,
        "model": model_tab, "baseline_avg_embedding_mlp": base_tab,
        "model_wins_mean_srcc": bool(wins), "real_order": order, "seconds": round(time.time() - t0, 1),
    }
    atomic_write_text(RESULTS / "process_accuracy.json", json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
