"""`artjudge process` (judge a painting process) and `artjudge train-process`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from artjudge.cli import deprecated_flag
from artjudge.io.files import atomic_write_json, atomic_write_text, dumps_strict, refuse_overwrite

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_SHARED = Path(os.environ.get("ARTJUDGE_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def register(subparsers: Any) -> None:
    _register_process(subparsers)
    _register_train(subparsers)


def _register_process(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "process",
        help="judge a painting process (video or folder of frames): 8 scores on 0-100 with std",
        description="Score a painting process on PPJudge's 8 attributes, with a timeline plot.",
    )
    p.add_argument("source", help="a video file or a folder of frames (in name order)")
    ctx = p.add_mutually_exclusive_group()
    ctx.add_argument("--reference", help="the reference image the painting should honour")
    ctx.add_argument("--prompt", help="the text prompt the painting should honour")
    p.add_argument("--model", default="default", help="weights: 'default' or a checkpoint path")
    p.add_argument(
        "--runtime",
        choices=("onnx", "torch"),
        default=None,
        help="frame encoder: onnx (default; the judge's transformer needs torch either way) or torch",
    )
    deprecated_flag(p, "--engine", "--runtime", "runtime", choices=("onnx", "torch"))
    p.add_argument("--timeline", help="also write the timeline plot here (PNG); none is written without it")
    p.add_argument(
        "--no-timeline",
        action="store_true",
        help="write no timeline plot (the default; kept for old scripts)",
    )
    p.add_argument("--min-keyframes", type=int, default=4)
    p.add_argument("--max-keyframes", type=int, default=16)
    p.add_argument("--every-k", type=int, default=1, help="look at every k-th frame at least")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("--output", help="also write the JSON result to this file")
    p.add_argument(
        "--follow", action="store_true", help="watch the folder and score each new frame as it arrives"
    )
    p.add_argument("--poll", type=float, default=1.0, help="--follow: seconds between folder scans")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="--follow: stop after this many seconds without a new frame",
    )
    p.add_argument("--force", action="store_true", help="replace an existing --output / --timeline file")
    p.set_defaults(func=run_process)


def _register_train(subparsers: Any) -> None:
    t = subparsers.add_parser(
        "train-process",
        help="train the process judge (synthetic pretraining, AGIQA consistency fine-tuning)",
    )
    t.add_argument("--output", default=None, help="checkpoint path (default: .cache/process/ppjudge.pt)")
    t.add_argument("--shipped", action="store_true", help="write the shipped weights and model card")
    t.add_argument("--data", default=str(DEFAULT_SHARED), help="the shared data folder (../shared/data)")
    t.add_argument("--n-synthetic", type=int, default=480)
    t.add_argument("--n-sheep", type=int, default=4000, help="Sheep Market train drawings (true vs shuffled)")
    t.add_argument("--sheep-shuffles", type=int, default=2, help="shuffled orders per Sheep Market drawing")
    t.add_argument(
        "--sheep-passes",
        type=float,
        default=0.25,
        help="share of the Sheep Market pairs seen per fine-tuning epoch",
    )
    t.add_argument(
        "--agiqa-passes",
        type=float,
        default=0.5,
        help="share of the AGIQA-3K train split seen per fine-tuning epoch",
    )
    t.add_argument(
        "--consistency-blend",
        type=float,
        default=0.5,
        help="the network's share of the consistency logit; the rest is a ridge readout fitted "
        "on AGIQA-3K in closed form (1.0: network only)",
    )
    t.add_argument("--epochs-pretrain", type=int, default=15)
    t.add_argument("--epochs-finetune", type=int, default=16)
    t.add_argument("--d-model", type=int, default=128)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--cache-dir", default=".cache/process")
    t.set_defaults(func=run_train)


# ----- train ------------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    from artjudge.models.process.judge import default_weights_path
    from artjudge.models.process.model import ProcessConfig
    from artjudge.train.process import ProcessTrainConfig, train_process_judge

    data = Path(args.data)
    agiqa = data / "agiqa-3k"
    sheep = data / "process" / "sheep-market"
    cfg = ProcessTrainConfig(
        n_synthetic=args.n_synthetic,
        n_sheep=args.n_sheep if sheep.is_dir() else 0,
        sheep_shuffles=args.sheep_shuffles,
        sheep_passes=args.sheep_passes,
        agiqa_passes=args.agiqa_passes,
        consistency_blend=args.consistency_blend,
        epochs_pretrain=args.epochs_pretrain,
        epochs_finetune=args.epochs_finetune,
        threads=args.threads,
        seed=args.seed,
        cache_dir=Path(args.cache_dir),
        agiqa_root=agiqa if (agiqa / "data.csv").is_file() else None,
        sheep_root=sheep if sheep.is_dir() else None,
        model=ProcessConfig(d_model=args.d_model, n_layers=args.layers),
    )
    if cfg.agiqa_root is None:
        print(f"note: AGIQA-3K not found under {data}; no consistency fine-tuning", file=sys.stderr)
    out = default_weights_path() if args.shipped else Path(args.output or ".cache/process/ppjudge.pt")
    summary = train_process_judge(cfg, out)
    if args.shipped:
        write_model_card(out.parent / "MODEL_CARD.md", summary)
    print(dumps_strict(summary, indent=2))
    return 0


def main_train_shipped(argv: list[str]) -> int:
    from artjudge.cli import main

    return main(["train-process", "--shipped", *argv])


def write_model_card(path: Path, summary: dict[str, Any]) -> None:
    text = f"""# artjudge-ppjudge-tiny (painting-process judge)

