"""``artjudge batch``: score a manifest, folder or glob into one Parquet file, resumably."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from artjudge.cli import deprecated_flag


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "batch",
        help="score a manifest, folder or glob into Parquet (resumable; local or Dask)",
        description=(
            "Score many images into one Parquet file. A rerun of the same command resumes where an "
            "interrupted run stopped; every input appears exactly once, scored or with its failure."
        ),
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="MANIFEST|DIR|GLOB",
        help="a manifest (.csv/.tsv/.jsonl/.parquet with a 'path' column; optional 'image_id', 'prompt', "
        "'reference' columns) or files, folders, globs (an IMAGE.txt beside an image is its prompt)",
    )
    p.add_argument("--output", "-o", required=True, help="output Parquet file (local path or fsspec URL)")
    p.add_argument(
        "--model", default="default", help="scorer: 'default', a checkpoint folder, vlm:PATH or student:PATH"
    )
    p.add_argument("--batch-size", type=int, default=16, help="images per forward pass (default 16)")
    p.add_argument(
        "--part-size",
        type=int,
        default=1024,
        help="rows per partition / part file, the unit of resume and of Dask work (default 1024)",
    )
    p.add_argument(
        "--executor",
        choices=("local", "dask", "dask-local"),
        default="local",
        help="where the batch runs: local: this process; dask: a running cluster (--scheduler); "
        "dask-local: a cluster here",
    )
    deprecated_flag(p, "--engine", "--executor", "executor", choices=("local", "dask", "dask-local"))
    p.add_argument(
        "--workers", type=int, default=2, help="worker processes for --executor dask-local (default 2)"
    )
    p.add_argument("--scheduler", help="Dask scheduler address for --executor dask, e.g. tcp://10.0.0.5:8786")
    p.add_argument(
        "--threads",
        type=int,
        help="network threads per process (ONNX Runtime or torch, whichever runs it): default all cores for "
        "local, cores / workers for dask-local (1 each on 2 cores), unset for dask",
    )
    deprecated_flag(p, "--torch-threads", "--threads", "threads", type=int)
    p.add_argument(
        "--runtime",
        choices=("onnx", "torch"),
        default=None,
        help="what runs the embedded model's network: onnx (default, no torch needed) or torch",
    )
    deprecated_flag(p, "--inference-engine", "--runtime", "runtime", choices=("onnx", "torch"))
    p.add_argument(
        "--root", help="folder that relative manifest paths are resolved against (default: the manifest's)"
    )
    p.add_argument("--critique", action="store_true", help="add the written critique to each row (slower)")
    p.add_argument(
        "--consistency-model",
        default="offline",
        help="checks rows with a prompt or reference: 'offline' (shipped) or clip:PATH (a local CLIP/SigLIP "
        "folder); docs/consistency.md",
    )
    p.add_argument(
        "--restart", action="store_true", help="discard an earlier, unfinished run's parts and start over"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --output that no earlier run of this command wrote",
    )
    p.add_argument("--keep-parts", action="store_true", help="keep the part files after merging")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress (default: a bar on a terminal, a line every 15 s in a log)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from functools import partial

    import artjudge
    from artjudge.api import model_identity
    from artjudge.batch import run_batch
    from artjudge.batch.store import PartStore
    from artjudge.io.files import refuse_overwrite

    # A rerun of the same command resumes (its parts folder records the run); any other existing
    # file at --output, and above all an input such as the manifest itself, is not replaced unasked.
    own_run = PartStore.has_run(args.output)
    refuse_overwrite(args.output, args.inputs, force=args.force, option="--output", replace_existing=own_run)
    # Every option goes to the one loader, which drops what a kind does not use and refuses, in
    # one line, a consistency model given to a scorer without one (no prefix checks here).
    load_kwargs: dict[str, Any] = {"runtime": args.runtime, "consistency": args.consistency_model}
    summary = run_batch(
        args.inputs,
        args.output,
        partial(artjudge.load, args.model, **load_kwargs),
        model=args.model,
        model_version=model_identity(args.model),
        consistency_model=args.consistency_model,
        executor=args.executor,
        part_size=args.part_size,
        batch_size=args.batch_size,
        critique=args.critique,
        root=args.root,
        scheduler=args.scheduler,
        workers=args.workers,
        threads=args.threads,
        restart=args.restart,
        keep_parts=args.keep_parts,
        progress=not args.no_progress,  # a bar on a terminal, plain progress lines in a log
    )
    resumed = f", {summary.parts_resumed} of {summary.parts} parts resumed" if summary.parts_resumed else ""
    print(
        f"{summary.output}: {summary.rows} rows ({summary.scored} scored, {summary.failed} failed){resumed} "
        f"in {summary.seconds:.1f} s [{summary.engine}]"
    )
    if summary.rows and not summary.scored:
        print("artjudge: error: nothing could be scored (see the 'error' column)", file=sys.stderr)
        return 1
    return 0
