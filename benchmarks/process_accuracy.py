"""Process-judge accuracy on held-out synthetic processes, against the averaged-embedding
baseline trained in the same run on the same data; and the Sheep Market real-order check.

    python benchmarks/process_accuracy.py [--n-test 160] [--n-sheep 0] [--shuffles 3]

Held-out processes use a different seed and AGIQA-3K *test*-split images as targets (never
painted in training). Per attribute: SRCC, PLCC, MSE (1-10 scale) and ACC (rounded-score
agreement, PPJudge). Real order: for Sheep Market *test* drawings (every one with at least
4 strokes by default; ``--n-sheep N`` samples N), the true stroke order against random
permutations of the same strokes (never the true order itself); the judge should give the
true order higher process stability. Same run: the signals-only baseline and the combined
(shipped) judge, the inverse-painting time-lapse (true vs reversed vs shuffled) and the
realistic-media every-order check of benchmarks/process_realistic.py (``--n-watercolour 0``
skips it). The averaged-embedding baseline is trained once per weights and kept in the
feature cache (``cached_baseline``). Writes benchmarks/results/process_accuracy.json.
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


PREDICTION = "every attribute but consistency judged without the reference (as the judge does)"


def attribute_table(pred: np.ndarray, target: np.ndarray) -> dict[str, dict[str, float]]:
    from artjudge.eval import metrics
    from artjudge.taxonomy import PROCESS

    out = {}
    keys = [a.key for a in PROCESS.attributes]
    for j, key in enumerate(keys):
        if not np.isfinite(pred[:, j]).all():  # an attribute this predictor does not judge
            continue
        out[key] = {
            "srcc": metrics.srcc(pred[:, j], target[:, j]),
            "plcc": metrics.plcc(pred[:, j], target[:, j]),
            "mse": metrics.mse(pred[:, j], target[:, j]),
            "acc": metrics.acc(pred[:, j], target[:, j]),
        }
    out["mean"] = {
        m: float(np.nanmean([out[k][m] for k in keys if k in out])) for m in ("srcc", "plcc", "mse", "acc")
    }
    return out


def _shuffles(n_strokes: int, k: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``k`` random stroke orders, each different from the true one."""
    out: list[np.ndarray] = []
    while len(out) < k:
        perm = rng.permutation(n_strokes)
        if not np.array_equal(perm, np.arange(n_strokes)):
            out.append(perm)
    return out


def real_order_check(
    judge_net: torch.nn.Module,
    baseline: torch.nn.Module,
    encoder: object,
    n: int,
    shuffles: int,
    n_frames: int,
    seed: int = 7,
    readout: object = None,
) -> dict[str, object]:
    from tqdm import tqdm

    from artjudge.data.process.sheep import load_sheep, rasterise
    from artjudge.features.process_signals import process_signals
    from artjudge.models.process.model import logits_to_scores
    from artjudge.models.process.signals_readout import blend_scores
    from artjudge.taxonomy import PROCESS

    j = PROCESS.keys().index("process_stability")
    drawings = [d for d in load_sheep(SHARED / "process" / "sheep-market", "test") if len(d.strokes) >= 4]
    rng = np.random.default_rng(seed)
    pick = (
        np.arange(len(drawings))
        if n <= 0
        else rng.choice(len(drawings), size=min(n, len(drawings)), replace=False)
    )
    model_true, model_shuf, base_true, base_shuf = [], [], [], []
    sig_true: list = []
    sig_shuf: list = []
    comb_true: list = []
    comb_shuf: list = []
    for i in tqdm(pick, desc="sheep order"):
        d = drawings[int(i)]
        orders = [np.arange(len(d.strokes)), *_shuffles(len(d.strokes), shuffles, rng)]
        imgs = [im for o in orders for im in rasterise(d.strokes, n_frames, 128, o)]
        flat = torch.from_numpy(encoder.encode(imgs))  # type: ignore[attr-defined]
        toks = flat.reshape(len(orders), n_frames, *flat.shape[1:])
        with torch.no_grad():
            m = logits_to_scores(judge_net(toks)["logits"][:, -1, j]).numpy()
            b = logits_to_scores(baseline(toks)[:, j]).numpy()
        if readout is not None:
            summ = np.stack(
                [process_signals(imgs[k * n_frames : (k + 1) * n_frames])[1][-1] for k in range(len(orders))]
            )
            sig = readout.predict(summ)["process_stability"]
            comb = blend_scores("process_stability", readout.blend.get("process_stability", 1.0), m, sig)
            sig_true.append(sig[0])
            sig_shuf.append(sig[1:])
            comb_true.append(comb[0])
            comb_shuf.append(comb[1:])
        model_true.append(m[0])
        model_shuf.append(m[1:])
        base_true.append(b[0])
        base_shuf.append(b[1:])
    mt, ms = np.array(model_true), np.stack(model_shuf)
    bt, bs = np.array(base_true), np.stack(base_shuf)
    extra = {}
    for name, t, sh in (("signals", sig_true, sig_shuf), ("combined", comb_true, comb_shuf)):
        if t:
            tt, ss = np.array(t), np.stack(sh)
            extra[f"{name}_true_beats_all_shuffles"] = float(np.mean((tt[:, None] > ss).all(axis=1)))
            extra[f"{name}_true_beats_each_shuffle"] = float(np.mean(tt[:, None] > ss))
    return {
        **extra,
        "n_drawings": len(pick),
        "shuffles_per_drawing": shuffles,
        "frames": n_frames,
        "model_true_beats_all_shuffles": float(np.mean((mt[:, None] > ms).all(axis=1))),
        "model_true_beats_each_shuffle": float(np.mean(mt[:, None] > ms)),
        "model_mean_true": float(mt.mean()),
        "model_mean_shuffled": float(ms.mean()),
        "baseline_true_beats_all_shuffles": float(np.mean((bt[:, None] > bs).all(axis=1))),
        "baseline_true_beats_each_shuffle": float(np.mean(bt[:, None] > bs)),
    }


