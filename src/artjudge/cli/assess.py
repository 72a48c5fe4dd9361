"""``artjudge assess`` and ``artjudge models``: score files, folders and globs."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artjudge.record import Assessment, Failure


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "assess",
        help="score images (files, folders, globs, a manifest) with the embedded model or a VLM",
        description="Score images. Unreadable inputs are reported and skipped; the exit code is 1 "
        "when nothing could be assessed. A manifest's prompt/reference columns, or an IMAGE.txt "
        "prompt sidecar beside a file, add consistency per image (docs/consistency.md).",
    )
    p.add_argument(
        "paths",
        nargs="+",
        help="image files, folders (recursive), glob patterns, or one manifest (.csv/.tsv/.jsonl/.parquet "
        "with a 'path' column and optional 'prompt' / 'reference' columns)",
    )
    p.add_argument(
        "--model",
        default="default",
        help="'default', a checkpoint folder, vlm:PATH or student:PATH (see `artjudge models`)",
    )
    p.add_argument(
        "--format",
        choices=["table", "json", "jsonl", "csv"],
        default=None,
        help="output format (default: table on a terminal, jsonl when --output is given)",
    )
    p.add_argument("--output", "-o", type=Path, help="write records to this file (json, jsonl or csv)")
    p.add_argument(
        "--resume", action="store_true", help="skip inputs already present in --output and append the rest"
    )
    p.add_argument("--force", action="store_true", help="replace an existing --output file (else refused)")
    p.add_argument("--critique", action="store_true", help="add the written critique and its evidence")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-cache", action="store_true", help="do not use the content-hash feature cache")
    p.add_argument("--cache-dir", type=Path, help="feature cache folder (default ~/.cache/artjudge/features)")
    p.add_argument("--max-pixels", type=int, help="decompression-bomb limit in pixels (default 64 MP)")
    p.add_argument(
        "--engine",
        choices=("onnx", "torch"),
        default=None,
        help="inference engine of the embedded model: onnx (default, no torch needed) or torch",
    )
    p.add_argument("--threads", type=int, help="network threads (default: all cores; docs/performance.md)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument(
        "--prompt",
        help="the text the images were made from: adds a consistency entry (docs/consistency.md); "
        "overrides per-image prompts",
    )
    p.add_argument(
        "--reference",
        help="an image the inputs should match: adds a consistency entry; overrides per-image ones",
    )
    p.add_argument(
        "--consistency-model",
        default="offline",
        help="'offline' (shipped, no download) or clip:PATH (a local CLIP/SigLIP folder)",
    )
    p.set_defaults(func=run_assess)

    m = subparsers.add_parser(
        "models", help="list the model specs --model accepts, and the shipped models' cards"
    )
    m.set_defaults(func=run_models)


def _format_for(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output is not None:
        suffix = args.output.suffix.lower().lstrip(".")
        return suffix if suffix in ("json", "jsonl", "csv") else "jsonl"
    return "table" if sys.stdout.isatty() else "jsonl"


def run_assess(args: argparse.Namespace) -> int:
    from rich.console import Console

    from artjudge.api import load
    from artjudge.cli.assess_output import RecordWriter, done_inputs, print_records
    from artjudge.errors import ArtjudgeError
    from artjudge.models.base import ConsistencyInput, iter_assess_items
    from artjudge.record import Failure

    err = Console(stderr=True)
    fmt = _format_for(args)
    if args.output is not None and fmt == "table":
        raise ArtjudgeError("--output needs --format json, jsonl or csv (a table is for the terminal)")
    if args.resume and args.output is None:
        raise ArtjudgeError("--resume needs --output: it continues the run recorded in that file")
    from artjudge.io.files import refuse_overwrite

    # --resume appends to its own earlier output; anything else must not replace a file unasked.
    refuse_overwrite(
        args.output, args.paths, force=args.force, option="--output", replace_existing=args.resume
    )
    kwargs: dict[str, Any] = {}
    if not args.model.startswith("vlm:"):  # embedded and student scorers decode and cache alike
        kwargs["cache"] = False if args.no_cache else (args.cache_dir or True)
        kwargs["max_pixels"] = args.max_pixels
        kwargs["engine"] = args.engine
        kwargs["threads"] = args.threads
    prompt, reference = getattr(args, "prompt", None), getattr(args, "reference", None)
    wants_consistency = bool(prompt or reference)
    consistency_model = getattr(args, "consistency_model", "offline")
    if wants_consistency or consistency_model != "offline":
        if args.model.startswith(("vlm:", "student:")):
            raise ArtjudgeError(
                f"--prompt/--reference/--consistency-model: consistency needs the embedded scorer, not {args.model}"
            )
        kwargs["consistency"] = consistency_model
    if reference and not os.path.isfile(reference):
        raise ArtjudgeError(f"--reference {reference}: no such file")
    scorer = load(args.model, **kwargs)

    done = done_inputs(args.output, fmt) if (args.resume and args.output is not None) else set()
    failures: list[Failure] = []
    candidates: list[Any] = []
    for path, item, problem in _inputs(args.paths):
        if problem is not None:
            failures.append(Failure(input=path, error=problem))
        elif path not in done:
            if wants_consistency:  # the options apply to every input, over its own prompt/reference
                item = ConsistencyInput(path, prompt, reference)
            candidates.append(item)
    if done:
        err.print(f"resuming: {len(done)} inputs already in {args.output}, {len(candidates)} to go")

    writer = RecordWriter(args.output, fmt, append=args.resume) if args.output is not None else None
    shown: list[Assessment | Failure] = []
    n_ok = 0
    try:
        for f in failures:
            err.print(f"[yellow]skipped[/yellow] {f.error}", markup=True, highlight=False)
            if writer is not None:
                writer.write(f)
        bar = None
        if not args.quiet and candidates:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(candidates), unit="img", desc="assess", file=sys.stderr)
        for rec in iter_assess_items(scorer, candidates, batch_size=args.batch_size, critique=args.critique):
            if isinstance(rec, Failure):
                failures.append(rec)
                msg = f"skipped {rec.error}"
                if bar is not None:
                    bar.write(msg, file=sys.stderr)
                else:
                    err.print(msg, markup=False, highlight=False)
            else:
                n_ok += 1
            if writer is not None:
                writer.write(rec)
            else:
                shown.append(rec)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    finally:
        if writer is not None:
            writer.close()

    if writer is None:
        if fmt == "table":
            _print_table(shown, args.critique)
        else:
            print_records(shown, fmt)
    total_ok = n_ok + len(done)
    if failures:
        err.print(f"{n_ok} assessed, {len(failures)} skipped")
    if total_ok == 0:
        err.print("artjudge: nothing could be assessed")
        return 1
    return 0


def _inputs(paths: list[str]) -> Iterator[tuple[str, Any, str | None]]:
    """``(input, item for the scorer, problem)`` per input, in order.

    One manifest argument is read as batch reads it (its ``prompt`` / ``reference`` columns
    pair each image with what its consistency is checked against; the ``input`` is the
    resolved path, which ``--resume`` matches). Files, folders and globs take the prompt of
    an ``IMAGE.txt`` sidecar beside each image (docs/consistency.md).
    """
    from artjudge.models.base import ConsistencyInput

    if len(paths) == 1:
        from artjudge.batch.sources import iter_rows, manifest_format

        if manifest_format(paths[0]) is not None:
            for row in iter_rows(paths):
                if row.error is not None or row.location is None:
                    yield row.input, None, f"{row.input}: {row.error}" if row.input else row.error
                elif row.prompt is None and row.reference is None:
                    yield row.location, row.location, None
                else:
                    yield row.location, ConsistencyInput(row.location, row.prompt, row.reference), None
            return
    from artjudge.errors import InputError
    from artjudge.io import iter_inputs
    from artjudge.io.sidecars import read_prompt_sidecar

    for path, problem in iter_inputs(paths):
        if problem is not None:
            yield path, None, str(problem)
            continue
        try:
            prompt = read_prompt_sidecar(path)
        except InputError as bad:
            yield path, None, f"{path}: {bad}"
            continue
        yield path, (path if prompt is None else ConsistencyInput(path, prompt)), None


def _score_caption(model_id: str) -> str | None:
    """Say what the shipped default's score is, wherever a table shows it (it is not an art grade)."""
    if model_id != "artjudge-embedded-agiqa":
        return None
    return (
        "score = perceptual quality of AI-generated images as AGIQA-3K raters judged it; "
        "not an art or rubric grade (train your own: docs/rubric.md)"
    )