- **What**: PPJudge-style judge of a painting process: frames (+ reference image or text
  prompt) -> 8 attributes on 1-10 (artjudge.taxonomy.PROCESS); records report them x 10
  on 0-100 (`ProcessAssessment`, docs/record.md).
- **Architecture**: frozen EfficientNet-Lite0 patch tokens (4x4 grid: block 10 + block 15 +
  mean RGB, 128 px), 2 transformer blocks (d_model 128, 4 heads), rotary encoding over
  (time, row, col) with the temporal correction theta_time(t) = -beta*theta_base*(t/T)^gamma
  (beta 0.5, gamma 2, T 32), heterogeneous MoE per block (2 shared experts, 15 routed experts
  of depths 8x1, 3x2, 2x3, 1x4, 1x5, top-4), 3-layer SiLU head plus a linear ("wide") readout
  of the pooled tokens; causal over time (KV cache). Frames carry 12 concept-alignment
  features against the prompt or reference (ImageNet concepts named by the Lite0 classifier,
  compared with MiniLM; see artjudge.models.process.grounding).
- **Parameters**: {summary["parameters"]:,}
- **Weights**: `ppjudge_tiny.pt` (float16), SHA-256 `{summary["sha256"]}`
- **Training data**: {summary["n_synthetic"]} synthetic processes (seed {summary["seed"]};
  targets: AGIQA-3K train-split images by prompt and procedural pictures; faults documented
  in artjudge.data.process.synthetic), {summary["n_sheep"]} Sheep Market train-split
  drawings (true order vs {summary["sheep_shuffles"]} shuffled orders each: weak
  process-stability labels 9 vs 4 plus a pairwise ranking term),
  AGIQA-3K train split (split_by_group over prompts, test 0.2, val 0.1, seed 0): mos_align
  -> consistency, with the prompt embedded by all-MiniLM-L6-v2. The consistency logit is
  {summary.get("consistency_blend", 1.0)} x the network + the rest x a ridge readout of the
  wide path's inputs fitted in closed form on that split (weight chosen by 5-fold CV by prompt
  over train + val, benchmarks/consistency_cv.py).
- **Loss**: style loss (1 - cos to "This is a {{style}} painting.") + 10 x MSE (labels on 0-1)
  + 0.01 x load balancing; for Sheep pairs + softplus(s_shuffled - s_true).
- **Schedule**: {summary["epochs_pretrain"]} epochs pretraining, {summary["epochs_finetune"]}
  epochs fine-tuning (with synthetic replay; weights averaged with EMA
  {summary["ema_decay"]}), AdamW, one-cycle LR, CPU;
  {summary["total_seconds"]} s in all ({summary["feature_seconds"]} s of it building features).
- **Metrics**: see benchmarks/results/process_accuracy.json, consistency_agiqa.json,
  consistency_cv.json, process_latency.json (reproduce with `python benchmarks/<name>.py`).
- **Std and error intervals in records**: per attribute, the RMS residual (0-100) on the
  held-out synthetic processes of benchmarks/process_accuracy.py and a 90% split-conformal
  interval calibrated on other synthetic processes, in `ppjudge_tiny.pt.residual_std.json`:
  rerun `python scripts/process_residual_std.py` after training (the judge ignores a file
  measured on other weights), and `python benchmarks/process_consistency_swap.py
  --write-verdict` to measure whether it tells right from wrong prompts and references.
- **Limits**: the labels of the synthetic processes are defined by injected faults, not by
  art teachers; real-process validity rests on the Sheep Market order check and AGIQA
  alignment only. Scores are relative judgements, not grades.
