"""Frozen per-image inputs of the consistency component for all of AGIQA-3K, cached once.

    nice -n 10 python benchmarks/consistency_features.py

Writes ``.cache/consistency/agiqa_inputs.npz``: the shipped default's overall score (the
quality score), the pooled Lite0 features at the shipped 384 px (the classifier's logits and
the style classifier read them) and a 64 px RGB thumbnail (colour and layout evidence), in
``data.csv`` order, with the split. The scorer's feature cache makes a rerun cheap.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED_DATA  # noqa: E402

OUT = ROOT / ".cache" / "consistency" / "agiqa_inputs.npz"
THUMB = 64


def build(out: Path = OUT, batch_size: int = 32) -> Path:
    import torch

    import artjudge
    from artjudge.data import read_dataset

    torch.set_num_threads(1)
    import pandas as pd

    df = read_dataset("agiqa-3k", SHARED_DATA / "agiqa-3k").frame.reset_index(drop=True)
    raw = pd.read_csv(SHARED_DATA / "agiqa-3k" / "data.csv").set_index("name")
    names = df["path"].map(lambda p: Path(str(p)).name)
    df["style"] = names.map(raw["style"]).to_numpy()
    df["mos_align"] = names.map(raw["mos_align"]).to_numpy()
    df["mos_quality"] = names.map(raw["mos_quality"]).to_numpy()
    scorer = artjudge.load("default", cache=True)
    quality, pooled, thumbs = [], [], []
    t0 = time.time()
    paths = df["path"].astype(str).tolist()
    for start in range(0, len(paths), batch_size):
        loaded = [scorer.load_input(p) for p in paths[start : start + batch_size]]  # type: ignore[attr-defined]
        feats = scorer.extractor.encode([li.image for li in loaded], [li.sha256 for li in loaded])  # type: ignore[attr-defined]
        recs = scorer._records(loaded, feats, {})  # type: ignore[attr-defined]
        quality += [r.overall.score for r in recs]
        pooled.append(feats.pooled.astype(np.float32))
        from artjudge.features.colour import thumbnail

        thumbs += [thumbnail(li.image, THUMB) for li in loaded]
        print(f"{start + len(loaded)}/{len(paths)} {time.time() - t0:.0f}s", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        quality=np.array(quality, np.float32),
        pooled=np.concatenate(pooled),
        thumbs=np.stack(thumbs),
        name=df["path"].map(lambda p: Path(str(p)).name).to_numpy(str),
        prompt=df["prompt"].astype(str).to_numpy(str),
        split=df["split"].astype(str).to_numpy(str),
        style=df["style"].fillna("").astype(str).to_numpy(str),
        mos_align=df["mos_align"].to_numpy(np.float32),
        mos_quality=df["mos_quality"].to_numpy(np.float32),
    )
    return out


if __name__ == "__main__":
    print(build())
