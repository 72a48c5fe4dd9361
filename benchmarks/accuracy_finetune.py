"""Frozen encoder vs partial fine-tuning of its top, by grouped 5-fold CV on AGIQA-3K train+val.

    nice -n 10 python benchmarks/accuracy_finetune.py --threads 1 --only frozen,lora8 --out accuracy_finetune
    nice -n 10 python benchmarks/accuracy_finetune.py --threads 1 --only tune1 --folds 1 --out ft_tune1_f1
    python benchmarks/accuracy_finetune.py --merge accuracy_finetune,ft_tune1_f1 --out accuracy_finetune_all
    nice -n 10 python benchmarks/accuracy_finetune.py --step-cost --out accuracy_finetune   # CPU ms per step
    nice -n 10 python benchmarks/accuracy_finetune.py --test frozen,lora8 --out accuracy_finetune  # once

The folds are those of ``benchmarks/accuracy_cv.py`` (GroupKFold over prompts on the 1,905
train+val images, the same inner val split of 1/7 of each fold's training prompts): ``frozen``,
today's shipped recipe (``fit_head`` on the frozen features, 4 epochs, best epoch on the inner
val) reproduces that script's per-fold figures exactly. Tuned candidates
(:mod:`artjudge.train.finetune`, same recipe) move the head conv (``tune0``), block 15 too
(``tune1``), blocks 14-15 too (``tune2``), or a rank-R adapter on the head conv with its BN
affine (``lora8``, ``lora32``); ``top_frozen`` is their control (the same head, top_lr 0). The
frozen lower activations of every image are computed once from the cached trunk maps and kept
under ``--act-cache``. CPU seconds (process time) and wall seconds per fit are recorded; use
``--threads 1`` on a shared machine (two spinning intra-op threads cost 5x the CPU time there).

Runs are saved after every fold; ``--folds`` and ``--merge`` split candidates or folds over
parallel processes and tabulate them together (paired against ``frozen`` on the folds every
candidate finished). ``--test`` trains the named candidates on the train split (best epoch on
val: the shipped recipe) and scores the test split once; ``shipped`` there is the shipped head.
Writes benchmarks/results/NAME.json (CV), NAME_steps.json or NAME_test.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, print_table, save_results  # noqa: E402
from accuracy_cv import FOLDS, FoldScore  # noqa: E402


@dataclass(frozen=True)
class Candidate:
    """One way of training the scorer on a fold's training rows."""

    name: str
    tune_blocks: int | None = None  # None: frozen encoder (fit_head); 0-2: artjudge.train.finetune
    rank: int | None = None  # a low-rank adapter on the head conv (tune_blocks 0) instead of the whole conv
    epochs: int = 4
    lr: float = 1e-3
    top_lr: float = 2e-4
    replace: bool = False  # the tuned head-conv statistics replace their frozen copies (else appended)
    seed: int = 0


CANDIDATES = [
    Candidate("frozen"),
    Candidate("lora8", tune_blocks=0, rank=8, top_lr=1e-3),
    Candidate("lora8_lr3e-3", tune_blocks=0, rank=8, top_lr=3e-3),
    Candidate("lora32", tune_blocks=0, rank=32, top_lr=1e-3),
    # control: the same head with the top's layers frozen (top_lr 0): what the extra, at first
    # duplicated, head-conv statistics do to the ensemble without any tuning
    Candidate("top_frozen", tune_blocks=0, rank=8, top_lr=0.0),
    # the tuned statistics replace their frozen copies instead of being appended
    Candidate("lora8_lr3e-3_r", tune_blocks=0, rank=8, top_lr=3e-3, replace=True),
    Candidate("tune1_r", tune_blocks=1, replace=True),
    Candidate("tune0", tune_blocks=0),
    Candidate("tune1", tune_blocks=1),
    Candidate("tune2", tune_blocks=2),
]


