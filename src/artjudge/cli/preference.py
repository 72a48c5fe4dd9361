"""``artjudge fuse``, ``artjudge plan-pairs`` and ``artjudge distill``: people's judgments in, scores out."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from artjudge.io.files import atomic_write_json, refuse_overwrite


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "fuse",
        help="fuse pairwise judgments (and ratings) into scores with intervals + a reliability report",
        description="Fuse judgments.csv (annotator,item_a,item_b,winner[,dimension,confidence,timestamp]) "
        "and optional ratings.csv (annotator,item,score[,dimension]). See docs/preference.md.",
    )
    p.add_argument("judgments", help="judgments CSV")
    p.add_argument("--ratings", help="ratings CSV (anchors the absolute level)")
    p.add_argument("--method", choices=["bt", "thurstone", "elo", "all"], default="bt")
    p.add_argument(
        "--scale",
        nargs=2,
        type=float,
        metavar=("LO", "HI"),
        default=None,
        help="rating scale; ratings outside it are refused (default: 0 100 when --ratings is given)",
    )
    p.add_argument(
        "--components",
        choices=["refuse", "separate"],
        default="refuse",
        help="a disconnected comparison graph: refuse (default) or score each component separately",
    )
    p.add_argument(
        "--group-column", help="column (in both files) splitting annotators into groups fused separately"
    )
    p.add_argument("--items", help="items CSV (column item): refuse unknown ids, report never-compared items")
    p.add_argument("--out", help="write fused scores to this CSV")
    p.add_argument("--report", help="write the reliability report (and split-half agreement) as JSON")
    p.add_argument("--top", type=int, default=30, help="rows shown per table (all go to --out)")
    p.add_argument("--no-reliability", action="store_true", help="skip the reliability report")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="replace an existing --out / --report file")
    p.set_defaults(func=cmd_fuse)

    q = subparsers.add_parser("plan-pairs", help="plan which pairs to compare, within a budget")
    q.add_argument("items", help="items CSV: column item, optional prior score")
    q.add_argument("--design", choices=["dense", "random", "round-robin", "active"], default="dense")
    q.add_argument("--budget", type=int, required=True, help="number of comparisons")
    q.add_argument("--annotators", default="1", help="a count, or comma-separated names")
    q.add_argument(
        "--long-range", type=float, default=0.2, help="dense/active: share of random long-range pairs"
    )
    q.add_argument("--judgments", help="judgments so far (required for --design active)")
    q.add_argument("--seed", type=int, default=0)
    q.add_argument(
        "--model",
        help="score the items (items CSV needs a path column) with this model and start "
        "from its scores: dense pairs of close scores first",
    )
    q.add_argument("--attribute", help="with --model: order by this attribute's score instead of overall")
    q.add_argument("--out", required=True, help="plan CSV (pair_id,annotator,item_a,item_b)")
    q.add_argument("--force", action="store_true", help="replace an existing --out (never an input)")
    q.set_defaults(func=cmd_plan_pairs)

    d = subparsers.add_parser(
        "distill", help="PSDistill: train a fast student scorer from a judge's pairwise calls"
    )
    d.add_argument(
        "--judge", required=True, help="table:calls.csv | scorer:default | scorer:FOLDER | vlm:PATH"
    )
    d.add_argument("--pool", required=True, help="reference pool CSV: item, elo[, score][, path]")
    d.add_argument("--items", required=True, help="new items CSV: item[, path]")
    d.add_argument(
        "--features",
        help="features CSV: item, then one numeric column per feature (else the default "
        "scorer's embed() of the path column; only then can the student score images: student:OUT)",
    )
    d.add_argument("--anchors", type=int, default=8, help="pool anchors per new item")
    d.add_argument("--epochs", type=int, default=150)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--out",
        required=True,
        help="student weights (.pt, with .pt.sha256); pseudo-scores go next to it (.pseudo.csv)",
    )
    d.add_argument("--force", action="store_true", help="replace an existing --out (never an input)")
    d.set_defaults(func=cmd_distill)


# --------------------------------------------------------------------------- fuse


def _fmt(x: float, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _read_fuse_inputs(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """The judgments (their read warnings shown), the ratings and their scale, checked against --items."""
    import warnings

    from artjudge.errors import InputError
    from artjudge.preference.formats import check_known_items, read_items, read_judgments, read_ratings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        judgments = read_judgments(args.judgments)
    for w in caught:
        print(f"artjudge: warning: {w.message}", file=sys.stderr)
    scale = tuple(args.scale) if args.scale else ((0.0, 100.0) if args.ratings else None)
    ratings = read_ratings(args.ratings, scale) if args.ratings else None
    if args.items:
        items = read_items(args.items)
        known = items["item"].tolist()
        check_known_items(judgments, known, args.judgments, ("item_a", "item_b"))
        if ratings is not None:
            check_known_items(ratings, known, args.ratings, ("item",))
        never = sorted(set(known) - set(judgments["item_a"]) - set(judgments["item_b"]))
        if never:
            shown = ", ".join(never[:5]) + (f" (+{len(never) - 5} more)" if len(never) > 5 else "")
            raise InputError(args.items, f"{len(never)} item(s) never compared: {shown}")
    return judgments, ratings, scale


def _print_fused(fused: Any, args: argparse.Namespace) -> None:
    """One table per (method, dimension, group): the top ``--top`` items with their intervals."""
    import pandas as pd

    from artjudge.cli.tables import PlainTable, print_table

    for (method, dim, group), part in fused.groupby(["method", "dimension", "group"], sort=False):
        title = f"{method} · {dim}" + (f" · {group}" if args.group_column else "")
        columns = ("item", "fused", "95% interval", "latent", "rating mean", "n ratings", "n cmp")
        t = PlainTable(
            f"fused scores: {title} ({len(part)} items, 95% intervals)", columns, right=frozenset(columns[1:])
        )
        for r in part.head(args.top).itertuples(index=False):
            rm = getattr(r, "rating_mean", float("nan"))
            nr = getattr(r, "n_ratings", float("nan"))
            t.add_row(
                str(r.item),
                _fmt(r.fused),
                f"[{_fmt(r.lower)}, {_fmt(r.upper)}]",
                _fmt(r.latent, 3),
                _fmt(rm),
                "-" if pd.isna(nr) else str(int(nr)),
                str(int(r.n_comparisons)),
            )
        if len(part) > args.top:
            t.caption = f"{len(part) - args.top} more rows in --out"
        print_table(t)


def _fuse_reliability(
    judgments: Any, ratings: Any, methods: list[str], scale: tuple[float, float] | None, seed: int
) -> dict[str, Any]:
    """Per dimension: the reliability report and split-half agreement of the first method, printed too."""
    from artjudge.preference.fusion import split_half_constructions
    from artjudge.preference.reliability import reliability_report

    out: dict[str, Any] = {}
    for dim in sorted(judgments["dimension"].unique()):
        j = judgments[judgments["dimension"] == dim]
        r = ratings[ratings["dimension"] == dim] if ratings is not None else None
        rep = reliability_report(j, r, seed=seed)
        entry: dict[str, Any] = rep.to_dict()
        try:
            agree = split_half_constructions(j, r, methods[0], seed=seed, scale=scale)
            entry["split_half_constructions"] = agree.__dict__
        except Exception as err:  # too few annotators or items for two halves: say so
            entry["split_half_constructions"] = {"error": str(err)}
        out[dim] = entry
        _print_reliability(dim, rep, entry["split_half_constructions"])
    return out


def cmd_fuse(args: argparse.Namespace) -> int:
    inputs = (args.judgments, args.ratings, args.items)
    refuse_overwrite(args.out, inputs, force=args.force, option="--out")
    refuse_overwrite(args.report, inputs, force=args.force, option="--report")

    import pandas as pd

    from artjudge.preference.formats import write_csv
    from artjudge.preference.fusion import RatingFusion

    judgments, ratings, scale = _read_fuse_inputs(args)
    methods = ["bt", "thurstone", "elo"] if args.method == "all" else [args.method]
    frames = []
    notes: list[str] = []
    for method in methods:
        fusion = RatingFusion(method, scale, components=args.components, group_column=args.group_column).fit(
            judgments, ratings
        )
        f = fusion.result_.frame.copy()
        f.insert(0, "method", method)
        frames.append(f)
        notes += [f"{method}: {n}" for n in fusion.result_.notes]
    fused = pd.concat(frames, ignore_index=True)
    fused = fused.sort_values(["method", "dimension", "group", "fused"], ascending=[True, True, True, False])
    _print_fused(fused, args)
    report_json: dict[str, Any] = {"methods": methods, "dimensions": {}}
    if not args.no_reliability:
        report_json["dimensions"] = _fuse_reliability(judgments, ratings, methods, scale, args.seed)
    for n in notes:
        print(f"note: {n}")
    if args.out:
        write_csv(fused, args.out)
        print(f"wrote {len(fused)} rows to {args.out}")
    if args.report:
        atomic_write_json(args.report, report_json, ensure_ascii=True, default=_json_default)
        print(f"wrote the reliability report to {args.report}")
    return 0


def _print_reliability(dim: str, rep: Any, agree: dict[str, Any]) -> None:
    from artjudge.cli.tables import PlainTable, print_table

    t = PlainTable(
        f"reliability: {dim} ({rep.n_annotators} annotators, {rep.n_items} items)",
        ("statistic", "value"),
        right=frozenset({"value"}),
    )
    rows = [
        ("Krippendorff alpha (interval)", _fmt(rep.krippendorff_alpha_interval, 3)),
        ("Krippendorff alpha (ordinal)", _fmt(rep.krippendorff_alpha_ordinal, 3)),
        (
            f"ICC(2,1) / ICC(2,k) on {rep.icc_items} complete items",
            f"{_fmt(rep.icc_2_1, 3)} / {_fmt(rep.icc_2_k, 3)}",
        ),
        ("Kendall's W", _fmt(rep.kendall_w, 3)),
        (
            "split-half r -> Spearman-Brown",
            f"{_fmt(rep.split_half_r, 3)} -> {_fmt(rep.split_half_spearman_brown, 3)}",
        ),
        (
            "intransitive triads",
            f"{rep.intransitive_triads} / {rep.compared_triads} ({_fmt(100 * rep.intransitive_rate, 1)}%)",
        ),
    ]
    if "srcc" in agree:
        rows.append(
            (
                "two independent constructions: SRCC / ICC(2,1)",
                f"{_fmt(agree['srcc'], 3)} / {_fmt(agree['icc_2_1'], 3)}",
            )
        )
    else:
        rows.append(("two independent constructions", str(agree.get("error", "-"))))
    for k, v in rows:
        t.add_row(k, v)
    print_table(t)
    flagged = [a for a in rep.annotators if a.flagged]
    if flagged:
        ft = PlainTable("flagged annotators (disagree with the others)", ("annotator", "reason"))
        for a in flagged:
            ft.add_row(a.annotator, a.reason)
        print_table(ft)
    for n in rep.notes:
        print(f"note: {n}")


def _json_default(o: Any) -> Any:
    """What json cannot encode (numpy scalars, paths) as text."""
    return None if isinstance(o, float) and math.isnan(o) else str(o)


# --------------------------------------------------------------------------- plan-pairs


def cmd_plan_pairs(args: argparse.Namespace) -> int:
    from artjudge.errors import InputError
    from artjudge.preference.design import PairDesigner, active_plan
    from artjudge.preference.formats import check_known_items, read_items, read_judgments, write_csv

    refuse_overwrite(args.out, (args.items, args.judgments), force=args.force, option="--out")
    items = read_items(args.items)
    ann: int | list[str]
    ann = (
        int(args.annotators)
        if args.annotators.strip().isdigit()
        else [a.strip() for a in args.annotators.split(",") if a.strip()]
    )
    ids = items["item"].tolist()
    if args.design == "active":
        if not args.judgments:
            raise InputError("--design active", "needs --judgments (the judgments collected so far)")
        judgments = read_judgments(args.judgments)
        check_known_items(judgments, ids, args.judgments, ("item_a", "item_b"))
        plan = active_plan(ids, judgments, args.budget, ann, long_range=args.long_range, seed=args.seed)
    else:
        scores = items["score"].to_numpy() if "score" in items.columns else None
        if args.model:
            scores = _model_scores(args, items)
        plan = PairDesigner(args.design, args.budget, ann, args.long_range, args.seed).plan(ids, scores)
    write_csv(plan, args.out)
    repeats = int(plan.attrs.get("repeats", 0))
    if repeats:
        print(
            f"note: {repeats} comparison(s) give an annotator a pair they already have: the budget is over "
            "the distinct pairs each can get; add items or annotators, or lower --budget",
            file=sys.stderr,
        )
    per = plan["annotator"].value_counts()
    counts = plan["item_a"].value_counts().add(plan["item_b"].value_counts(), fill_value=0)
    print(
        f"planned {len(plan)} comparisons ({args.design}) over {len(ids)} items for {len(per)} annotator(s): "
        f"{per.min()}-{per.max()} each; {int(counts.min())}-{int(counts.max())} per item; wrote {args.out}"
    )
    return 0


def _model_scores(args: argparse.Namespace, items: Any) -> Any:
    """Prior scores for the pair design from a model (overall, or ``--attribute``)."""
    from pathlib import Path

    import numpy as np

    import artjudge
    from artjudge.errors import InputError
    from artjudge.record import Assessment

    if "path" not in items.columns:
        raise InputError(args.items, "--model needs a path column in the items CSV")
    base = Path(args.items).parent
    paths = [str(p if Path(p).is_absolute() else base / p) for p in items["path"].astype(str).str.strip()]
    records = artjudge.load(args.model).assess_many(paths, skip_errors=True)
    out = np.full(len(paths), np.nan)
    for i, r in enumerate(records):
        if not isinstance(r, Assessment):
            continue
        if args.attribute:
            if args.attribute not in r.attributes:
                raise InputError(
                    args.model,
                    f"--attribute {args.attribute!r}: the model scores "
                    f"{', '.join(r.attributes) or 'no attributes'}",
                )
            out[i] = r.attributes[args.attribute].score
        else:
            out[i] = r.overall.score
    if np.isnan(out).all():
        raise InputError(args.items, "none of the items' images could be scored")
    return out


# --------------------------------------------------------------------------- distill


def _features(args: argparse.Namespace, frame: Any, source: str, feats: Any | None, embedder: Any) -> Any:
    """Feature rows for ``frame``'s items: from --features, else ``embedder.embed`` of its paths."""
    import numpy as np

    from artjudge.errors import InputError

    ids = frame["item"].astype(str).tolist()
    if feats is not None:
        missing = [i for i in ids if i not in feats.index]
        if missing:
            raise InputError(
                args.features, f"no features for {len(missing)} item(s) of {source}, e.g. {missing[0]!r}"
            )
        return feats.loc[ids].to_numpy(dtype=np.float32)
    if "path" not in frame.columns:
        raise InputError(source, "no path column to embed and no --features given")
    return embedder.embed(frame["path"].astype(str).tolist())