def signals_predictions(
    readout, model_pred: np.ndarray, n_test: int, targets: list, tc
) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    """Signals-only and combined (shipped) predictions on the held-out processes, rendered
    again from their seed (the token cache holds no pixels); consistency: the network's."""
    from artjudge.data.process.synthetic import generate_dataset
    from artjudge.train.signals import readout_predictions

    procs = generate_dataset(n_test, 20251122, targets, n_frames=tc.n_frames, size=tc.size)
    return readout_predictions(readout, model_pred, procs)


def timelapse_check(net, baseline, encoder, readout, n_shuffles: int = 10, seed: int = 3) -> dict | None:  # type: ignore[no-untyped-def]
    """The inverse-painting time-lapse in shared/: true vs reversed vs shuffled orders, final
    1-10 scores of the network, the averaged-embedding baseline, signals only and combined."""
    from artjudge.data.process.synthetic import PROCESS_KEYS
    from artjudge.features.process_signals import process_signals
    from artjudge.io.keyframes import list_frame_files, select_frames
    from artjudge.models.process.model import logits_to_scores
    from artjudge.models.process.signals_readout import blend_scores

    root = SHARED / "process" / "inverse-painting-sample" / "data" / "sample_data" / "train" / "rgb"
    folders = (
        sorted(p for p in root.rglob("*") if p.is_dir() and list_frame_files(p)) if root.is_dir() else []
    )
    if not folders:
        return None
    frames = select_frames(folders[0]).frames  # the judge's own key-frame policy and preparation
    k = len(frames)
    rng = np.random.default_rng(seed)
    orders = [list(range(k)), list(range(k))[::-1]]
    while len(orders) < 2 + n_shuffles:
        o = rng.permutation(k).tolist()
        if o not in orders:
            orders.append(o)
    toks = torch.from_numpy(encoder.encode(frames))
    seqs = torch.stack([toks[o] for o in orders])
    with torch.no_grad():
        net_s = logits_to_scores(net(seqs)["logits"][:, -1]).numpy()
        base_s = logits_to_scores(baseline(seqs)).numpy() if baseline is not None else None
    out: dict = {"n_frames": k, "orders": len(orders), "scores": {}}
    who = {"network": net_s} | ({"avg_embed": base_s} if base_s is not None else {})
    if readout is not None:
        summ = np.stack([process_signals([frames[i] for i in o])[1][-1] for o in orders])
        sig = readout.predict(summ)
        sig_s, comb_s = net_s.copy(), net_s.copy()
        for a, v in sig.items():
            j = PROCESS_KEYS.index(a)
            sig_s[:, j], comb_s[:, j] = v, blend_scores(a, readout.blend.get(a, 1.0), net_s[:, j], v)
        who |= {"signals": sig_s, "combined": comb_s}
    for name, s in who.items():
        out["scores"][name] = {
            a: {
                "true": float(s[0, j]),
                "reversed": float(s[1, j]),
                "shuffled_mean": float(s[2:, j].mean()),
                "true_rank": int(1 + (s[1:, j] > s[0, j]).sum()),
            }
            for j, a in enumerate(PROCESS_KEYS)
            if a != "consistency"
        }
    return out


