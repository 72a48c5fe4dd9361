"""``artjudge assess`` and ``artjudge models``: score files, folders and globs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "assess",
        help="score images (files, folders, globs) with the embedded model or a VLM",
        description="Score images. Unreadable inputs are reported and skipped; the exit code is 1 "
        "when nothing could be assessed.",
    )
    p.add_argument("paths", nargs="+", help="image files, folders (recursive) or glob patterns")
    p.add_argument("--model", default="default", help="'default', a checkpoint folder, or vlm:PATH")
    p.add_argument("--format", choices=["table", "json", "jsonl", "csv"], default=None,
                   help="output format (default: table on a terminal, jsonl when --output is given)")
    p.add_argument("--output", "-o", type=Path, help="write records to this file (json, jsonl or csv)")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs already present in --output and append the rest")
    p.add_argument("--critique", action="store_true", help="add the written critique and its evidence")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--no-cache", action="store_true", help="do not use the content-hash feature cache")
    p.add_argument("--cache-dir", type=Path, help="feature cache folder (default ~/.cache/artjudge/features)")
    p.add_argument("--max-pixels", type=int, help="decompression-bomb limit in pixels (default 64 MP)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=run_assess)

    m = subparsers.add_parser("models", help="list the shipped models and their model cards")
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
    from artjudge.io import iter_inputs
    from artjudge.record import Assessment, Failure

    err = Console(stderr=True)
    fmt = _format_for(args)
    if args.output is not None and fmt == "table":
        raise ArtjudgeError("--output needs --format json, jsonl or csv (a table is for the terminal)")
    if args.resume and args.output is None:
        raise ArtjudgeError("--resume needs --output: it continues the run recorded in that file")
    kwargs: dict[str, Any] = {}
    if not args.model.startswith("vlm:"):
        kwargs["cache"] = False if args.no_cache else (args.cache_dir or True)
        kwargs["max_pixels"] = args.max_pixels
    scorer = load(args.model, **kwargs)

    done = done_inputs(args.output, fmt) if (args.resume and args.output is not None) else set()
    failures: list[Failure] = []
    candidates: list[str] = []
    for path, problem in iter_inputs(args.paths):
        if problem is not None:
            failures.append(Failure(input=path, error=str(problem)))
        elif path not in done:
            candidates.append(path)
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
        for rec in _iter_records(scorer, candidates, args.batch_size, args.critique):
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


def _iter_records(scorer: Any, paths: list[str], batch_size: int, critique: bool) -> Any:
    """Records in input order from any scorer: streamed where it can, in batches otherwise."""
    if hasattr(scorer, "iter_assess"):
        yield from scorer.iter_assess(paths, batch_size=batch_size, critique=critique, skip_errors=True)
        return
    from artjudge.errors import ArtjudgeError
    from artjudge.record import Failure

    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        if not critique:
            yield from scorer.assess_many(chunk, batch_size=batch_size, skip_errors=True)
            continue
        for path in chunk:  # critiques are written one image at a time
            try:
                yield scorer.assess(path, critique=True)
            except ArtjudgeError as err:
                yield Failure(input=path, error=str(err))


def _print_table(records: list[Any], critique: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from artjudge.record import Assessment

    ok = [r for r in records if isinstance(r, Assessment)]
    table = Table(title=f"artjudge assess ({ok[0].model.id} {ok[0].model.version})" if ok else "artjudge assess")
    table.add_column("input", overflow="fold")
    table.add_column("score", justify="right")
    table.add_column("± std", justify="right")
    attrs = sorted({k for r in ok for k in r.attributes})
    for a in attrs:
        table.add_column(a, justify="right")
    table.add_column("notes", overflow="fold")
    for r in ok:
        table.add_row(r.input, f"{r.overall.score:.1f}", f"{r.overall.std:.1f}",
                      *[f"{r.attributes[a].score:.1f}" if a in r.attributes else "" for a in attrs],
                      "; ".join(r.notes))
    console = Console()
    console.print(table)
    if critique:
        for r in ok:
            text = (r.critique or {}).get("text") or {}
            if not text:
                continue
            console.rule(r.input)
            if text.get("overall"):
                console.print(text["overall"])
            for key, para in (text.get("attributes") or {}).items():
                if para:
                    console.print(f"[bold]{key}[/bold]: {para}")
            for key, para in (text.get("levels") or {}).items():
                if para:
                    console.print(f"[italic]{key}[/italic]: {para}")
            if text.get("limitations"):
                console.print(f"[yellow]{text['limitations']}[/yellow]")


def run_models(args: argparse.Namespace) -> int:
    import json

    from artjudge.models.weights import PACKAGE_WEIGHTS

    for folder in sorted(PACKAGE_WEIGHTS.iterdir()) if PACKAGE_WEIGHTS.is_dir() else []:
        card = folder / "card.json"
        if card.is_file():
            info = json.loads(card.read_text())
            print(f"{folder.name}: {info.get('id')} {info.get('version')} — {info.get('description', '')}")
            for k, v in (info.get("metrics") or {}).items():
                print(f"    {k}: {v}")
    return 0