def _read_features(path: str) -> Any:
    """``--features``: a CSV of an item column and numeric feature columns, indexed by item."""
    import pandas as pd

    from artjudge.errors import InputError
    from artjudge.preference.formats import _read_csv

    f = _read_csv(path)
    if "item" not in f.columns or f.shape[1] < 2:
        raise InputError(path, "need a column item and at least one numeric feature column")
    f = f.set_index(f["item"].astype(str)).drop(columns=["item"]).apply(pd.to_numeric, errors="coerce")
    if f.isna().any().any():
        raise InputError(path, "non-numeric feature values")
    return f


def cmd_distill(args: argparse.Namespace) -> int:
    # before any work: existing weights only with --force, and never one of the inputs
    inputs = (args.pool, args.items, args.features, args.judge.split(":", 1)[-1])
    refuse_overwrite(args.out, inputs, force=args.force, option="--out")
    import numpy as np
    from scipy.stats import spearmanr

    from artjudge.api import load_embedded, load_judge
    from artjudge.errors import InputError
    from artjudge.models.spec import parse_spec
    from artjudge.models.student import DEFAULT_EMBED, USER_FEATURES
    from artjudge.preference.distill import ReferencePool, TableJudge, table_calls
    from artjudge.preference.formats import _read_csv, read_items, write_csv
    from artjudge.train.student import PSDistill

    judge = parse_spec(args.judge, "judge")  # one line for a judge spec that names nothing, before any work

    pool = ReferencePool.from_csv(args.pool)
    pool_frame = _read_csv(args.pool)
    items = read_items(args.items)
    ids = items["item"].tolist()
    feats = _read_features(args.features) if args.features else None
    # Without --features the student learns on the default scorer's embed(), and the file
    # records that (tag + the scorer's id and version), so it can later score images itself.
    embedder = load_embedded("default") if feats is None else None
    X_items = _features(args, items, args.items, feats, embedder)
    try:
        X_pool = _features(args, pool_frame, args.pool, feats, embedder)
    except InputError:
        X_pool = None  # the pool then only anchors the pseudo-scores
    distill = PSDistill(
        n_anchors=args.anchors, seed=args.seed, progress=True, student={"epochs": args.epochs}
    )
    if judge.scheme == "table":
        calls = table_calls(TableJudge.from_csv(judge.target), ids, pool)
        distill.fit_calls(calls, pool, ids, X_items, X_pool)
    else:
        paths = {}
        for frame in (items, pool_frame):
            if "path" in frame.columns:
                paths.update(dict(zip(frame["item"].astype(str), frame["path"].astype(str), strict=True)))
        # vlm: the VLM's own pairwise call ("which is better, how sure"); scorer: two scores compared
        distill.fit(load_judge(args.judge, paths), pool, ids, X_items, X_pool)
    out = Path(args.out)
    meta: dict[str, Any] = {
        "judge": args.judge,
        "pool": args.pool,
        "n_items": len(ids),
        "feature_dim": int(np.asarray(X_items).shape[1]),
        "output_scale": distill.output_scale(),
        "residual_rmse": distill.residual_rmse(),
    }
    if embedder is not None:
        meta.update(
            feature_extractor=DEFAULT_EMBED,
            feature_model={"name": "default", "id": embedder.model_id, "version": embedder.model_version},
        )
    else:
        meta.update(feature_extractor=USER_FEATURES, features=args.features)
    distill.student_.save(out, extra=meta)
    pseudo_path = out.with_suffix(".pseudo.csv")
    write_csv(distill.pseudo_, pseudo_path)
    fit = distill.predict(X_items)
    ps = distill.pseudo_.set_index("item").loc[ids, "score"].to_numpy(float)
    rho = float(spearmanr(fit, ps)[0]) if len(ids) > 2 and np.ptp(ps) > 0 else float("nan")
    print(
        f"distilled {len(distill.calls_)} judge calls on {len(ids)} items against a pool of {len(pool.items)}; "
        f"student SRCC with its pseudo-scores (train) {rho:.3f}; wrote {out} and {pseudo_path}"
    )
    if embedder is not None:
        print(f"score images with it: artjudge assess --model student:{out} IMAGE")
    return 0
