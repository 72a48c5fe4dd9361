"""``artjudge datasets``, ``artjudge eval`` and ``artjudge train``: datasets in, reports out.

Thin: parse arguments, call ``artjudge.data`` / ``artjudge.eval.report`` /
``artjudge.train.head``, print. Heavy imports stay inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from artjudge.errors import ArtjudgeError, InputError

# Where each dataset sits under a data root laid out like ../shared/data (labels, images).
DEFAULT_LAYOUT: dict[str, tuple[str, tuple[str, ...]]] = {
    "agiqa-3k": ("agiqa-3k", ("agiqa-3k/images",)),
    "apddv2": ("labels/apdd", ("apdd/images", "labels/apdd/images")),
    "apdd": ("labels/apdd", ("apdd/images", "labels/apdd/images")),
    "baid": ("labels/baid", ("baid/images", "labels/baid/images")),
    "ava": ("labels/ava", ("ava/images", "labels/ava/images")),
    "koniq-10k": ("labels/koniq", ("koniq/1024x768", "koniq/images", "labels/koniq/images")),
    "tad66k": ("labels/tad66k", ("tad66k/images", "labels/tad66k/images")),
    "aadb": ("labels/aadb", ("aadb/images", "labels/aadb/images")),
    "jenaesthetics": ("labels/jenaesthetics", ("jenaesthetics/images", "labels/jenaesthetics/images")),
    "para": ("labels/para", ("para/imgs", "labels/para/imgs")),
    "spaq": ("labels/spaq", ("spaq/TestImage", "labels/spaq/TestImage")),
    "flickr-aes": ("labels/flickr-aes", ("flickr-aes/40K", "labels/flickr-aes/40K")),
    "artimuse-10k": ("labels/artimuse-10k", ("artimuse-10k/images", "labels/artimuse-10k/images")),
}


def register(subparsers: Any) -> None:
    _register_datasets(subparsers)
    _register_eval(subparsers)
    _register_train(subparsers)


def _register_datasets(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "datasets",
        help="list dataset readers, or read one into a manifest",
        description="Without --dataset: list the readers. With it: read the labels, "
        "print rows per split, score range and missing images; "
        "--out writes the manifest (.jsonl or .parquet).",
    )
    _dataset_args(p, required=False)
    p.add_argument("--out", help="write the manifest here (.jsonl or .parquet, plus .meta.json)")
    p.add_argument(
        "--force", action="store_true", help="replace an existing --out manifest (never the labels)"
    )
    p.set_defaults(func=cmd_datasets)


def _register_eval(subparsers: Any) -> None:
    e = subparsers.add_parser(
        "eval",
        help="evaluate a scorer on a dataset split (metrics, CIs, plots)",
        description="Score a dataset split with a model (or read saved predictions) "
        "and write report.json, predictions.csv, scatter.png and "
        "categories.png to --out.",
    )
    _dataset_args(e, required=False)
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument(
        "--model", default="default", help="scorer for artjudge.load (default: the embedded model)"
    )
    e.add_argument(
        "--predictions",
        help="evaluate saved predictions (Assessment JSONL, or CSV image_id,score) "
        "instead of running a model",
    )
    e.add_argument("--out", required=True, help="report folder")
    e.add_argument(
        "--force", action="store_true", help="replace the reports in a non-empty --out (never an input)"
    )
    e.add_argument(
        "--all",
        action="store_true",
        help="evaluate every dataset whose images are under --data-root; one Markdown table",
    )
    e.add_argument(
        "--data-root",
        default="../shared/data",
        help="with --all: folder laid out like ../shared/data (default: %(default)s)",
    )
    e.add_argument(
        "--min-images",
        type=int,
        default=20,
        help="with --all: skip a dataset with fewer images present in the split (default 20)",
    )
    e.add_argument("--limit", type=int, help="score at most this many rows of the split (quick checks)")
    e.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the CIs (0: none)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--batch-size", type=int, default=16)
    e.add_argument("--no-plots", action="store_true")
    e.set_defaults(func=cmd_eval)


def _register_train(subparsers: Any) -> None:
    t = subparsers.add_parser(
        "train",
        help="train the embedded scorer's head on a dataset",
        description="Train the embedded head on a dataset's train split (val for model "
        "selection); writes the checkpoint, config and model card to --out.",
    )
    _dataset_args(t, required=True)
    t.add_argument("--out", required=True, help="output folder for the checkpoint, config and model card")
    t.add_argument(
        "--config", help="YAML or JSON file with HeadTrainConfig fields (saved beside the checkpoint)"
    )
    t.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config field, e.g. --set epochs=10 (repeatable)",
    )
    t.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --out")
    t.add_argument(
        "--name", help="the model's id in records and the service (default: the --out folder's name)"
    )
    t.add_argument("--force", action="store_true", help="replace an earlier model in --out (else refused)")
    t.add_argument(
        "--group-col",
        help="column of the label file grouping works (class, student): under "
        "500 labelled works the cross-validation folds never split a group",
    )
    t.add_argument(
        "--tune-top",
        type=int,
        choices=range(0, 3),
        metavar="N",
        help="fine-tune the encoder's top too: the head conv and the last N blocks (0-2) on cached "
        "trunk maps (artjudge.train.finetune; see docs/embedded-model.md)",
    )
    t.set_defaults(func=cmd_train)


def _dataset_args(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--dataset", required=required, help="dataset name (see `artjudge datasets`)")
    p.add_argument("--labels", help="label file or folder")
    p.add_argument("--images", help="folder with the images (paths in the labels are relative to it)")
    g = p.add_argument_group("generic CSV / JSONL (--dataset csv)")
    g.add_argument("--score-col", help="column with the score")
    g.add_argument("--scale", help="score scale MIN,MAX (e.g. 1,10)")
    g.add_argument("--image-col", help="column with the image path")
    g.add_argument("--attr-cols", help="comma-separated attribute columns")
    g.add_argument("--attr-scale", help="attribute scale MIN,MAX (default: --scale)")
    g.add_argument("--split-col", help="column with train/val/test (default: a seeded split by image)")
    g.add_argument("--std-col", help="column with the rating std (same scale as the score)")
    g.add_argument("--category-col", help="column with a category / style")
    g.add_argument("--text-col", help="column with comments")


def _reader_opts(args: argparse.Namespace) -> dict[str, Any]:
    keys = (
        "score_col",
        "scale",
        "image_col",
        "attr_cols",
        "attr_scale",
        "split_col",
        "std_col",
        "category_col",
        "text_col",
    )
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def _read(args: argparse.Namespace) -> Any:
    from artjudge.data import read_dataset

    if not args.labels:
        raise InputError("--labels", "give the label file or folder of the dataset")
    return read_dataset(args.dataset, args.labels, images=args.images, **_reader_opts(args))


# ------------------------------------------------------------------ datasets


def cmd_datasets(args: argparse.Namespace) -> int:
    from artjudge.data import dataset_names, reader_info

    if not args.dataset:
        from artjudge.cli.tables import PlainTable, print_table

        t = PlainTable(
            "dataset readers (artjudge datasets --dataset NAME --labels PATH)", ("dataset", "reads", "split")
        )
        for name in dataset_names():
            info = reader_info(name)
            t.add_row(name, info.label_files, info.split)  # whole cells: wrapped on a terminal, never cut
        print_table(t)
        return 0
    from artjudge.io.files import refuse_overwrite

    # before reading: an existing manifest only with --force, and never the labels it is read from
    refuse_overwrite(args.out, [args.labels, args.images], force=args.force, option="--out")
    m = _read(args)
    print(_summary(m))
    if args.out:
        path = m.save(args.out)
        print(f"manifest written to {path} (+ {path.name}.meta.json)")
    return 0


def _summary(m: Any) -> str:
    f = m.frame
    missing = len(m.missing_images())
    lines = [
        f"{m.name}: {len(m)} rows from {m.source}",
        "splits: " + ", ".join(f"{k} {v}" for k, v in m.split_counts().items()),
        f"score: raw {f['score_raw'].min():g}..{f['score_raw'].max():g} on scale {m.scale[0]:g}-{m.scale[1]:g}"
        f" -> 0-100 {f['score'].min():.1f}..{f['score'].max():.1f}",
        f"std known for {int(f['std'].notna().sum())} rows; distributions for "
        f"{int(f['distribution'].map(lambda d: d is not None).sum())} rows",
    ]
    if m.attributes:
        lines.append("attributes: " + ", ".join(m.attributes))
    if "category" in f.columns:
        lines.append(f"categories: {f['category'].nunique()}")
    lines.append(
        f"images: {len(m) - missing} present, {missing} missing"
        + ("" if m.images_root else " (no --images folder given)")
    )
    lines += [f"note: {n}" for n in m.notes if n]
    return "\n".join(lines)


# ------------------------------------------------------------------ eval


def _score_manifest(
    m: Any, split: str, model: str, batch_size: int, limit: int | None
) -> tuple[Any, Any, dict[str, str]]:
    import artjudge

    sub = m.select(split).present()
    if limit is not None:
        sub = sub._replace_frame(sub.frame.iloc[:limit].reset_index(drop=True))
    scorer = artjudge.load(model)
    records = scorer.assess_many(
        sub.frame["path"].tolist(), batch_size=batch_size, progress=sys.stderr.isatty(), skip_errors=True
    )
    info = {"id": scorer.model_id, "version": scorer.version}
    return sub, records, info


def _eval_one(m: Any, args: argparse.Namespace, out: Path) -> Any:
    from artjudge.eval.report import evaluate, load_predictions_file

    if args.predictions:
        preds: Any = load_predictions_file(args.predictions)
        target = m
        model_info = {"id": "predictions", "version": str(args.predictions)}
    else:
        target, preds, model_info = _score_manifest(m, args.split, args.model, args.batch_size, args.limit)
    report = evaluate(preds, target, args.split, bootstrap=args.bootstrap, seed=args.seed, model=model_info)
    missing_note = len(m.split_frame(args.split)) - report.n
    if missing_note:
        report.notes.append(f"{missing_note} rows of the split were not scored (image missing or failed)")
    report.save(out, plots=not args.no_plots)
    return report


def cmd_eval(args: argparse.Namespace) -> int:
    from artjudge.io.files import refuse_overwrite

    out = Path(args.out)
    # before any scoring: a folder holding files only with --force, and never one holding an input
    inputs = [args.labels, args.images, args.predictions, args.data_root if args.all else None]
    refuse_overwrite(out, inputs, force=args.force, option="--out")
    if args.all:
        return _eval_all(args, out)
    if not args.dataset:
        raise InputError("--dataset", "name a dataset (or use --all)")
    m = _read(args)
    report = _eval_one(m, args, out)
    print(report.format_table())
    print(
        f"\nreport written to {out}/ (report.json, predictions.csv"
        + ("" if args.no_plots else ", scatter.png" + (", categories.png" if report.per_category else ""))
        + ")"
    )
    return 0


def _eval_all(args: argparse.Namespace, out: Path) -> int:
    from artjudge.data import read_dataset
    from artjudge.eval.report import EvalReport, Skipped, markdown_table

    root = Path(args.data_root)
    if not root.is_dir():
        raise InputError(str(root), "data root not found (set --data-root)")
    results: list[EvalReport | Skipped] = []
    for name, (labels_rel, image_dirs) in DEFAULT_LAYOUT.items():
        labels = root / labels_rel
        if not labels.exists():
            results.append(Skipped(name, f"no labels at {labels}"))
            continue
        images = next((root / d for d in image_dirs if (root / d).is_dir()), None)
        if images is None:
            results.append(Skipped(name, "images not present (looked in " + ", ".join(image_dirs) + ")"))
            continue
        try:
            m = read_dataset(name, labels, images=images)
            part = m.split_frame(args.split)
            present = len(part) - len(m.select(args.split).missing_images())
            if present < args.min_images:
                results.append(
                    Skipped(
                        name, f"{present} of {len(part)} {args.split} images present (< {args.min_images})"
                    )
                )
                continue
            report = _eval_one(m, args, out / name)
        except ArtjudgeError as err:
            results.append(Skipped(name, str(err)))
            continue
        print(report.format_table(), end="\n\n")
        results.append(report)
    table = markdown_table(results, model=args.model if not args.predictions else "saved predictions")
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.md").write_text(table, encoding="utf-8")
    print(table)
    return 0 if any(not isinstance(r, Skipped) for r in results) else 1


# ------------------------------------------------------------------ train


def load_config_file(path: str | None, overrides: list[str]) -> dict[str, Any]:
    """HeadTrainConfig fields from YAML / JSON plus KEY=VALUE overrides (values parsed as YAML)."""
    import yaml

    cfg: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise InputError(str(p), "config file not found")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise InputError(str(p), f"not valid YAML/JSON ({str(err).splitlines()[0]})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise InputError(str(p), "config must be a mapping of HeadTrainConfig fields")
        cfg = dict(loaded or {})
    for item in overrides:
        if "=" not in item:
            raise InputError("--set", f"{item!r} is not KEY=VALUE")
        key, value = item.split("=", 1)
        target = cfg
        parts = key.strip().split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = yaml.safe_load(value)
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401  (the heads are torch modules)
    except ImportError:
        raise ArtjudgeError(
            "train: training needs PyTorch, which this install lacks: pip install 'artjudge[torch]'"
        ) from None
    from artjudge.io.files import refuse_overwrite
    from artjudge.train import head as training

    # A second run into the same folder replaces the first model: only with --resume or --force.
    refuse_overwrite(args.out, (), force=args.force or args.resume, option="--out")
    m = _read(args)
    cfg_dict = load_config_file(args.config, args.set)
    if getattr(args, "tune_top", None) is not None:
        cfg_dict["tune_blocks"] = args.tune_top
        cfg_dict.setdefault("head", {})["tune_top"] = True
    try:
        config = training.HeadTrainConfig.from_dict(cfg_dict)
    except TypeError as err:
        raise InputError(args.config or "--set", f"unknown or bad HeadTrainConfig field ({err})") from None
    if "targets" not in (cfg_dict.get("head") or {}):
        # every attribute column the user named is a target (sparse ones are skipped by the trainer)
        config.head.targets = ["overall", *[a for a in m.attributes if a != "overall"]]
    out = Path(args.out)
    print(_summary(m), file=sys.stderr)
    kwargs: dict[str, Any] = {
        "resume": bool(args.resume),
        "model_id": args.name,
        "data": _train_columns(args),
    }
    if args.group_col:
        kwargs["groups"] = _groups(args, m)
    try:
        result = training.train_head(m, config, out, **kwargs)
    except ValueError as err:  # too few labels, an empty split, a group column that does not fit
        raise InputError(str(args.labels), str(err)) from None
    print(result.summary())
    print(usage_after_training(out, args))
    return 0


def _train_columns(args: argparse.Namespace) -> dict[str, Any]:
    """The label file's columns as the user named them, for the card's data block."""
    cols = {k: getattr(args, k) for k in ("score_col", "attr_cols", "image_col", "group_col", "split_col")}
    return {"columns": {k: v for k, v in cols.items() if v}} if any(cols.values()) else {}


def _groups(args: argparse.Namespace, m: Any) -> dict[str, str]:
    """image id -> group, read from the label file's --group-col (the manifest keeps no groups)."""
    import pandas as pd

    src = str(args.labels)
    path = Path(args.labels)
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        df = pd.read_json(path, lines=path.suffix.lower() != ".json", dtype=False)
    else:
        df = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype=str)
    image_col = args.image_col or next(
        (
            c
            for c in ("image", "path", "image_path", "filename", "file", "image_name", "name")
            if c in df.columns
        ),
        None,
    )
    if args.group_col not in df.columns or image_col is None:
        raise InputError(
            src, f"--group-col {args.group_col!r}: no such column (found: {', '.join(map(str, df.columns))})"
        )
    groups = dict(
        zip(df[image_col].astype(str).str.strip(), df[args.group_col].astype(str).str.strip(), strict=True)
    )
    missing = [i for i in m.frame["image_id"].astype(str) if i not in groups or groups[i] in ("", "nan")]
    if missing:
        raise InputError(
            src, f"--group-col {args.group_col!r}: no group for {len(missing)} work(s), e.g. {missing[0]!r}"
        )
    return groups


def usage_after_training(out: Path, args: argparse.Namespace) -> str:
    """How to use the checkpoint just written: the next commands a user types, with its path."""
    data = f"--dataset {args.dataset} --labels {args.labels}" + (
        f" --images {args.images}" if args.images else ""
    )
    # the reader's column options too, so that eval reads the same rows and scores every attribute
    data += "".join(f" --{k.replace('_', '-')} {v}" for k, v in _reader_opts(args).items())
    return "\n".join(
        [
            "use it:",
            f"  artjudge assess --model {out} IMAGE ...",
            f"  artjudge eval {data} --split test --model {out} --out {out}/eval",
            f"  python -c \"import artjudge; print(artjudge.load('{out}').assess('IMAGE').overall)\"",
        ]
    )