def _print_table(records: list[Any], critique: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from artjudge.record import Assessment

    ok = [r for r in records if isinstance(r, Assessment)]
    table = Table(
        title=f"artjudge assess ({ok[0].model.id} {ok[0].model.version})" if ok else "artjudge assess",
        caption=_score_caption(ok[0].model.id) if ok else None,
    )
    table.add_column("input", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("± std", justify="right")
    attrs = sorted({k for r in ok for k in r.attributes})
    for a in attrs:
        table.add_column(a, justify="right")
    with_cons = any(getattr(r, "consistency", None) is not None for r in ok)
    if with_cons:
        table.add_column("consistency", justify="right")
        table.add_column("elements (checked: confidence)", overflow="fold")
    table.add_column("notes", overflow="fold")
    for r in ok:
        cons = []
        if with_cons:
            c = r.consistency
            cons = (
                ["", ""]
                if c is None
                else [
                    f"{c.score:.1f} ± {c.std:.1f}",
                    "; ".join(
                        f"{e.element}: {e.confidence:.2f}" if e.checked else f"{e.element}: unchecked"
                        for e in c.elements
                    ),
                ]
            )
        table.add_row(
            r.input,
            f"{r.overall.score:.1f}",
            f"{r.overall.std:.1f}",
            *[f"{r.attributes[a].score:.1f}" if a in r.attributes else "" for a in attrs],
            *cons,
            "; ".join(r.notes),
        )
    console = Console()
    console.print(table)
    if critique:
        from dataclasses import asdict

        from artjudge.critique.phrasebook import load_phrasebook

        for r in ok:
            if r.critique is None:
                continue
            text = asdict(r.critique.text)
            # the same human section titles as `artjudge critique` ("Visual Elements & Structure")
            book = load_phrasebook(r.critique.language or "en")
            attr_names, level_names = book.section("attribute_names"), book.section("level_names")
            console.rule(r.input)
            if text.get("overall"):
                console.print(f"[bold]Overall[/bold]  {text['overall']}")
            for key, para in (text.get("attributes") or {}).items():
                if para:
                    console.print(f"[bold cyan]{attr_names.get(key, key)}[/bold cyan]  {para}")
            for key, para in (text.get("levels") or {}).items():
                if para:
                    console.print(f"[bold magenta]{level_names.get(key, key)}[/bold magenta]  {para}")
            if text.get("limitations"):
                console.print(f"[yellow]{text['limitations']}[/yellow]")


def run_models(args: argparse.Namespace) -> int:
    """Every spec ``--model`` accepts (the registry), then each shipped model's card metrics."""
    import json

    from artjudge.api import registry
    from artjudge.models.weights import PACKAGE_WEIGHTS

    for entry in registry():
        print(f"{entry.spec}  [{entry.kind}{', shipped' if entry.shipped else ''}]  {entry.description}")
        if entry.shipped:
            card = json.loads((PACKAGE_WEIGHTS / entry.spec / "card.json").read_text())
            for k, v in (card.get("metrics") or {}).items():
                print(f"    {k}: {v}")
    return 0