def training_sources(net, blob: dict, encoder, cache: Path) -> list:  # type: ignore[no-untyped-def]
    """The network's training data, exactly as train-process built it (from the feature cache),
    with the judge's grounding features: what the averaged-embedding baseline trains on."""
    from artjudge.train.process import (
        Bundle,
        ProcessTrainConfig,
        add_alignment,
        agiqa_bundle,
        load_targets,
        sheep_pairs,
        synthetic_bundle,
    )

    meta, tc = blob["meta"], ProcessTrainConfig()
    agiqa_root = SHARED / "agiqa-3k"
    have_agiqa = (agiqa_root / "data.csv").is_file()
    train_targets = load_targets(agiqa_root if have_agiqa else None, tc.n_targets, tc.size, int(meta["seed"]))
    synth = synthetic_bundle(
        encoder, int(meta["n_synthetic"]), int(meta["seed"]), train_targets, cache, tc.n_frames, tc.size
    )
    sources: list = [(synth, 1.0)]
    if int(meta["n_sheep"]) > 0:
        pairs = sheep_pairs(
            encoder,
            SHARED / "process" / "sheep-market",
            "train",
            int(meta["n_sheep"]),
            int(meta["seed"]),
            cache,
            tc.sheep_frames,
            tc.size,
            shuffles=int(meta.get("sheep_shuffles", 1)),
        )
        sources.append((pairs, float(meta.get("sheep_passes", 1.0))))
    if have_agiqa:
        ag, splits = agiqa_bundle(encoder, agiqa_root, cache)
        sources.append((ag.subset(np.array([s == "train" for s in splits])), 1.0))
    if net.grounder.ready:
        add_alignment([s for s, _ in sources if isinstance(s, Bundle)], encoder, net.grounder, fit=False)
    return sources


