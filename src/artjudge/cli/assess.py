"""``artjudge assess`` and ``artjudge models``: score files, folders and globs."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artjudge.cli import deprecated_flag

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
        "--runtime",
        choices=("onnx", "torch"),
        default=None,
        help="what runs the embedded model's network: onnx (default, no torch needed) or torch",
    )
    deprecated_flag(p, "--engine", "--runtime", "runtime", choices=("onnx", "torch"))
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


def _load_scorer(args: argparse.Namespace) -> Any:
    """The scorer ``--model`` names, with every option, checked once for what the command asks of it.

    Every option goes to the one loader: it drops what a kind does not use (a VLM decodes on
    its own) and refuses, in one line, a consistency model, prompt or reference for a scorer
    without a consistency component (``check_request``).
    """
    from artjudge.api import load
    from artjudge.errors import ArtjudgeError
    from artjudge.models.base import check_request

    kwargs: dict[str, Any] = {
        "cache": False if args.no_cache else (args.cache_dir or True),
        "max_pixels": args.max_pixels,
        "runtime": args.runtime,
        "threads": args.threads,
    }
    prompt, reference = getattr(args, "prompt", None), getattr(args, "reference", None)
    consistency_model = getattr(args, "consistency_model", "offline")
    if prompt or reference or consistency_model != "offline":
        kwargs["consistency"] = consistency_model
    if reference and not os.path.isfile(reference):
        raise ArtjudgeError(f"--reference {reference}: no such file")
    if prompt and (bad := _bad_text(prompt)):
        raise ArtjudgeError(f"--prompt: {bad}")
    if not sys.stderr.isatty():  # no download/loading bars' redraws in a log file
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    scorer = load(args.model, **kwargs)
    check_request(scorer.info(), prompt=bool(prompt), reference=bool(reference), critique=args.critique)
    return scorer


def _check_output(args: argparse.Namespace, fmt: str) -> None:
    """Refuse, before any work, an output option that cannot be honoured."""
    from artjudge.errors import ArtjudgeError
    from artjudge.io.files import refuse_overwrite

    if args.output is not None and fmt == "table":
        raise ArtjudgeError("--output needs --format json, jsonl or csv (a table is for the terminal)")
    if args.resume and args.output is None:
        raise ArtjudgeError("--resume needs --output: it continues the run recorded in that file")
    # --resume appends to its own earlier output; anything else must not replace a file unasked.
    refuse_overwrite(
        args.output, args.paths, force=args.force, option="--output", replace_existing=args.resume
    )


def _plan_inputs(args: argparse.Namespace, fmt: str) -> tuple[list[Any], list[Failure], int]:
    """The items still to score, the inputs that cannot be read, and how many rows --resume skips."""
    from artjudge.cli.assess_output import done_counts
    from artjudge.models.base import ConsistencyInput
    from artjudge.record import Failure

    prompt, reference = getattr(args, "prompt", None), getattr(args, "reference", None)
    wants_consistency = bool(prompt or reference)
    done = done_counts(args.output, fmt) if (args.resume and args.output is not None) else Counter()
    n_done = sum(done.values())
    failures: list[Failure] = []
    candidates: list[Any] = []
    for path, item, problem in _inputs(args.paths):
        if done[path] > 0:  # keyed on the row: the first n rows of an input with n records are done
            done[path] -= 1
        elif problem is not None:
            failures.append(Failure(input=path, error=problem))
        else:
            if wants_consistency:  # the options apply to every input, over its own prompt/reference
                item = ConsistencyInput(path, prompt, reference)
            candidates.append(item)
    return candidates, failures, n_done


def run_assess(args: argparse.Namespace) -> int:
    from rich.console import Console

    from artjudge.batch.progress import BatchProgress, choose_mode
    from artjudge.cli.assess_output import RecordWriter, print_records
    from artjudge.models.base import iter_assess_items
    from artjudge.record import Failure

    err = Console(stderr=True)
    fmt = _format_for(args)
    _check_output(args, fmt)
    scorer = _load_scorer(args)
    candidates, failures, n_done = _plan_inputs(args, fmt)
    if n_done:
        err.print(f"resuming: {n_done} rows already in {args.output}, {len(candidates)} to go")

    writer = RecordWriter(args.output, fmt, append=args.resume) if args.output is not None else None
    shown: list[Assessment | Failure] = []
    n_ok = 0
    try:
        for f in failures:
            err.print(f"[yellow]skipped[/yellow] {f.error}", markup=True, highlight=False)
            if writer is not None:
                writer.write(f)
        # a bar on a terminal, plain lines in a log file (a bar's redraws make an unreadable log)
        progress = BatchProgress(choose_mode(not args.quiet and bool(candidates), sys.stderr), desc="assess")
        progress.set_total(len(candidates))
        for rec in iter_assess_items(scorer, candidates, batch_size=args.batch_size, critique=args.critique):
            failed = isinstance(rec, Failure)
            if isinstance(rec, Failure):
                failures.append(rec)
                if progress.mode == "off":
                    err.print(f"skipped {rec.error}", markup=False, highlight=False)
                else:
                    progress.message(f"skipped {rec.error}")
            else:
                n_ok += 1
            if writer is not None:
                writer.write(rec)
            else:
                shown.append(rec)
            progress.advance(1, failed=int(failed))
        progress.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()

    if writer is None:
        if fmt == "table":
            _print_table(shown, args.critique)
        else:
            print_records(shown, fmt)
    total_ok = n_ok + n_done
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
                elif row.prompt is not None and (bad := _bad_text(row.prompt)):
                    yield row.location, None, f"{row.location}: prompt {bad}"  # this row fails, not the run
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


def _bad_text(text: str) -> str | None:
    """Why ``text`` cannot be a prompt, or None. Why: a Latin-1 byte on the command line arrives as
    an unpaired surrogate, which the tokenizer and every UTF-8 writer reject with a traceback."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid text (a byte that is not UTF-8, e.g. Latin-1 é); save it as UTF-8"
    return None


