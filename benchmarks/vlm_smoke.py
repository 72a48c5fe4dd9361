"""VLM smoke benchmark on CPU: scoring throughput, training speed and loss curves, tiny model.

    python benchmarks/vlm_smoke.py [--family qwen2_5_vl] [--images 64] [--steps 30] [--threads 2]

On 64 AGIQA-3K images (../shared/data/agiqa-3k) with a tiny, randomly initialised VLM of
the chosen family built on the fly (tests/vlm_fixtures.py: hidden 32, 2 layers, 448 px
input, so the image-token count is the real models'), measures:

* scoring images/second of ``VLMScorer.assess_many`` with batched forward passes
  (batch 8) against the baseline of one image per forward pass, in the same run;
* training optimizer steps/second for each stage of both recipes (ArtiMuse: text, score;
  ArtQuant: mat, sot) and each stage's loss curve (benchmarks/results/vlm_smoke_loss.png).

AGIQA-3K has no written analyses: the text stages train on a stand-in description made
from the image's prompt and style, and the score stages on ``mos_quality`` mapped to 0-100
(std likewise) with ``mos_align`` as one attribute. This measures the machinery, not
accuracy: a model this small learns nothing about art. Writes
benchmarks/results/vlm_smoke.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT.parent / "shared" / "data" / "agiqa-3k"
sys.path.insert(0, str(ROOT / "tests"))


def _manifest(n: int, folder: Path) -> Path:
    df = pd.read_csv(DATA / "data.csv").sample(n=n, random_state=0)
    path = folder / "agiqa64.jsonl"
    with path.open("w") as f:
        for r in df.itertuples():
            style = r.style if isinstance(r.style, str) and r.style else "plain"
            f.write(
                json.dumps(
                    {
                        "path": str(DATA / "images" / r.name),
                        "score": float(np.clip(r.mos_quality / 5 * 100, 0, 100)),
                        "std": float(r.std_quality / 5 * 100),
                        "attr.alignment": float(np.clip(r.mos_align / 5 * 100, 0, 100)),
                        "text": f"An image of {r.prompt}, in a {style} style.",
                    }
                )
                + "\n"
            )
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--family", default="qwen2_5_vl")
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps per stage")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resolution", type=int, default=448)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not (DATA / "data.csv").is_file():
        print(f"AGIQA-3K not found at {DATA}", file=sys.stderr)
        return 2

    from artjudge.models.vlm import load_vlm_scorer
    from artjudge.train.vlm import VLMTrainConfig, train_vlm
    from artjudge.train.vlm_data import load_rows
    from vlm_fixtures import build_tiny_vlm

    work = Path(tempfile.mkdtemp(prefix="vlm-smoke-"))
    try:
        base = build_tiny_vlm(args.family, work / "base", image_size=args.resolution)
        manifest = _manifest(args.images, work)
        paths = [r.path for r in load_rows(manifest, split=None)]

        scorer = load_vlm_scorer(str(base), batch_size=8)
        scorer.assess_many(paths[:2])  # warm up
        scoring = {}
        for label, bs in (("one image per pass (baseline)", 1), ("batched, 8 per pass", 8)):
            t = time.perf_counter()
            recs = scorer.assess_many(paths, batch_size=bs)
            dt = time.perf_counter() - t
            scoring[label] = {"batch_size": bs, "seconds": dt, "images_per_s": len(recs) / dt}

        stages: dict[str, dict] = {}
        for recipe in ("artimuse", "artquant"):
            out = work / recipe
            summary = train_vlm(
                VLMTrainConfig(
                    base=str(base),
                    manifest=str(manifest),
                    out=str(out),
                    recipe=recipe,
                    split=None,
                    max_steps=args.steps,
                    batch_size=args.batch_size,
                    lr=args.lr,
                    resolution=args.resolution,
                    save_every=0,
                    progress=False,
                    ranks=[8, 16],
                )
            )
            for st in summary["stages"]:
                losses = [v for _, v in st["history"]]
                k = max(1, len(losses) // 5)
                stages[f"{recipe}/{st['stage']}"] = {
                    "rank": st["rank"],
                    "steps": st["steps"],
                    "seconds": st["seconds"],
                    "steps_per_s": st["steps"] / st["seconds"],
                    "loss_first5": float(np.mean(losses[:k])),
                    "loss_last5": float(np.mean(losses[-k:])),
                    "falls": bool(np.mean(losses[-k:]) < np.mean(losses[:k])),
                    "curve": losses,
                }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, len(stages), figsize=(3.2 * len(stages), 3), squeeze=False)
    for ax, (name, st) in zip(axes[0], stages.items(), strict=True):
        ax.plot(range(1, len(st["curve"]) + 1), st["curve"])
        ax.set_title(f"{name} (r={st['rank']})", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
    fig.suptitle(f"tiny {args.family}, {args.images} AGIQA-3K images, batch {args.batch_size}", fontsize=9)
    fig.tight_layout()
    png = RESULTS / "vlm_smoke_loss.png"
    fig.savefig(png, dpi=110)

    print(
        f"\nScoring, {args.images} images, tiny {args.family} at {args.resolution} px, {args.threads} threads"
    )
    print(f"{'mode':34s} {'img/s':>8s} {'seconds':>8s}")
    for label, r in scoring.items():
        print(f"{label:34s} {r['images_per_s']:8.2f} {r['seconds']:8.2f}")
    base_ips = scoring["one image per pass (baseline)"]["images_per_s"]
    print(f"speed-up of batching: {scoring['batched, 8 per pass']['images_per_s'] / base_ips:.2f}x")
    print(f"\nTraining, batch {args.batch_size} rows, {args.steps} steps per stage")
    print(f"{'stage':18s} {'rank':>5s} {'steps/s':>8s} {'loss first':>11s} {'loss last':>10s} falls")
    for name, st in stages.items():
        print(
            f"{name:18s} {st['rank']:5d} {st['steps_per_s']:8.3f} {st['loss_first5']:11.4f} "
            f"{st['loss_last5']:10.4f} {st['falls']}"
        )
    print(f"loss curves: {png}")
    out = {
        "family": args.family,
        "images": args.images,
        "resolution": args.resolution,
        "threads": args.threads,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "scoring": scoring,
        "training": stages,
        "command": "python benchmarks/vlm_smoke.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    path = RESULTS / "vlm_smoke.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1))
    tmp.replace(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
