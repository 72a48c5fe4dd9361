"""``artjudge plan-labels``: which ungraded works to grade next, within a budget.

Thin: read the pool, ask the model for features and uncertainty, call
``artjudge.train.plan.plan_labels``, write the plan CSV.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from artjudge.errors import InputError

PLAN_COLUMNS = ("rank", "item", "path", "score", "std", "distance", "weight")
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
    p.add_argument(
        "--force", action="store_true", help="replace an existing --out file (never the pool itself)"
    )
    p.set_defaults(func=cmd_plan_labels)


def read_pool(pool: str) -> tuple[list[str], list[str]]:
    """(item ids, image paths) of a pool folder or CSV; one :class:`InputError` line for a bad pool."""
    src = Path(pool)
    if src.is_dir():
        paths = sorted(str(f) for f in src.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not paths:
            raise InputError(pool, "no images in this folder (looked for " + ", ".join(IMAGE_SUFFIXES) + ")")
        return [str(Path(p).relative_to(src)) for p in paths], paths
    if not src.is_file():
        raise InputError(pool, "pool not found (give a folder of images or a CSV with a path column)")
    rows = _pool_rows(pool)
    paths, items = [], []
    for n, row in enumerate(rows, start=2):  # line numbers as an editor shows them (header is 1)
        path = (row.get("path") or "").strip()
        if not path:
            raise InputError(pool, f"line {n}: the path is empty")
        paths.append(str(src.parent / path) if not Path(path).is_absolute() else path)
        items.append((row.get("item") or "").strip() or path if "item" in row else path)
    if not paths:
        raise InputError(pool, "the pool CSV has a header but no rows")
    if len(set(items)) != len(items):
        raise InputError(pool, "duplicate items in the pool")
    return items, paths


def _pool_rows(pool: str) -> list[dict[str, str | None]]:
    """The pool CSV's rows as dicts; every way a CSV can be malformed becomes one line naming it."""
    import csv

    try:
        with open(pool, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in reader.fieldnames or []]
            if "path" not in columns:
                found = ", ".join(c for c in columns if c) or "none"
                raise InputError(
                    pool, f"no path column (found: {found}); give a CSV with a header row path[,item]"
                )
            reader.fieldnames = columns
            return [{k: v for k, v in row.items() if isinstance(k, str)} for row in reader]
    except UnicodeDecodeError:
        raise InputError(pool, "not a UTF-8 text CSV") from None
    except csv.Error as err:
        raise InputError(pool, f"not a readable CSV ({err})") from None
    except OSError as err:
        raise InputError(pool, f"cannot read the pool ({err.strerror or err})") from None


def _graded_features(model: str) -> Any:
    """Standardised features of the works the model was trained on (rubric models only)."""
    import json

    from artjudge.io.npy import load_npy

    folder = Path(model)
    rubric = folder / "rubric.json"
    if not rubric.is_file():
        return None
    try:
        name = json.loads(rubric.read_text(encoding="utf-8")).get("exemplar_features", "exemplars.npy")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as err:
        raise InputError(str(rubric), f"not a readable rubric ({type(err).__name__})") from None
    path = folder / str(name)
    return load_npy(path) if path.is_file() else None


def cmd_plan_labels(args: argparse.Namespace) -> int:
    import numpy as np

    import artjudge
    from artjudge.io.csv_cells import csv_cell
    from artjudge.io.files import atomic_write_text, refuse_overwrite
    from artjudge.record import Assessment
    from artjudge.train.plan import plan_labels

    # before any work: an existing --out only with --force, and never the pool it reads
    refuse_overwrite(args.out, [args.pool], force=args.force, option="--out")
    if args.budget < 1:
        raise InputError("--budget", f"{args.budget}: plan at least 1 work")
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
            "item": csv_cell(items[ok[i]]),  # a name like =HYPERLINK(..) must not run in a spreadsheet
            "path": csv_cell(paths[ok[i]]),
            "score": round(recs[i].overall.score, 2),
            "std": round(float(stds[i]), 3),
            "distance": round(float(plan.distance[k]), 3),
            "weight": round(float(plan.weight[k]), 3),
        }
        for k, i in enumerate(plan.order)
    ]
    atomic_write_text(args.out, _plan_csv(rows))
    skipped = len(paths) - len(ok)
    print(
        f"planned {len(rows)} of {len(ok)} pool works ({args.strategy}); wrote {args.out}"
        + (f"; {skipped} unreadable image(s) left out" if skipped else "")
    )
    return 0


def _plan_csv(rows: list[dict[str, Any]]) -> str:
    """The plan as CSV text (the header even for an empty plan)."""
    import csv
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(PLAN_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()