def _score_caption(model_id: str) -> str | None:
    """Say what the shipped default's score is, wherever a table shows it (it is not an art grade)."""
    if model_id != "artjudge-embedded-agiqa":
        return None
    return (
        "score = perceptual quality of AI-generated images as AGIQA-3K raters judged it; "
        "not an art or rubric grade (train your own: docs/rubric.md)"
    )


#: What the table's two spread columns mean (docs/record.md): they are different things.
SPREADS = (
    "likely = where the raters' mean probably lies (the model's error interval, measured on data "
    "it did not learn from); raters ± std = how far people's opinions would spread"
)


def _likely(d: Any) -> str:
    """A score's error interval as the table shows it: ``57-71 (90%)``; ``-`` without one."""
    if not getattr(d, "interval", None):
        return "-"
    return f"{d.interval[0]:.0f}-{d.interval[1]:.0f} ({(d.interval_level or 0.9):.0%})"


def _with_likely(d: Any) -> str:
    """An attribute cell: the score, and its error interval when the model has one."""
    return f"{d.score:.1f}" + (f" ({d.interval[0]:.0f}-{d.interval[1]:.0f})" if d.interval else "")


def _print_table(records: list[Any], critique: bool) -> None:
    from rich.console import Console

    from artjudge.cli.tables import PlainTable, print_table
    from artjudge.record import Assessment

    ok = [r for r in records if isinstance(r, Assessment)]
    attrs = sorted({k for r in ok for k in r.attributes})
    with_cons = any(getattr(r, "consistency", None) is not None for r in ok)
    columns = ["input", "score", "likely", "raters ± std", *attrs]
    if with_cons:
        columns += ["consistency", "elements (checked: confidence)"]
    columns.append("notes")
    table = PlainTable(
        title=f"artjudge assess ({ok[0].model.id} {ok[0].model.version})" if ok else "artjudge assess",
        columns=columns,
        caption="; ".join(c for c in (_score_caption(ok[0].model.id) if ok else None, SPREADS) if c),
        right=frozenset(["score", "likely", "raters ± std", "consistency", *attrs]),
    )
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
            _likely(r.overall),
            f"{r.overall.std:.1f}",
            *[_with_likely(r.attributes[a]) if a in r.attributes else "" for a in attrs],
            *cons,
            "; ".join(r.notes),
        )
    print_table(table)
    console = Console()
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
    from artjudge.models.spec import NOUNS
    from artjudge.models.weights import PACKAGE_WEIGHTS

    role = None
    for entry in registry():
        if entry.role != role:
            role = entry.role
            print(f"{NOUNS[role]}s ({FLAGS[role]}):")
        print(f"  {entry.spec}  [{entry.kind}{', shipped' if entry.shipped else ''}]  {entry.description}")
        if entry.shipped and entry.role == "scorer":
            card = json.loads((PACKAGE_WEIGHTS / entry.spec / "card.json").read_text())
            for k, v in (card.get("metrics") or {}).items():
                print(f"      {k}: {v}")
    return 0


#: Where each role's spec is given on the command line (``artjudge models`` says so).
FLAGS = {
    "scorer": "assess/batch/serve --model",
    "process": "process --model",
    "consistency": "--consistency-model",
    "judge": "distill --judge",
}
