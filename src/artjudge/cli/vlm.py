"""``artjudge train-vlm``, ``merge-vlm``, ``vlm-tokens`` and ``vlm-tiny``: fine-tune, inspect, try VLM scorers.

Scoring, critique and pairwise judging with a trained VLM go through the usual commands
with ``--model vlm:PATH`` / ``--judge vlm:PATH``.
"""

from __future__ import annotations

import argparse
from typing import Any


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _ints(text: str) -> list[int]:
    return [int(t) for t in _csv(text)]


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dtype", default="auto", help="auto (bf16 on GPU, fp32 on CPU), bf16, fp16, fp32")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument(
        "--resolution",
        type=int,
        default=448,
        help="square input size in pixels (Qwen-VL; InternVL and LLaVA use their vision tower's own size)",
    )
    p.add_argument(
        "--allow-download",
        action="store_true",
        help="let transformers fetch a hub id that is not cached (off by default: offline)",
    )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train-vlm",
        help="fine-tune a vision-language model with LoRA to score (and describe) art",
        description="LoRA fine-tuning of a VLM: ArtiMuse's two stages (--recipe artimuse: text rank 16, "
        "then score token rank 128) or ArtQuant's (--recipe artquant: multi-task, then score-only).",
    )
    p.add_argument("--base", required=True, help="base VLM: a local folder or a hub id already on disk")
    p.add_argument(
        "--manifest",
        required=True,
        help="artjudge manifest, or JSONL/CSV/Parquet with path, score, "
        "std, text, attr.<key>, text.<key> columns",
    )
    p.add_argument("--out", required=True, help="output folder (adapters, score_tokens.json, checkpoints)")
    p.add_argument("--recipe", default="artimuse", choices=["artimuse", "artquant"])
    p.add_argument(
        "--stages", type=_csv, default=None, help="override the recipe: e.g. text,score or mat,sot"
    )
    p.add_argument("--ranks", type=_ints, default=None, help="LoRA rank per stage, e.g. 16,128")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument(
        "--max-steps", type=int, default=None, help="optimizer steps per stage (overrides --epochs)"
    )
    p.add_argument("--batch-size", type=int, default=2, help="rows per micro-batch")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimizer step")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--train-vision", action="store_true", help="also train the vision encoder (full weights)")
    p.add_argument("--train-projector", action="store_true", help="also train the vision-language projector")
    p.add_argument("--levels", action="store_true", help="also train Level-As-Score (5 levels)")
    p.add_argument("--attributes", type=_csv, default=None, help="attr.<key> columns to train (default: all)")
    p.add_argument("--split", default="train", help="manifest split to train on ('' for all rows)")
    p.add_argument("--images-root", default=None, help="folder that relative image paths resolve against")
    p.add_argument("--limit", type=int, default=None, help="use only the first N rows")
    p.add_argument("--save-every", type=int, default=50, help="checkpoint every N optimizer steps")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--merge", action="store_true", help="also write OUT/merged: LoRA merged into the base")
    p.add_argument(
        "--gradient-checkpointing", action="store_true", help="trade compute for activation memory"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    _add_model_flags(p)
    p.set_defaults(func=_train)

    m = subparsers.add_parser("merge-vlm", help="merge a trained VLM folder's LoRA adapters into its base")
    m.add_argument("path", help="folder written by train-vlm")
    m.add_argument(
        "--out", default=None, help="where to write (default PATH/merged); refused if it holds files"
    )
    m.add_argument(
        "--force", action="store_true", help="replace an existing --out folder (never PATH or the base model)"
    )
    _add_model_flags(m)
    m.set_defaults(func=_merge)

    t = subparsers.add_parser(
        "vlm-tokens", help="show the Token-As-Score and level tokens found in a VLM's vocabulary"
    )
    t.add_argument("path", help="a VLM folder or a hub id on disk (only its tokenizer is read)")
    t.add_argument("--allow-download", action="store_true")
    t.add_argument(
        "--json", action="store_true", help="print the mapping as indented JSON instead of a listing"
    )
    t.set_defaults(func=_tokens)

    y = subparsers.add_parser(
        "vlm-tiny",
        help="write a tiny, randomly initialised VLM folder to try every vlm:PATH command offline",
        description="Writes the tiny VLM the tests use (offline tokenizer, hidden size 32, random weights): "
        "its scores mean nothing, but `artjudge assess --model vlm:OUT` and `artjudge batch "
        "--model vlm:OUT` run end to end with it.",
    )
    y.add_argument("out", help="output folder (must be empty or absent unless --force)")
    y.add_argument("--family", default="qwen2_5_vl", help="qwen2_5_vl (default), qwen3_vl, internvl or llava")
    y.add_argument("--image-size", type=int, default=112, help="input size in pixels (default 112)")
    y.add_argument("--force", action="store_true", help="write into a non-empty OUT (its files are replaced)")
    y.set_defaults(func=_tiny)


def _train(args: argparse.Namespace) -> int:
    from artjudge.train.vlm import VLMTrainConfig, train_vlm

    cfg = VLMTrainConfig(
        base=args.base,
        manifest=args.manifest,
        out=args.out,
        recipe=args.recipe,
        stages=args.stages,
        ranks=args.ranks,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        grad_accum=args.grad_accum,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        train_vision=args.train_vision,
        train_projector=args.train_projector,
        levels=args.levels,
        attributes=args.attributes,
        split=args.split or None,
        images_root=args.images_root,
        limit=args.limit,
        save_every=args.save_every,
        resume=args.resume,
        merge=args.merge,
        dtype=args.dtype,
        device=args.device,
        resolution=args.resolution,
        allow_download=args.allow_download,
        gradient_checkpointing=args.gradient_checkpointing,
        seed=args.seed,
        progress=not args.no_progress,
    )
    summary = train_vlm(cfg)
    for st in summary["stages"]:
        print(
            f"{st['tag']}: rank {st['rank']}, {st['steps']} steps, loss {st['first_loss']:.4f} -> "
            f"{st['last_loss']:.4f}, adapter {summary['out']}/{st['adapter']}"
        )
    if "merged" in summary:
        print(f"merged model: {summary['merged']}")
    print(f"score with: artjudge assess --model vlm:{summary['out']} IMAGE")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from artjudge.io.files import refuse_overwrite
    from artjudge.train.vlm import merge_checkpoint

    out = Path(args.out) if args.out else Path(args.path) / "merged"
    # before loading anything: an existing folder is replaced only with --force, and never when
    # it is (or holds) the trained folder or its base model, whatever the flags
    refuse_overwrite(out, [args.path, *_base_of(args.path)], force=args.force, option="--out")
    merged = merge_checkpoint(
        args.path,
        out,
        replace=args.force,
        dtype=args.dtype,
        device=args.device,
        resolution=args.resolution,
        allow_download=args.allow_download,
    )
    print(f"merged model: {merged}")
    return 0


def _base_of(path: str) -> list[str]:
    """The base model folder a trained VLM folder names (an input of the merge), if it is local."""
    from pathlib import Path

    from artjudge.errors import ArtjudgeError
    from artjudge.models.vlm.core import read_meta

    try:
        meta = read_meta(Path(path))
    except (ArtjudgeError, OSError, ValueError):
        return []
    if meta is None or not meta.base:
        return []
    base = meta.base
    local = Path(path) / base if not Path(base).is_absolute() else Path(base)
    return [str(local)] if local.exists() else []


def _tokens(args: argparse.Namespace) -> int:
    from transformers import AutoTokenizer

    from artjudge.errors import ModelNotAvailable
    from artjudge.io.files import dumps_strict
    from artjudge.models.vlm.core import LEVEL_PREFIX, SCORE_PREFIX
    from artjudge.models.vlm.tokens import find_level_tokens, find_score_tokens
    from artjudge.scoring import LEVEL_NAMES

    try:
        tok = AutoTokenizer.from_pretrained(args.path, local_files_only=not args.allow_download)
    except OSError as err:
        raise ModelNotAvailable(f"{args.path}: tokenizer not found locally ({err})") from err
    score = find_score_tokens(tok, answer_prefix=SCORE_PREFIX)
    level = find_level_tokens(tok, answer_prefix=LEVEL_PREFIX)
    if args.json:
        print(
            dumps_strict({"score": score.to_dict(), "level": level.to_dict()}, ensure_ascii=False, indent=2)
        )
        return 0
    print(format_tokens("score tokens (Token-As-Score)", [str(i) for i in range(len(score.ids))], score))
    print()
    print(format_tokens("level tokens (Level-As-Score)", list(LEVEL_NAMES), level))
    return 0


def format_tokens(title: str, labels: list[str], tokens: Any, width: int = 80) -> str:
    """A readable listing of which token stands for which score or level, as many as fit in ``width``."""
    head = (
        f"{title}: {len(tokens.ids)} tokens\n  family {tokens.family!r}, read after {tokens.answer_prefix!r}"
    )
    lw = max(len(label) for label in labels)
    sw = max(len(repr(t)) for t in tokens.strings)
    cells = [
        f"{label:>{lw}} {t!r:<{sw}} {i:<6}  "
        for label, t, i in zip(labels, tokens.strings, tokens.ids, strict=True)
    ]
    per_line = max(1, (width - 2) // len(cells[0]))
    lines = ["  " + "".join(cells[k : k + per_line]).rstrip() for k in range(0, len(cells), per_line)]
    legend = f"  each entry: {'score' if lw <= 3 else 'level'}, token, token id"
    return "\n".join([head, legend, *lines])


def _tiny(args: argparse.Namespace) -> int:
    from pathlib import Path

    from artjudge.errors import InputError
    from artjudge.io.files import refuse_overwrite
    from artjudge.models.vlm.tiny import FAMILIES, build_tiny_vlm

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a folder")
    refuse_overwrite(out, (), force=args.force, option="OUT")  # the one rule every CLI output follows
    if args.family not in FAMILIES:
        raise InputError("--family", f"{args.family!r} is not one of {', '.join(FAMILIES)}")
    if args.image_size < 28:
        raise InputError("--image-size", f"{args.image_size} is too small (at least 28)")
    build_tiny_vlm(args.family, out, image_size=args.image_size)
    print(f"wrote a tiny random {args.family} VLM to {out} (scores are random: for trying, not judging)")
    print(f"try: artjudge assess --model vlm:{out} IMAGE")
    return 0
