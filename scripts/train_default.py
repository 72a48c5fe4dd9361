"""Reproduce the shipped default scorer from AGIQA-3K with one command.

    python scripts/train_default.py            # writes src/artjudge/weights/default/

Reads ../shared/data/agiqa-3k (or --data), splits by prompt (test 0.2, val 0.1, seed 0),
encodes every image once through the same pipeline ``artjudge assess`` uses (cached by
content hash, so a rerun skips the encoding), trains the ensemble head and writes the
checkpoint with its SHA-256 and model card.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from artjudge.data import read_dataset
from artjudge.train.head import HeadTrainConfig, train_head

REPO = Path(__file__).resolve().parents[1]

# The shipped recipe is HeadTrainConfig's defaults, so `artjudge train` on AGIQA-3K and
# benchmarks/train_eval_agiqa.py reproduce the same model.
DEFAULT_CONFIG = HeadTrainConfig()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "agiqa-3k")
    ap.add_argument("--out", type=Path, default=REPO / "src" / "artjudge" / "weights" / "default")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="feature cache (default ~/.cache/artjudge/features or $ARTJUDGE_CACHE_DIR)",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set epochs=6 --set head.hidden=512",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = DEFAULT_CONFIG.to_dict()
    for item in args.set:
        key, value = item.split("=", 1)
        target = cfg
        *parents, leaf = key.split(".")
        for part in parents:
            target = target[part]
        target[leaf] = json.loads(value) if value[:1] in "[{0123456789-tf" else value
    config = HeadTrainConfig.from_dict(cfg)
    manifest = read_dataset("agiqa-3k", args.data)
    t0 = time.time()
    card = train_head(
        manifest,
        config,
        args.out,
        model_id="artjudge-embedded-agiqa",
        cache_dir=args.cache_dir,
        flip_augment=False,
    ).card
    print(json.dumps(card["metrics"], indent=2))
    print(f"wrote {args.out} in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