def lower_cache(feats: Any, cache: Path, tune_blocks: int, adapter: bool) -> Any:
    """Every image's :func:`lower_activations` for one mode, computed once and kept as .npy files."""
    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.train.finetune import LowerActivations, lower_activations

    name = f"lower{tune_blocks}{'_adapter' if adapter else ''}_{len(feats)}"
    xf, zf = cache / f"{name}_x.npy", cache / f"{name}_z.npy"
    if xf.is_file() and (zf.is_file() or not adapter):
        return LowerActivations(np.load(xf, mmap_mode="r"), np.load(zf, mmap_mode="r") if adapter else None)
    t0 = time.perf_counter()
    got = lower_activations(ScoringHead(HeadConfig(tune_top=True)), feats.trunk, tune_blocks, adapter=adapter)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(xf, got.x)
    if got.z is not None:
        np.save(zf, got.z)
    print(f"  lower activations ({name}) in {time.perf_counter() - t0:.0f} s", flush=True)
    return got


def all_features(paths: list[str]) -> Any:
    """(pooled, handcrafted, trunk) of every image at 384 px through the ONNX encoder, cached."""
    from artjudge.features.cache import FeatureCache
    from artjudge.features.extract import FeatureExtractor, cache_key
    from artjudge.features.onnx_encoder import OnnxEncoder
    from artjudge.models.weights import ENCODER_ONNX, read_verified

    extractor = FeatureExtractor(
        384,
        encoder=OnnxEncoder(read_verified(ENCODER_ONNX)),
        cache=FeatureCache(None, encoder_key=cache_key(384)),
        keep_trunk=True,
    )
    t0 = time.perf_counter()
    fb = extractor.encode_paths(paths)
    print(f"  {len(paths)} images in {time.perf_counter() - t0:.0f} s", flush=True)
    return fb


