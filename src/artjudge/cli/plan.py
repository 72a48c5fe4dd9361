"""``artjudge plan-labels``: which ungraded works to grade next, within a budget.

Thin: read the pool, ask the model for features and uncertainty, call
``artjudge.train.plan.plan_labels``, write the plan CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from artjudge.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plan-labels",
        help="rank ungraded works by the value of grading them next",
        description="Rank the works of POOL (a folder of images, or a CSV with a path column and optional "
        "item column) by how much a human grade on them would teach the model: its uncertainty "
        "and how far each work lies from everything already graded (greedy k-center on the "
        "model's frozen features, weighted by the predicted std). --strategy random gives the "
        "baseline order.",
    )
    p.add_argument("pool", help="folder of images, or CSV with column path (and optional item)")
    p.add_argument("--model", default="default", help="model folder (a rubric model knows what was graded)")
    p.add_argument("--budget", type=int, required=True, help="how many works to plan")
    p.add_argument("--strategy", choices=("planned", "random"), default="planned")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--out", required=True, help="plan CSV: rank,item,path,score,std,distance,weight")
    p.set_defaults(func=cmd_plan_labels)


def read_pool(pool: str) -> tuple[list[str], list[str]]:
    """(item ids, image paths) of a pool folder or CSV."""
    import pandas as pd

    src = Path(pool)
    if src.is_dir():
        paths = sorted(str(f) for f in src.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not paths:
            raise InputError(pool, "no images in this folder (looked for " + ", ".join(IMAGE_SUFFIXES) + ")")
        return [str(Path(p).relative_to(src)) for p in paths], paths
    if not src.is_file():
        raise InputError(pool, "pool not found (give a folder of images or a CSV with a path column)")
    df = pd.read_csv(src, dtype=str)
    if "path" not in df.columns:
        raise InputError(pool, f"no path column (found: {', '.join(map(str, df.columns))})")
    paths = [str((src.parent / p) if not Path(p).is_absolute() else Path(p)) for p in df["path"].str.strip()]
    items = (
        df["item"].astype(str).str.strip().tolist()
        if "item" in df.columns
        else df["path"].str.strip().tolist()
    )
    if len(set(items)) != len(items):
        raise InputError(pool, "duplicate items in the pool")
    return items, paths


def _graded_features(model: str) -> Any:
    """Standardised features of the works the model was trained on (rubric models only)."""
    import numpy as np

    folder = Path(model)
    rubric = folder / "rubric.json"
    if not rubric.is_file():
        return None
    import json

    name = json.loads(rubric.read_text(encoding="utf-8")).get("exemplar_features", "exemplars.npy")
    path = folder / name
    return np.load(path) if path.is_file() else None


def cmd_plan_labels(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    import artjudge
    from artjudge.io.files import atomic_write_text
    from artjudge.record import Assessment
    from artjudge.train.plan import plan_labels

    items, paths = read_pool(args.pool)
    scorer = artjudge.load(args.model, cache=True)
    embed = getattr(scorer, "embed", None)
    if embed is None:
        raise InputError(args.model, "plan-labels needs an embedded model (with frozen features)")
    records = scorer.assess_many(paths, batch_size=args.batch_size, skip_errors=True)
    ok = [i for i, r in enumerate(records) if isinstance(r, Assessment)]
    if not ok:
        raise InputError(args.pool, "none of the pool's images could be read")
    recs = [r for r in records if isinstance(r, Assessment)]
    feats = embed([paths[i] for i in ok], batch_size=args.batch_size)
    # uncertainty: the mean std over the model's targets (overall and every rubric attribute)
    stds = np.array([np.mean([r.overall.std, *[a.std for a in r.attributes.values()]]) for r in recs])
    plan = plan_labels(
        feats,
        args.budget,
        stds=stds,
        graded=_graded_features(args.model),
        strategy=args.strategy,
        seed=args.seed,
    )
    rows = [
        {
            "rank": k + 1,
            "item": items[ok[i]],
            "path": paths[ok[i]],
            "score": round(recs[i].overall.score, 2),
            "std": round(float(stds[i]), 3),
            "distance": round(float(plan.distance[k]), 3),
            "weight": round(float(plan.weight[k]), 3),
        }
        for k, i in enumerate(plan.order)
    ]
    atomic_write_text(args.out, pd.DataFrame(rows).to_csv(index=False))
    skipped = len(paths) - len(ok)
    print(
        f"planned {len(rows)} of {len(ok)} pool works ({args.strategy}); wrote {args.out}"
        + (f"; {skipped} unreadable image(s) left out" if skipped else "")
    )
    return 0
