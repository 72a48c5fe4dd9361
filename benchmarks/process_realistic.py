"""Realistic-media proxy of issue 16's real-watercolour bars: does the judge know which way a
painting goes, from 3-4 photographed stages?

    python benchmarks/process_realistic.py [--n-watercolour 70] [--n-other 40] [--no-baseline]

Processes come from the realistic-media generator (artjudge.data.process.media), clean (no
faults), 3 or 4 stages each (watercolour: pencil sketch, first washes, layered washes,
detail; the other media their own stages), each stage photographed anew (light, white
balance, perspective, crop, JPEG). Targets are AGIQA-3K *test*-split images (seed 77):
never painted for the judge's network, its signals readout or the readout's validation
(train and val splits). For each process every order of its own frames is judged (all
3! or 4! permutations) by:

- ``shipped``: the judge the user gets (network blended with the signals readout);
- ``network``: the network alone;
- ``signals``: the signals-only baseline (the readout, no network);
- ``avg_embed``: the averaged-embedding MLP baseline (trained in the same run as
  benchmarks/process_accuracy.py trains it);
- ``saturation_trend``: the one-line statistic, the least-squares slope of the frames' mean
  HSV saturation over time (the same number for every attribute).

Reported per medium: process stability prefers the true order to another order (% of
pairs, ties half) and ranks it first (% of processes, strictly above every other order);
detail, colour and composition depth higher for the true order than the reversed order (%
of processes, ties half). Bars (issue 16): stability pairwise >= 90 % and first >= 50 %;
detail and colour depth >= 90 %. Writes benchmarks/results/process_realistic.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
TARGET_SEED = 77  # AGIQA-3K test-split targets
PROCESS_SEED = 16_000  # process seeds, disjoint from every fitting seed
BARS = {
    "stability_pairwise": 0.9,
    "stability_first": 0.5,
    "detail_true_gt_reversed": 0.9,
    "colour_true_gt_reversed": 0.9,
}
DEPTHS = {"detail": "detail_depth", "colour": "color_depth", "composition": "composition_depth"}


def mean_saturation(frame: Image.Image) -> float:
    """Mean HSV saturation of a frame, 0-1."""
    return float(np.asarray(frame.convert("HSV").resize((128, 128)), np.float32)[..., 1].mean()) / 255


def saturation_trend(saturations: Sequence[float]) -> float:
    """Least-squares slope of the frames' mean saturation over time (the one-line statistic)."""
    return float(np.polyfit(np.arange(len(saturations)), np.asarray(saturations), 1)[0])


def _wins(a: float | np.ndarray, b: float | np.ndarray) -> np.ndarray:
    """1 where a > b, 0.5 on a tie (to 1e-6), 0 otherwise."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return np.where(np.abs(d) <= 1e-6, 0.5, (d > 0).astype(np.float64))


def order_metrics(scores: np.ndarray, reversed_index: int) -> dict[str, float]:
    """One process, one attribute: ``scores[0]`` is the true order, the rest every other order."""
    true, others = scores[0], scores[1:]
    return {
        "pairwise": float(_wins(true, others).mean()),
        "first": float(true > others.max() + 1e-6),
        "true_gt_reversed": float(_wins(true, scores[reversed_index])),
    }


def realistic_processes(
    media: Sequence[str], counts: Sequence[int], targets: Sequence[Image.Image], seed: int = PROCESS_SEED
) -> list:  # type: ignore[type-arg]
    """Clean processes of 3-4 photographed stages, round-robin over ``targets``."""
    from artjudge.data.process.media import generate_media_process, landscape_target

    out = []
    rng = np.random.default_rng(seed)
    for medium, n in zip(media, counts, strict=True):
        for i in range(n):
            s = int(rng.integers(1 << 31))
            tgt = (
                targets[(i * 7 + len(out)) % len(targets)]
                if targets
                else landscape_target(np.random.default_rng(s), 256)
            )
            k = 3 + int(np.random.default_rng(s + 1).random() < 0.6)  # 40 % three stages, 60 % four
            out.append(
                generate_media_process(
                    tgt, s, medium=medium, n_frames=k, size=256, camera="photo", fault_rate=0.0
                )
            )
    return out


def realistic_check(
    net: torch.nn.Module,
    encoder: object,
    readout: object,
    baseline: torch.nn.Module | None,
    processes: Sequence,  # type: ignore[type-arg]
    progress: bool = True,
) -> dict:  # type: ignore[type-arg]
    """Every order of every process's frames through each judge; metrics per medium."""
    from tqdm import tqdm

    from artjudge.data.process.synthetic import PROCESS_KEYS
    from artjudge.features.process_signals import order_summaries
    from artjudge.models.process.model import logits_to_scores
    from artjudge.models.process.signals_readout import blend_scores

    per: dict[str, dict[str, list[dict[str, float]]]] = {}
    for p in tqdm(processes, desc="realistic orders", disable=not progress):
        k = len(p.frames)
        orders = list(itertools.permutations(range(k)))  # identity first
        rev = orders.index(tuple(range(k))[::-1])
        toks = torch.from_numpy(encoder.encode(p.frames))  # type: ignore[attr-defined]
        seqs = torch.stack([toks[list(o)] for o in orders])
        with torch.no_grad():
            net_s = logits_to_scores(net(seqs)["logits"][:, -1]).numpy()
            base_s = logits_to_scores(baseline(seqs)).numpy() if baseline is not None else None
        attrs = ["process_stability", *DEPTHS.values()]
        cols = [PROCESS_KEYS.index(a) for a in attrs]
        judges: dict[str, dict[str, np.ndarray]] = {
            "network": dict(zip(attrs, net_s[:, cols].T, strict=True))
        }
        if base_s is not None:
            judges["avg_embed"] = dict(zip(attrs, base_s[:, cols].T, strict=True))
        if readout is not None:
            summ = order_summaries(p.frames, orders)
            sig = readout.predict(summ)  # type: ignore[attr-defined]
            blend = readout.blend  # type: ignore[attr-defined]
            judges["signals"] = {a: sig[a] for a in attrs}
            judges["shipped"] = {
                a: blend_scores(a, blend.get(a, 1.0), net_s[:, PROCESS_KEYS.index(a)], sig[a]) for a in attrs
            }
        sats = [mean_saturation(f) for f in p.frames]
        sat = np.asarray([saturation_trend([sats[i] for i in o]) for o in orders])
        judges["saturation_trend"] = dict.fromkeys(attrs, sat)
        for who, sc in judges.items():
            row: dict[str, float] = {}
            st = order_metrics(sc["process_stability"], rev)
            row["stability_pairwise"], row["stability_first"] = st["pairwise"], st["first"]
            for short, attr in DEPTHS.items():
                row[f"{short}_true_gt_reversed"] = order_metrics(sc[attr], rev)["true_gt_reversed"]
            per.setdefault(p.medium, {}).setdefault(who, []).append(row)
    out: dict = {"n": {m: len(next(iter(v.values()))) for m, v in per.items()}, "media": {}}
    for medium, by in per.items():
        out["media"][medium] = {
            who: {key: round(float(np.mean([r[key] for r in rows])), 4) for key in rows[0]}
            for who, rows in by.items()
        }
    wc = out["media"].get("watercolour", {}).get("shipped")
    if wc is not None:
        out["watercolour_bars_met"] = {k: bool(wc[k] >= bar) for k, bar in BARS.items()}
    return out