- **Reproduce**: `python scripts/train_process.py` (or `artjudge train-process --shipped`).
- **Date**: {time.strftime("%Y-%m-%d", time.gmtime())}
"""
    atomic_write_text(path, text)


# ----- judge ------------------------------------------------------------------------------------
def _print_result(res: Any, fmt: str) -> None:
    if fmt == "json":
        print(dumps_strict(res.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from artjudge.taxonomy import PROCESS

    console = Console()
    # the path on its own line, whole: as a table title it wrapped inside the narrow table
    console.print(Text(f"process: {res.source}", style="bold"), overflow="fold")
    table = Table()
    table.add_column("attribute", no_wrap=True)  # names whole; the numeric headers wrap instead
    table.add_column("score (0-100)", justify="right")
    table.add_column(
        "likely (90%)", justify="right"
    )  # the judge's error interval, calibrated on held-out processes
    table.add_column("± error std", justify="right")  # the judge's RMS error; it predicts no opinion spread
    table.add_column("PPJudge 1-10", justify="right")  # score / 10: the scale earlier versions printed
    for key, sd in res.attributes.items():
        table.add_row(
            PROCESS.get(key).name,
            f"{sd.score:.1f}",
            f"{sd.interval[0]:.0f}-{sd.interval[1]:.0f}" if sd.interval else "-",
            f"{sd.std:.1f}" if sd.std > 0 else "?",
            f"{sd.score / 10:.2f}",
        )
    for key in res.cant_tell:
        table.add_row(PROCESS.get(key).name, "can't tell", "-", "-", "-")
    console.print(table)
    console.print(f"key frames used ({len(res.keyframe_indices)}): {res.keyframe_indices}")
    for key, why in res.cant_tell.items():
        console.print(f"{key}: {why}")
    if "consistency" not in res.attributes and "consistency" not in res.cant_tell:
        console.print("consistency: not judged (give --reference or --prompt)")
    for note in res.notes:
        console.print(f"note: {note}")


def _timeline_path(args: argparse.Namespace) -> Path | None:
    # Only where asked: a default file in the current folder surprised people and was
    # overwritten by the next run (issue 26.8).
    if args.no_timeline or not args.timeline:
        return None
    return Path(args.timeline)


def run_process(args: argparse.Namespace) -> int:
    from artjudge.io.keyframes import KeyframeConfig
    from artjudge.models.process import load_process_judge
    from artjudge.models.process.plot import plot_timeline

    inputs = (args.source, args.reference)
    refuse_overwrite(args.output, inputs, force=args.force, option="--output")
    refuse_overwrite(_timeline_path(args), inputs, force=args.force, option="--timeline")
    judge = load_process_judge(args.model, runtime=args.runtime)
    if args.follow:
        return _follow(judge, args)
    kcfg = KeyframeConfig(
        every_k=args.every_k, min_keyframes=args.min_keyframes, max_keyframes=args.max_keyframes
    )
    res = judge.judge(args.source, reference=args.reference, prompt=args.prompt, keyframes=kcfg)
    if args.format == "json" and args.output:
        print(f"wrote {args.output}", file=sys.stderr)  # the JSON goes to the file, not also to the screen
    else:
        _print_result(res, args.format)
    out = _timeline_path(args)
    if out is not None:
        plot_timeline(
            res.timeline, res.keyframe_indices, out, title=str(args.source), signals=res.signals.get("frames")
        )
        print(f"timeline: {out}", file=sys.stderr)
    if args.output:
        atomic_write_json(args.output, res.to_dict(), ensure_ascii=True)
    return 0


def _follow(judge: Any, args: argparse.Namespace) -> int:
    """Poll a folder; fold each new frame into the cache; stop after --idle-timeout.

    Each line printed carries the scores on 0-100 (as the record); ``--output`` gets the
    ``ProcessAssessment`` of every frame that arrived."""
    from artjudge.errors import InputError
    from artjudge.io.keyframes import list_frame_files
    from artjudge.models.process.plot import plot_timeline

    folder = Path(args.source)
    if not folder.is_dir():
        raise InputError(str(folder), "--follow needs a folder to watch")
    judge.start(reference=args.reference, prompt=args.prompt)
    seen: set[Path] = set()
    timeline: list[dict[str, float]] = []
    last_new = time.monotonic()
    while True:
        new = [p for p in list_frame_files(folder) if p not in seen]
        for p in new:
            try:
                size = p.stat().st_size
                time.sleep(0.05)
                if p.stat().st_size != size or size == 0:
                    continue  # still being written; next scan
                scores = judge.update(p)
            except InputError as err:
                print(f"artjudge: skipped {err}", file=sys.stderr)
                seen.add(p)
                continue
            seen.add(p)
            timeline.append(scores)
            last_new = time.monotonic()
            line = {
                "frame": p.name,
                "n": len(timeline),
                "scores": {k: round(10.0 * v, 3) for k, v in scores.items()},
            }
            print(dumps_strict(line), flush=True)
        if time.monotonic() - last_new > args.idle_timeout:
            break
        time.sleep(args.poll)
    if not timeline:
        raise InputError(str(folder), f"no frame arrived within {args.idle_timeout:g} s")
    rec = judge.record(
        str(folder), timeline, list(range(len(timeline))), reference=args.reference, prompt=args.prompt
    )
    out = _timeline_path(args)
    if out is not None:
        plot_timeline(
            rec.timeline,
            rec.keyframe_indices,
            out,
            title=f"{folder} (live)",
            signals=rec.signals.get("frames"),
        )
        print(f"timeline: {out}", file=sys.stderr)
    if args.output:
        atomic_write_json(args.output, rec.to_dict(), ensure_ascii=True)
    return 0