def cached_baseline(net, blob: dict, encoder, cache: Path, wpath: Path, epochs: int = 60):  # type: ignore[no-untyped-def]
    """The averaged-embedding baseline trained on :func:`training_sources` (seed 0), kept in
    the feature cache per weights and epochs so the benchmarks that share it train it once."""
    from artjudge.io.files import sha256_file
    from artjudge.models.process.baseline import AvgEmbedMLP
    from artjudge.train.process import train_baseline

    path = cache / f"avg-embed-baseline-{sha256_file(wpath)[:16]}-e{epochs}.pt"
    if path.is_file():
        model = AvgEmbedMLP(encoder.token_dim)
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    model = train_baseline(training_sources(net, blob, encoder, cache), epochs=epochs, progress=True)
    torch.save(model.state_dict(), path)
    return model


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=160)
    ap.add_argument(
        "--n-sheep", type=int, default=0, help="Sheep Market test drawings (0: all; -1: skip the order check)"
    )
    ap.add_argument("--shuffles", type=int, default=3)
    ap.add_argument(
        "--n-watercolour",
        type=int,
        default=70,
        help="realistic watercolour processes for the every-order check (0: skip it; process_realistic.py)",
    )
    ap.add_argument("--n-other", type=int, default=40, help="realistic processes per other medium")
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
        ProcessTrainConfig,
        add_alignment,
        load_targets,
        predict,
        synthetic_bundle,
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
    # Held out: new seed, targets from the AGIQA-3K test split.
    test_targets = load_targets(agiqa_root if have_agiqa else None, 80, tc.size, 99, split="test")
    test = synthetic_bundle(
        encoder, args.n_test, 20251122, test_targets, cache, tc.n_frames, tc.size, name="synthetic-heldout"
    )
    if net.grounder.ready:  # the judge's grounding features, for the judge and the baseline alike
        add_alignment([test], encoder, net.grounder, fit=False)
    baseline = cached_baseline(net, blob, encoder, cache, wpath, args.baseline_epochs)
    model_pred = predict(net, test)
    base_pred = predict(baseline, test)
    model_tab = attribute_table(model_pred, test.labels)
    base_tab = attribute_table(base_pred, test.labels)
    from artjudge.io.files import sha256_file
    from artjudge.models.process.signals_readout import SignalsReadout, readout_path

    readout = SignalsReadout.load(readout_path(wpath), sha256_file(wpath))
    signals_tab = combined_tab = timelapse = None
    if readout is not None:
        sig_pred, comb_pred = signals_predictions(readout, model_pred, args.n_test, test_targets, tc)
        signals_tab = attribute_table(sig_pred, test.labels)
        combined_tab = attribute_table(comb_pred, test.labels)
    timelapse = timelapse_check(net, baseline, encoder, readout)

    order = None
    if (SHARED / "process" / "sheep-market").is_dir() and args.n_sheep >= 0:
        order = real_order_check(
            net, baseline, encoder, args.n_sheep, args.shuffles, tc.sheep_frames, readout=readout
        )

    realistic = None
    if args.n_watercolour > 0:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from process_realistic import TARGET_SEED, print_table, realistic_check, realistic_processes

        rtargets = load_targets(agiqa_root if have_agiqa else None, 80, 256, TARGET_SEED, split="test")
        procs = realistic_processes(
            ["watercolour", "pencil_ink", "opaque", "digital"],
            [args.n_watercolour] + [args.n_other] * 3,
            rtargets,
        )
        realistic = realistic_check(net, encoder, readout, baseline, procs)

    from artjudge.taxonomy import PROCESS

    print(f"\nheld-out synthetic processes: n={len(test)} (frames={tc.n_frames})")
    print(
        f"{'attribute':<24}{'model SRCC':>11}{'base SRCC':>11}{'model PLCC':>11}{'base PLCC':>11}"
        f"{'model MSE':>10}{'base MSE':>10}{'model ACC':>10}{'base ACC':>10}"
    )
    for key in [*PROCESS.keys(), "mean"]:
        m, b = model_tab[key], base_tab[key]
        print(
            f"{key:<24}{m['srcc']:>11.3f}{b['srcc']:>11.3f}{m['plcc']:>11.3f}{b['plcc']:>11.3f}"
            f"{m['mse']:>10.3f}{b['mse']:>10.3f}{m['acc']:>10.3f}{b['acc']:>10.3f}"
        )
    if signals_tab is not None and combined_tab is not None:
        print(
            f"{'attribute':<24}{'signals SRCC':>13}{'combined SRCC':>14}{'signals MSE':>12}{'combined MSE':>13}"
        )
        for key in [*PROCESS.keys(), "mean"]:
            a, c = signals_tab.get(key), combined_tab[key]
            if a is not None:
                print(f"{key:<24}{a['srcc']:>13.3f}{c['srcc']:>14.3f}{a['mse']:>12.3f}{c['mse']:>13.3f}")
    if timelapse:
        print("inverse-painting time-lapse (true / reversed / mean of shuffles), final scores 1-10:")
        for who, rows in timelapse["scores"].items():
            for attr, v in rows.items():
                print(
                    f"  {who:<10}{attr:<24}{v['true']:>7.2f}{v['reversed']:>9.2f}{v['shuffled_mean']:>9.2f}"
                )
    if realistic:
        print(
            "\nrealistic-media processes (held-out AGIQA-3K test targets), every order of 3-4 photographed stages:"
        )
        print_table(realistic)
    wins = model_tab["mean"]["srcc"] > base_tab["mean"]["srcc"]
    print(
        f"model wins on mean SRCC: {wins} ({model_tab['mean']['srcc']:.3f} vs {base_tab['mean']['srcc']:.3f})"
    )
    if order:
        print(
            f"real order (Sheep Market test, {order['n_drawings']} drawings x {order['shuffles_per_drawing']} "
            f"shuffles): true order scores higher process stability than every shuffle on "
            f"{order['model_true_beats_all_shuffles']:.1%} (model) vs "
            f"{order['baseline_true_beats_all_shuffles']:.1%} (baseline) of drawings; "
            f"pairwise {order['model_true_beats_each_shuffle']:.1%} vs {order['baseline_true_beats_each_shuffle']:.1%}"
        )
    result = {
        "command": "python benchmarks/process_accuracy.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "weights": str(wpath),
        "weights_version": blob.get("version"),
        "n_test": len(test),
        "test_seed": 20251122,
        "model": model_tab,
        "baseline_avg_embedding_mlp": base_tab,
        "model_wins_mean_srcc": bool(wins),
        "real_order": order,
        "seconds": round(time.time() - t0, 1),
        # what the network's predictions are: as the judge makes them (issue 25.4); the
        # residual std test compares with scripts/process_residual_std.py only when this matches
        "prediction": PREDICTION,
        "signals_only": signals_tab,
        "combined_shipped": combined_tab,
        "timelapse": timelapse,
        "realistic": realistic,
    }
    atomic_write_text(RESULTS / "process_accuracy.json", json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
