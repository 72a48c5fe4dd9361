"""How much the prompt can add to consistency: ridge probes with and without the grounding
features, 5-fold cross-validation grouped by prompt over the AGIQA-3K train+val splits
(the test split is not touched).

    python benchmarks/grounding_probe.py [--no-224]

Features: pooled 128 px patch tokens (what the process judge sees), ImageNet logits and the
12 grounding features against the prompt, with the logits from the 128 px tokens (what the
judge uses) and from a 224 px view of the image. Ridge alpha by inner CV. Writes
benchmarks/results/grounding_probe.json.
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


def logits_224(paths: list[Path], batch: int = 32) -> np.ndarray:
    """ImageNet logits of each image seen whole at 224 px (the still-image scorer's preprocessing)."""
    from PIL import Image

    from artjudge.features.encoder import load_backbone, preprocess

    net = load_backbone()
    out = []
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            ims = []
            for p in paths[i : i + batch]:
                with Image.open(p) as im:
                    ims.append(im.convert("RGB"))
            out.append(net(preprocess(ims, 224)).numpy())
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-224", action="store_true", help="skip the 224 px view")
    ap.add_argument("--cache-dir", default=str(ROOT / ".cache" / "process"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from scipy.stats import spearmanr
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import GroupKFold

    from artjudge.data.process.agiqa_align import load_align_pairs
    from artjudge.io.files import atomic_write_text
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.grounding import ConceptGrounder
    from artjudge.train.process import agiqa_bundle, concept_embeddings

    t0 = time.time()
    root = SHARED / "agiqa-3k"
    pairs = load_align_pairs(root)
    encoder = PatchEncoder(resolution=128, grid=4)
    bundle, splits = agiqa_bundle(encoder, root, Path(args.cache_dir))
    grounder = ConceptGrounder()
    grounder.set_concepts(torch.from_numpy(concept_embeddings(Path(args.cache_dir))))
    relevance = grounder.relevance_from_text(torch.from_numpy(bundle.text))
    pooled = bundle.frames[:, 0].mean(axis=1)
    views = {"128": encoder.class_logits(bundle.frames[:, 0])}
    if not args.no_224:
        views["224"] = logits_224([p.path for p in pairs])
    y = bundle.labels[:, 0]
    groups = np.array([p.prompt for p in pairs])
    pool = np.nonzero(np.array(splits) != "test")[0]

    def cv(x: np.ndarray) -> list[float]:
        scores = []
        for a, b in GroupKFold(5).split(pool, groups=groups[pool]):
            a, b = pool[a], pool[b]
            mu, sd = x[a].mean(axis=0), x[a].std(axis=0) + 1e-6
            m = RidgeCV(alphas=np.logspace(-1, 5, 13)).fit((x[a] - mu) / sd, y[a])
            scores.append(float(spearmanr(m.predict((x[b] - mu) / sd), y[b])[0]))
        return scores

    rows = {"tokens": cv(pooled)}
    for view, logits in views.items():
        z = grounder.raw_features(torch.from_numpy(logits).unsqueeze(1), relevance)[:, 0].numpy()
        rows[f"tokens + logits {view}"] = cv(np.hstack([pooled, logits]))
        rows[f"tokens + grounding {view}"] = cv(np.hstack([pooled, z]))
        rows[f"tokens + logits + grounding {view}"] = cv(np.hstack([pooled, logits, z]))
    print(f"\nAGIQA-3K mos_align, ridge, 5-fold CV by prompt over train+val (n={len(pool)})")
    print(f"{'features':<36}{'mean SRCC':>10}   folds")
    for name, r in rows.items():
        print(f"{name:<36}{np.mean(r):>10.4f}   {' '.join(f'{v:.3f}' for v in r)}")
    result = {
        "command": "python benchmarks/grounding_probe.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "n": int(len(pool)),
        "folds": rows,
        "mean": {k: float(np.mean(v)) for k, v in rows.items()},
        "seconds": round(time.time() - t0, 1),
    }
    atomic_write_text(RESULTS / "grounding_probe.json", json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
