"""Fit the process judge's signals readout and choose its blend with the network.

    python scripts/fit_process_signals.py [--weights PATH] [--n-train 480] [--n-media 480] [--n-val 80] [--n-val-media 60]

1. Readout: the signal summaries (artjudge.features.process_signals) of
   - the synthetic training processes, i.e. the generator, seed and AGIQA-3K train targets
     the shipped network was trained on (its checkpoint meta);
   - realistic-media processes (artjudge.data.process.media, seed MEDIA_SEED, 3-16 frames,
     the same AGIQA-3K *train*-split targets and procedural landscapes), photographed;
   - both kinds as 3-5 photographed stages in their true order and in a random other order,
     labelled by what the order shows (artjudge.train.signals.order_faults);
   fitted per attribute by non-negative ridge least squares under fixed signs
   (artjudge.models.process.signals_readout).
2. Blend: on *validation* processes only (AGIQA-3K val-split targets; never a benchmark test
   set), for each attribute the network's share w in {0, 0.1, ..., 1} that maximises SRCC on
   the stroke validation labels (seed 4242) + the order accuracy on the same processes shown
   as 3-4 photographed stages + the order accuracy on clean realistic-media validation
   processes of 3-4 photographed stages, every order of their frames (seed VAL_MEDIA_SEED;
   stability: the true order above each other order; depth: true above reversed).

Writes ``<weights>.signals.json`` beside the weights (tied to their SHA-256); the judge
reads it at load time and blends, frame by frame, so ``update()`` still equals ``judge()``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))
VAL_SEED = 4242
MEDIA_SEED = 1616  # realistic-media training processes
VAL_MEDIA_SEED = 4343  # realistic-media validation processes
GRID = [round(0.1 * i, 1) for i in range(11)]


def _cached_rows(path: Path, build):  # type: ignore[no-untyped-def]
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    d = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)
    return d


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="default")
    ap.add_argument("--n-train", type=int, default=480)
    ap.add_argument("--n-val", type=int, default=80)
    ap.add_argument("--n-media", type=int, default=480, help="realistic-media training processes")
    ap.add_argument("--n-val-media", type=int, default=60, help="realistic-media validation processes")
    ap.add_argument("--ridge", type=float, default=1.0)
    ap.add_argument("--output", default="", help="where to write the readout (default: beside the weights)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.data.process.camera import photograph_all
    from artjudge.data.process.media import generate_media_dataset
    from artjudge.data.process.synthetic import PROCESS_KEYS, generate_dataset
    from artjudge.eval import metrics
    from artjudge.features.process_signals import order_summaries, process_signals
    from artjudge.io.files import sha256_file
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import default_weights_path, load_net
    from artjudge.models.process.model import logits_to_scores
    from artjudge.models.process.signals_readout import (
        ATTRIBUTES,
        STABILITY,
        blend_scores,
        fit_readout,
        readout_path,
    )
    from artjudge.train.process import ProcessTrainConfig, load_targets
    from artjudge.train.signals import (
        SignalRows,
        other_orders,
        photographed_stages,
        signal_rows,
        stage_order_rows,
    )

    t0 = time.time()
    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    net, blob = load_net(wpath)
    meta, tc = blob["meta"], ProcessTrainConfig()
    seed, n_train = int(meta["seed"]), min(args.n_train, int(meta["n_synthetic"]))
    agiqa = SHARED / "agiqa-3k"
    have = (agiqa / "data.csv").is_file()
    cache = Path(args.cache_dir)

    def train_rows() -> dict[str, np.ndarray]:
        targets = load_targets(agiqa if have else None, tc.n_targets, tc.size, seed)
        strokes = generate_dataset(n_train, seed, targets, n_frames=tc.n_frames, size=tc.size)
        media = generate_media_dataset(
            args.n_media, MEDIA_SEED, targets, n_frames=(3, 16), size=tc.size, camera="none"
        )
        rng = np.random.default_rng(MEDIA_SEED)
        for p in media:  # the whole process, photographed: on a tripod, page by page, or clean
            p.frames = photograph_all(p.frames, rng, ("fixed", "photo", "none")[int(rng.integers(3))])
        parts = [
            signal_rows(strokes),
            signal_rows(media),
            stage_order_rows(strokes, rng),
            stage_order_rows(media, rng),
        ]
        rows = SignalRows(np.concatenate([r.x for r in parts]), np.concatenate([r.labels for r in parts]))
        return {"x": rows.x, "labels": rows.labels}

    tr = _cached_rows(cache / f"signals-train-v2-{seed}-{n_train}-{args.n_media}-{int(have)}.npz", train_rows)
    labels = {k: tr["labels"][:, PROCESS_KEYS.index(k)] for k in ATTRIBUTES}
    readout = fit_readout(tr["x"], labels, ridge=args.ridge)
    print(f"readout fitted on {len(tr['x'])} training processes ({time.time() - t0:.0f} s)")

    # Validation: new seed, val-split targets; network outputs and signals, whole and as stages.
    encoder = PatchEncoder(resolution=int(meta["resolution"]), grid=net.cfg.grid)
    val_targets = load_targets(agiqa if have else None, 40, tc.size, 5, split="val")
    val = generate_dataset(args.n_val, VAL_SEED, val_targets, n_frames=tc.n_frames, size=tc.size)
    rng = np.random.default_rng(VAL_SEED)

    def network(frames_tokens: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = net(torch.from_numpy(frames_tokens))["logits"][:, -1]
        return logits_to_scores(out).numpy()

    net_val, sig_val, y_val, st_net, st_sig = [], [], [], [], []
    for p in val:
        toks = encoder.encode(p.frames)
        net_val.append(network(toks[None])[0])
        sig_val.append(process_signals(p.frames)[1][-1])
        y_val.append(p.labels)
        stages = photographed_stages(p, rng)
        stoks = encoder.encode(stages)
        orders = [list(range(len(stages))), *other_orders(len(stages), rng)]
        st_net.append(network(np.stack([stoks[o] for o in orders])))
        st_sig.append(order_summaries(stages, orders))
    # Realistic-media validation: clean, 3-4 photographed stages, every order of them.
    media_targets = load_targets(agiqa if have else None, 40, 256, 5, split="val")
    media_val = generate_media_dataset(
        args.n_val_media,
        VAL_MEDIA_SEED,
        media_targets,
        n_frames=(3, 4),
        size=256,
        camera="photo",
        fault_rate=0.0,
    )
    mv_net, mv_sig, mv_rev = [], [], []
    for p in media_val:
        k = len(p.frames)
        perms = [list(o) for o in itertools.permutations(range(k))]
        mtoks = encoder.encode(p.frames)
        mv_net.append(network(np.stack([mtoks[o] for o in perms])))
        mv_sig.append(order_summaries(p.frames, perms))
        mv_rev.append(perms.index(list(range(k))[::-1]))
    net_val_a, sig_val_a, y = np.stack(net_val), np.stack(sig_val), np.stack(y_val)
    blend, report = {}, {}
    for a in ATTRIBUTES:
        j = PROCESS_KEYS.index(a)
        best = None
        for w in GRID:
            pred = blend_scores(a, w, net_val_a[:, j], readout.predict(sig_val_a)[a])
            srcc = metrics.srcc(pred, y[:, j])
            srcc = 0.0 if not np.isfinite(srcc) else srcc
            wins = []
            for sn, ss in zip(st_net, st_sig, strict=True):
                s = blend_scores(a, w, sn[:, j], readout.predict(ss)[a])
                wins += list(s[0] > s[1:]) if a in STABILITY else [s[0] > s[1]]
            acc = float(np.mean(wins))
            mwins = []
            for sn, ss, r in zip(mv_net, mv_sig, mv_rev, strict=True):
                s = blend_scores(a, w, sn[:, j], readout.predict(ss)[a])
                mwins += list(s[0] > s[1:]) if a in STABILITY else [s[0] > s[r]]
            macc = float(np.mean(mwins))
            score = srcc + acc + macc
            if best is None or score > best[0] + 1e-9:
                best = (score, w, srcc, acc, macc)
        assert best is not None
        blend[a] = best[1]
        report[a] = {
            "network_share": best[1],
            "val_srcc": round(best[2], 4),
            "val_stage_order_acc": round(best[3], 4),
            "val_media_order_acc": round(best[4], 4),
        }
        print(
            f"{a:<24} network share {best[1]:.1f}  val SRCC {best[2]:.3f}  stage order acc {best[3]:.3f}"
            f"  media order acc {best[4]:.3f}"
        )
    readout.blend = blend
    readout.weights_sha256 = sha256_file(wpath)
    readout.meta = {
        "fit": {
            "n_train": int(len(tr["x"])),
            "n_stroke_processes": n_train,
            "n_media_processes": args.n_media,
            "stage_order_rows": "3-5 photographed stages of every process, true order + 1 other order",
            "seed": seed,
            "media_seed": MEDIA_SEED,
            "ridge": args.ridge,
            "targets": "AGIQA-3K train split + procedural" if have else "procedural",
        },
        "validation": {
            "n": args.n_val,
            "seed": VAL_SEED,
            "n_media": args.n_val_media,
            "media_seed": VAL_MEDIA_SEED,
            "targets": "AGIQA-3K val split" if have else "procedural",
            "per_attribute": report,
        },
        "command": " ".join(
            ["python scripts/fit_process_signals.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "seconds": round(time.time() - t0, 1),
    }
    readout.__post_init__()
    out = Path(args.output) if args.output else readout_path(wpath)
    readout.save(out)
    print(f"wrote {out} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
