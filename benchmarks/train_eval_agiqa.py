"""Train the embedded head on AGIQA-3K's train split, evaluate on its test split.

One command reproduces the shipped default from the data and reports it the way
`artjudge eval` does (same manifest, same split, same metrics), beside a baseline
measured in the same run: ridge regression on the same frozen features the head reads.

    python benchmarks/train_eval_agiqa.py                      # full run
    python benchmarks/train_eval_agiqa.py --set epochs=5       # quicker, for a smoke check

Writes benchmarks/train_eval_agiqa.md, benchmarks/results/train_eval_agiqa.json and the
report folder benchmarks/results/train_eval_agiqa/ (report.json, scatter.png, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "agiqa-3k"))
    ap.add_argument(
        "--checkpoint",
        default=str(ROOT / "runs" / "train_eval_agiqa"),
        help="where the trained head is written (default: runs/train_eval_agiqa)",
    )
    ap.add_argument("--config", help="HeadTrainConfig YAML/JSON (default: HeadTrainConfig defaults)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    import artjudge
    from artjudge.cli.data import load_config_file
    from artjudge.data import read_dataset
    from artjudge.eval import metrics
    from artjudge.eval.report import evaluate
    from artjudge.train import head as training

    if not hasattr(training, "train_head"):
        print("artjudge.train.head.train_head is not available in this build", file=sys.stderr)
        return 2
    m = read_dataset("agiqa-3k", args.data)
    config = training.HeadTrainConfig.from_dict(load_config_file(args.config, args.set))
    ckpt = Path(args.checkpoint)

    t0 = time.perf_counter()
    result = training.train_head(m, config, ckpt).card
    train_s = time.perf_counter() - t0

    scorer = artjudge.load(str(ckpt))
    test = m.select("test")
    t1 = time.perf_counter()
    records = scorer.assess_many(
        test.frame["path"].tolist(), batch_size=16, progress=sys.stderr.isatty(), skip_errors=True
    )
    score_s = time.perf_counter() - t1
    model_info = {"id": str(scorer.model_id), "version": str(scorer.model_version)}
    report = evaluate(records, m, "test", bootstrap=args.bootstrap, seed=0, model=model_info)
    report_dir = HERE / "results" / "train_eval_agiqa"
    report.save(report_dir)

    rows: list[dict[str, Any]] = [{"method": f"trained head ({model_info['id']})", **_row(report.overall)}]
    baseline: dict[str, Any] | None = None
    if not args.no_baseline:
        from sklearn.linear_model import RidgeCV

        train = m.select("train")
        t2 = time.perf_counter()
        x_tr = scorer.embed(train.frame["path"].tolist())
        x_te = scorer.embed(test.frame["path"].tolist())
        ridge = RidgeCV(alphas=np.logspace(-2, 4, 13)).fit(x_tr, train.frame["score"].to_numpy())
        pred = ridge.predict(x_te)
        base = metrics.report(
            pred, test.frame["score"].to_numpy(), bootstrap=args.bootstrap, seed=0, scale=m.scale
        )
        baseline = {
            "method": "ridge on the same frozen features",
            "alpha": float(ridge.alpha_),
            "seconds": time.perf_counter() - t2,
            **_row(base),
        }
        rows.append(baseline)

    history = getattr(result, "history", None)
    out = {
        "benchmark": "train_eval_agiqa",
        "command": "python benchmarks/train_eval_agiqa.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "dataset": "agiqa-3k",
        "split": "test (by prompt, seed 0)",
        "n_test": report.n,
        "n_train": m.split_counts()["train"],
        "n_val": m.split_counts()["val"],
        "config": config.to_dict(),
        "train_seconds": train_s,
        "score_seconds": score_s,
        "best_epoch": result.get("best_epoch"),
        "best_val_srcc": (result.get("metrics") or {}).get("val_overall_srcc"),
        "epochs_run": len(history) if history else None,
        "model": model_info,
        "rows": rows,
        "report": report.to_dict(),
    }
    (HERE / "results").mkdir(parents=True, exist_ok=True)
    (HERE / "results" / "train_eval_agiqa.json").write_text(
        json.dumps(out, indent=2, default=str), encoding="utf-8"
    )
    md = _markdown(out, report.format_table())
    (HERE / "train_eval_agiqa.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


def _row(r: Any) -> dict[str, Any]:
    def v(x: Any) -> dict[str, float]:
        return {"value": x.value, "lo": x.lo, "hi": x.hi}

    return {
        "n": r.n,
        "srcc": v(r.srcc),
        "plcc": v(r.plcc),
        "plcc_logistic": v(r.plcc_logistic),
        "krcc": v(r.krcc),
        "mae": v(r.mae),
        "acc": v(r.acc),
    }


def _markdown(out: dict[str, Any], table: str) -> str:
    def ci(d: dict[str, float]) -> str:
        return f"{d['value']:.4f} [{d['lo']:.4f}, {d['hi']:.4f}]"

    lines = [
        "# Train on AGIQA-3K, evaluate on its test split",
        "",
        f"Command: `{out['command'].strip()}`",
        "",
        f"Split by prompt (seed 0): {out['n_train']} train, {out['n_val']} val, {out['n_test']} test images. "
        f"Training {out['train_seconds']:.0f} s (best epoch {out['best_epoch']}, val SRCC "
        f"{(out['best_val_srcc'] or float('nan')):.4f}); scoring the test split {out['score_seconds']:.0f} s.",
        "",
        "| method | n | SRCC [95% CI] | PLCC [95% CI] | PLCC (logistic) | KRCC | MAE | ACC |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in out["rows"]:
        lines.append(
            f"| {r['method']} | {r['n']} | {ci(r['srcc'])} | {ci(r['plcc'])} | "
            f"{r['plcc_logistic']['value']:.4f} | {r['krcc']['value']:.4f} | {r['mae']['value']:.2f} | "
            f"{r['acc']['value']:.4f} |"
        )
    lines += [
        "",
        "![prediction vs human score](results/train_eval_agiqa/scatter.png)",
        "",
        "![SRCC per style](results/train_eval_agiqa/categories.png)",
        "",
        "```",
        table,
        "```",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