def fit_predict(
    cand: Candidate,
    views: dict[str, Any],
    y: np.ndarray,
    sd: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> tuple[np.ndarray, float, float]:
    """Train on rows[0] (epoch picked on rows[1]), predict rows[2]; CPU and wall seconds."""
    from artjudge.features.extract import FeatureBatch
    from artjudge.models.head import HeadConfig
    from artjudge.train.finetune import fit_tuned_head, frozen_start, predict_lower
    from artjudge.train.head import HeadTrainConfig, Targets, fit_head, predict_scores

    train_rows, val_rows, eval_rows = rows
    feats = views["orig"]

    def targets(r: np.ndarray) -> Targets:
        return Targets({"overall": y[r]}, {"overall": sd[r]})

    config = HeadTrainConfig(
        head=HeadConfig(tune_top=cand.tune_blocks is not None),
        epochs=cand.epochs,
        lr=cand.lr,
        top_lr=cand.top_lr,
        seed=cand.seed,
    )
    c0, w0 = time.process_time(), time.perf_counter()
    if cand.tune_blocks is None:
        frozen = FeatureBatch(feats.pooled, feats.handcrafted, np.zeros((len(feats), 0), np.float16))
        result = fit_head(
            frozen.take(train_rows), targets(train_rows), frozen.take(val_rows), targets(val_rows), config
        )
        pred = predict_scores(result.head, frozen.take(eval_rows))["overall"]
    else:
        key = f"lower{cand.tune_blocks}{'_adapter' if cand.rank else ''}"
        lower = views[key]
        result = fit_tuned_head(
            feats.take(train_rows),
            targets(train_rows),
            feats.take(val_rows),
            targets(val_rows),
            config,
            cand.tune_blocks,
            rank=cand.rank,
            lower=(lower.take(train_rows), lower.take(val_rows)),
            replace_frozen_top=cand.replace,
        )
        # the merged head on the same cached activations: the adapter is gone, the conv changed
        plain = views[f"lower{cand.tune_blocks}"]
        pred = predict_lower(
            result.head, feats.take(eval_rows), plain.take(eval_rows), frozen_start(cand.tune_blocks)
        )
        pred = pred["overall"]
    return pred, time.process_time() - c0, time.perf_counter() - w0


def step_costs(
    views: dict[str, Any], y: np.ndarray, sd: np.ndarray, pool: np.ndarray, n: int = 128
) -> dict[str, float]:
    """CPU ms per training image per epoch of each candidate, on ``n`` real rows (one epoch each).

    The figure that decides which candidates a 2-core machine can cross-validate: a fit is about
    ``ms * rows * epochs``. Activations below the tuned layers come from the trunk maps here.
    """
    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.train.finetune import LowerActivations, lower_activations

    rows = (pool[:n], pool[n : n + 32], pool[n + 32 : n + 64])
    out: dict[str, float] = {}
    for c in CANDIDATES:
        local = dict(views)
        if c.tune_blocks is not None:  # this subset's lower activations, whatever the cache holds
            top = ScoringHead(HeadConfig(tune_top=True))
            sub = np.concatenate(rows)
            trunk = views["orig"].trunk[sub]
            got = lower_activations(top, trunk, c.tune_blocks, adapter=c.rank is not None)
            full = LowerActivations(np.zeros((len(y), *got.x.shape[1:]), np.float32))
            full.x[sub] = got.x
            if got.z is not None:
                full.z = np.zeros((len(y), *got.z.shape[1:]), np.float32)
                full.z[sub] = got.z
            local[f"lower{c.tune_blocks}{'_adapter' if c.rank else ''}"] = full
            local[f"lower{c.tune_blocks}"] = LowerActivations(full.x)
        _, cpu, _ = fit_predict(replace(c, epochs=1), local, y, sd, rows)
        out[c.name] = round(cpu / n * 1000, 1)
        print(f"  {c.name}: {out[c.name]:.1f} CPU ms per training image per epoch", flush=True)
    return out


def add_lower_views(views: dict[str, Any], cands: list[Candidate], cache: Path) -> None:
    """The cached activations each tuned candidate reads (one set per mode)."""
    from artjudge.train.finetune import LowerActivations

    for c in sorted((c for c in cands if c.tune_blocks is not None), key=lambda c: c.rank is None):
        plain = f"lower{c.tune_blocks}"
        if c.rank is not None and plain + "_adapter" not in views:
            views[plain + "_adapter"] = lower_cache(views["orig"], cache, c.tune_blocks, True)
        if plain not in views:  # an adapter's x is the same array
            got = views.get(plain + "_adapter")
            views[plain] = (
                LowerActivations(got.x) if got else lower_cache(views["orig"], cache, c.tune_blocks, False)
            )


def shipped_predictions(feats: Any) -> np.ndarray:
    """The shipped default head's scores on cached features (torch engine, same numbers as assess)."""
    from artjudge.features.extract import FeatureBatch
    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.models.weights import PACKAGE_WEIGHTS, load_checkpoint
    from artjudge.train.head import predict_scores

    state, card = load_checkpoint(PACKAGE_WEIGHTS / "default")
    head = ScoringHead(HeadConfig(**card["config"]["head"]))
    head.load_state_dict(state)
    fb = FeatureBatch(feats.pooled, feats.handcrafted, np.zeros((len(feats), 0), np.float16))
    return predict_scores(head, fb)["overall"]


def run_test(names: list[str], df: Any, views: dict[str, Any], args: argparse.Namespace) -> int:
    """Train each candidate as it would ship (train split, epoch on val) and score test once."""
    from artjudge.eval import metrics

    split = df["split"].to_numpy()
    y, sd = df["score"].to_numpy(dtype=float), df["std"].to_numpy(dtype=float)
    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "val", "test"))
    by_name = {c.name: c for c in CANDIDATES}
    out: dict[str, Any] = {"fit_seconds": {}}
    preds = {"shipped": shipped_predictions(views["orig"].take(te))}
    for name in names:
        if name != "shipped":
            preds[name], cpu, wall = fit_predict(by_name[name], views, y, sd, (tr, va, te))
            out["fit_seconds"][name] = {"cpu": round(cpu, 1), "wall": round(wall, 1)}
    rows = []
    for name, pred in preds.items():
        rep = metrics.report(pred, y[te], bootstrap=1000).to_dict()
        out[name] = {"srcc": rep["srcc"], "plcc": rep["plcc"]}
        rows.append([name, f"{rep['srcc']['value']:.4f}", f"{rep['plcc']['value']:.4f}"])
    print_table(f"AGIQA-3K test (n={len(te)}), scored once", ["candidate", "SRCC", "PLCC"], rows)
    print(f"wrote {save_results(args.out + '_test', {'test_once': out})}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "agiqa-3k")
    ap.add_argument("--only", default="frozen,lora8,tune0", help="comma-separated candidate names")
    ap.add_argument("--folds", default="", help="comma-separated fold numbers to run (default: all 5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="accuracy_finetune", help="results name under benchmarks/results/")
    ap.add_argument(
        "--test", default="", help="score these candidates on the test split once (pick by CV first)"
    )
    ap.add_argument(
        "--merge", default="", help="comma-separated results names (same folds) to tabulate together"
    )
    ap.add_argument(
        "--step-cost", action="store_true", help="only time one epoch of every candidate on 128 rows"
    )
    ap.add_argument(
        "--act-cache",
        type=Path,
        default=Path.home() / ".cache" / "artjudge" / "lower-lite0-384",
        help="where the frozen lower activations of every image are kept between runs",
    )
    args = ap.parse_args()

    import torch
    from sklearn.model_selection import GroupKFold

    from artjudge.data import read_dataset
    from artjudge.eval import metrics

    torch.set_num_threads(args.threads)
    df = read_dataset("agiqa-3k", args.data).frame
    names = [n for n in (args.test or args.only).split(",") if n]
    cands = [c for c in CANDIDATES if c.name in names]
    pool = np.flatnonzero(df["split"].to_numpy() != "test")  # train + val only: test is never read here
    y, sd = df["score"].to_numpy(dtype=float), df["std"].to_numpy(dtype=float)
    prompts = df["prompt"].astype(str).to_numpy()[pool]
    folds = list(GroupKFold(n_splits=FOLDS).split(pool, groups=prompts))
    if args.merge:
        return merge([n for n in args.merge.split(",") if n], y, pool, folds, args.out)
    print(f"features for {len(df)} images (the test rows are read only with --test)", flush=True)
    views = {"orig": all_features(df["path"].astype(str).tolist())}
    if args.step_cost:
        print(
            f"wrote {save_results(args.out + '_steps', {'cpu_ms_per_image_epoch': step_costs(views, y, sd, pool)})}"
        )
        return 0
    add_lower_views(views, cands, args.act_cache)
    if args.test:
        return run_test(names, df, views, args)
    wanted = {int(k) for k in args.folds.split(",") if k} or set(range(1, FOLDS + 1))
    rng = np.random.default_rng(0)
    oof = {c.name: np.full(len(df), np.nan) for c in cands}
    secs: dict[str, dict[str, list[float]]] = {c.name: {"cpu": [], "wall": []} for c in cands}
    done = []
    for k, (fit_rows, eval_rows) in enumerate(folds):
        fit_prompts = np.unique(prompts[fit_rows])
        held = set(rng.permutation(fit_prompts)[: round(len(fit_prompts) / 7)])  # as accuracy_cv.py
        if k + 1 not in wanted:
            continue
        inner_val = fit_rows[np.isin(prompts[fit_rows], list(held))]
        rows = (pool[np.setdiff1d(fit_rows, inner_val)], pool[inner_val], pool[eval_rows])
        done.append(rows[2])
        for c in cands:
            pred, cpu, wall = fit_predict(c, views, y, sd, rows)
            oof[c.name][rows[2]] = pred
            secs[c.name]["cpu"].append(cpu)
            secs[c.name]["wall"].append(wall)
            print(
                f"fold {k + 1}/{FOLDS} {c.name}: SRCC {metrics.srcc(pred, y[rows[2]]):.4f} "
                f"PLCC {metrics.plcc(pred, y[rows[2]]):.4f}  ({cpu / 60:.2f} CPU min, {wall / 60:.2f} min)",
                flush=True,
            )
        # saved after every fold: a long run stopped early keeps the folds it finished
        report(oof, y, pool, done, secs, cands, [j + 1 for j in range(k + 1) if j + 1 in wanted], args.out)
    return 0


def report(
    oof: dict[str, np.ndarray],
    y: np.ndarray,
    pool: np.ndarray,
    done: list[np.ndarray],
    secs: dict[str, dict[str, list[float]]],
    cands: list[Candidate],
    folds_run: list[int],
    out: str,
) -> int:
    """The CV table (printed) and its JSON, out-of-fold predictions included."""
    table = summarise(oof, y, done, secs)
    print_table(
        f"AGIQA-3K grouped CV on train+val, folds {folds_run} (n={len(pool)})",
        [
            "candidate",
            "folds",
            "SRCC mean",
            "PLCC mean",
            "SRCC - frozen (paired sd)",
            "PLCC - frozen",
            "CPU min / fit",
        ],
        [
            [
                n,
                str(t["folds"]),
                f"{t['srcc_mean']:.4f}",
                f"{t['plcc_mean']:.4f}",
                (f"{t['srcc_delta_vs_frozen']:+.4f}" if "srcc_delta_vs_frozen" in t else "")
                + (f" ({t['srcc_delta_sd']:.4f})" if "srcc_delta_sd" in t else ""),
                f"{t['plcc_delta_vs_frozen']:+.4f}" if "plcc_delta_vs_frozen" in t else "",
                f"{t['cpu_min_per_fit']:.2f}",
            ]
            for n, t in table.items()
        ],
    )
    path = save_results(
        out,
        {
            "protocol": f"GroupKFold({FOLDS}) over prompts on AGIQA-3K train+val (accuracy_cv.py's folds); "
            "test split never read",
            "folds_run": folds_run,
            "n": int(len(pool)),
            "candidates": [asdict(c) for c in cands],
            "cv": table,
            "note": "each candidate over the folds it finished ('folds'); deltas paired with frozen on those",
            "fit_seconds": secs,
            "oof": {
                n: [None if np.isnan(v) else round(float(v), 4) for v in p[pool]] for n, p in oof.items()
            },
        },
    )
    print(f"wrote {path}")
    return 0


def merge(names: list[str], y: np.ndarray, pool: np.ndarray, folds: list[Any], out: str) -> int:
    """One table from runs on the same folds (parallel processes: other candidates or other folds)."""
    import json

    from _common import RESULTS

    oof: dict[str, np.ndarray] = {}
    secs: dict[str, dict[str, list[float]]] = {}
    covered: dict[str, set[int]] = {}
    for name in names:
        got = json.loads((RESULTS / f"{name}.json").read_text())
        for cand, pred in got["oof"].items():
            rows = pool[np.concatenate([folds[k - 1][1] for k in got["folds_run"]])]
            oof.setdefault(cand, np.full(len(y), np.nan))[rows] = np.array(pred, dtype=float)[
                np.searchsorted(pool, rows)
            ]
            covered.setdefault(cand, set()).update(got["folds_run"])
            for key in ("cpu", "wall"):
                secs.setdefault(cand, {"cpu": [], "wall": []})[key] += got["fit_seconds"][cand][key]
    folds_run = sorted(set.union(*covered.values()))  # each candidate is scored on the folds it finished
    done = [pool[folds[k - 1][1]] for k in folds_run]
    order = ["frozen", *[c for c in oof if c != "frozen"]]  # frozen first: the paired baseline
    by_name = {c.name: c for c in CANDIDATES}
    oof = {c: oof[c] for c in order if c in oof}
    return report(oof, y, pool, done, secs, [by_name[c] for c in oof], folds_run, out)


def summarise(
    oof: dict[str, np.ndarray], y: np.ndarray, done: list[np.ndarray], secs: dict[str, dict[str, list[float]]]
) -> dict[str, dict[str, Any]]:
    """Per candidate, over the folds it finished: mean (and sd), paired differences against
    ``frozen`` on those same folds, minutes per fit."""
    from artjudge.eval import metrics

    def scores(pred: np.ndarray, folds: list[int]) -> FoldScore:
        return FoldScore(
            [metrics.srcc(pred[done[k]], y[done[k]]) for k in folds],
            [metrics.plcc(pred[done[k]], y[done[k]]) for k in folds],
        )

    table: dict[str, dict[str, Any]] = {}
    for name, pred in oof.items():
        folds = [k for k, e in enumerate(done) if np.isfinite(pred[e]).all()]
        if not folds:
            continue
        fs = scores(pred, folds)
        row: dict[str, Any] = {"folds": len(folds), "srcc_mean": float(np.mean(fs.srcc))}
        row["plcc_mean"] = float(np.mean(fs.plcc))
        if len(folds) > 1:
            row.update(fs.summary())
        row.update(srcc_folds=fs.srcc, plcc_folds=fs.plcc)
        row["cpu_min_per_fit"] = float(np.mean(secs[name]["cpu"]) / 60)
        row["wall_min_per_fit"] = float(np.mean(secs[name]["wall"]) / 60)
        if "frozen" in oof and name != "frozen":  # paired over the same folds
            base = scores(oof["frozen"], folds)
            diff = np.subtract(fs.srcc, base.srcc)
            row["srcc_delta_vs_frozen"] = float(diff.mean())
            row["plcc_delta_vs_frozen"] = float(np.mean(np.subtract(fs.plcc, base.plcc)))
            if len(folds) > 1:
                row["srcc_delta_sd"] = float(diff.std(ddof=1))
        table[name] = row
    return table


if __name__ == "__main__":
    sys.exit(main())