def print_table(res: dict) -> None:  # type: ignore[type-arg]
    cols = [
        "stability_pairwise",
        "stability_first",
        "detail_true_gt_reversed",
        "colour_true_gt_reversed",
        "composition_true_gt_reversed",
    ]
    heads = ["stab pair", "stab first", "detail T>R", "colour T>R", "comp T>R"]
    for medium, by in res["media"].items():
        print(f"\n{medium} (n={res['n'][medium]} processes, 3-4 photographed stages, all orders)")
        print(f"{'judge':<18}" + "".join(f"{h:>12}" for h in heads))
        for who, row in by.items():
            print(f"{who:<18}" + "".join(f"{row[c]:>12.1%}" for c in cols))
    if "watercolour_bars_met" in res:
        print(f"watercolour bars met by the shipped judge: {res['watercolour_bars_met']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-watercolour", type=int, default=70)
    ap.add_argument("--n-other", type=int, default=40, help="processes per other medium")
    ap.add_argument(
        "--no-baseline", action="store_true", help="skip training the averaged-embedding baseline"
    )
    ap.add_argument("--weights", default="default")
    ap.add_argument(
        "--readout", default="", help="a signals readout JSON (default: the one beside the weights)"
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    ap.add_argument("--output", default=str(RESULTS / "process_realistic.json"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.io.files import atomic_write_text, sha256_file
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import default_weights_path, load_net
    from artjudge.models.process.signals_readout import SignalsReadout, readout_path
    from artjudge.train.process import load_targets

    t0 = time.time()
    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    net, blob = load_net(wpath)
    encoder = PatchEncoder(resolution=int(blob["meta"]["resolution"]), grid=net.cfg.grid)
    rpath = Path(args.readout) if args.readout else readout_path(wpath)
    readout = SignalsReadout.load(rpath, sha256_file(wpath))
    baseline = None
    if not args.no_baseline:
        sys.path.insert(0, str(Path(__file__).resolve().parent))

        from process_accuracy import cached_baseline

        baseline = cached_baseline(net, blob, encoder, Path(args.cache_dir), wpath)
    agiqa = SHARED / "agiqa-3k"
    targets = load_targets(
        agiqa if (agiqa / "data.csv").is_file() else None, 80, 256, TARGET_SEED, split="test"
    )
    media = ["watercolour", "pencil_ink", "opaque", "digital"]
    counts = [args.n_watercolour] + [args.n_other] * 3
    res = realistic_check(net, encoder, readout, baseline, realistic_processes(media, counts, targets))
    print_table(res)
    res = {
        "command": "python benchmarks/process_realistic.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "weights": str(wpath),
        "readout": None if readout is None else readout.meta.get("command"),
        "targets": "AGIQA-3K test split" if targets else "procedural landscapes",
        "bars": BARS,
        **res,
        "seconds": round(time.time() - t0, 1),
    }
    atomic_write_text(Path(args.output), json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
