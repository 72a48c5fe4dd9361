"""Grouped 5-fold cross-validation on AGIQA-3K train+val: which head recipe to ship.

    nice -n 10 python benchmarks/accuracy_cv.py --only cur --out accuracy_cv_cur      # one MLP recipe
    nice -n 10 python benchmarks/accuracy_cv.py --test cur,cur+tta --out accuracy_cv  # test, once, after CV

Each MLP recipe costs 5 trainings (about 32 min on 2 cores at load 5-15; far less idle); the
blends and the mirrored view are derived from its out-of-fold predictions at no extra cost.

Model choices for the shipped default are made here and never on the test split: the
train and val images (1,905, their prompts) are cut into 5 folds by prompt (GroupKFold over
prompts, the same folds for every candidate), each candidate is trained on four folds and
scored on the fifth, and the table gives mean +- sd over folds of SRCC and PLCC.

Candidates:

* MLP recipes (``HeadTrainConfig`` through ``fit_head``, 8-member Token-As-Score head):
  ``cur`` (the shipped recipe: 4 epochs, best epoch by SRCC on an inner val split of 1/7 of
  the training prompts), ``lastE`` (all training folds, E epochs, last epoch kept: what
  training on train+val does), ``flipaug_*`` (mirrored training copies), ``m16_*`` (16 members),
  ``s224_*`` (the same recipe on 224 px features);
* derived from those out-of-fold predictions: ``+tta`` (mean of the prediction on the image
  and on its mirror image), ``+s224`` (mean with the 224 px head: a second scale),
  ``+svr`` / ``+krr`` (a blend with an SVR / RBF kernel ridge fitted on the same
  standardised features, weight w on the MLP).

Mirrored-view and 224 px features are computed once with the ONNX encoder and cached like
the originals (mirrors under ``SHA256-flip``). Writes benchmarks/results/accuracy_cv.json.
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

FOLDS = 5


@dataclass(frozen=True)
class MlpRecipe:
    """One way of training the MLP head on a fold's training rows."""

    name: str
    epochs: int = 4
    select: str = "best_val"  # or "last": train on every training row, keep the final epoch
    flip_augment: bool = False
    members: int = 8
    resolution: int = 384
    seed: int = 0


RECIPES = [
    MlpRecipe("cur"),
    MlpRecipe("last3", epochs=3, select="last"),
    MlpRecipe("last4", epochs=4, select="last"),
    MlpRecipe("last5", epochs=5, select="last"),
    MlpRecipe("last6", epochs=6, select="last"),
    MlpRecipe("flipaug_cur", flip_augment=True),
    MlpRecipe("flipaug_last4", epochs=4, select="last", flip_augment=True),
    MlpRecipe("m16_cur", members=16),
    MlpRecipe("m16_last4", epochs=4, select="last", members=16),
    MlpRecipe("s224_cur", resolution=224),
    MlpRecipe("s224_last4", epochs=4, select="last", resolution=224),
]


@dataclass
class FoldScore:
    srcc: list[float]
    plcc: list[float]

    def summary(self) -> dict[str, float]:
        return {
            "srcc_mean": float(np.mean(self.srcc)),
            "srcc_sd": float(np.std(self.srcc, ddof=1)),
            "plcc_mean": float(np.mean(self.plcc)),
            "plcc_sd": float(np.std(self.plcc, ddof=1)),
        }


def view_features(paths: list[str], resolution: int, *, flip: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(pooled, handcrafted) of every image (mirrored with ``flip``), ONNX encoder, content-hash cache."""
    from artjudge.features.cache import FeatureCache
    from artjudge.features.extract import FeatureExtractor, cache_key
    from artjudge.features.onnx_encoder import OnnxEncoder
    from artjudge.models.weights import ENCODER_ONNX, read_verified

    extractor = FeatureExtractor(
        resolution,
        encoder=OnnxEncoder(read_verified(ENCODER_ONNX)),
        cache=FeatureCache(None, encoder_key=cache_key(resolution)),
        keep_trunk=False,
    )
    t0 = time.perf_counter()
    fb = extractor.encode_paths(paths, flip=flip)
    print(
        f"  {resolution} px{' mirrored' if flip else ''}: {len(paths)} images in {time.perf_counter() - t0:.0f} s"
    )
    return fb.pooled, fb.handcrafted


def fit_predict_mlp(
    recipe: MlpRecipe,
    views: dict[str, tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    sd: np.ndarray,
    fit_rows: np.ndarray,
    inner_val: np.ndarray,
    eval_rows: np.ndarray,
) -> dict[str, np.ndarray]:
    """Train one head on ``fit_rows`` (minus ``inner_val`` for best_val) and predict ``eval_rows``'s views."""
    from artjudge.features.extract import FeatureBatch
    from artjudge.models.head import HeadConfig
    from artjudge.train.head import HeadTrainConfig, Targets, fit_head, predict_scores

    key = str(recipe.resolution)
    pooled, hand = views[key]

    def batch(rows: np.ndarray, view: str = key) -> FeatureBatch:
        p, h = views[view]
        return FeatureBatch(p[rows], h[rows], np.zeros((len(rows), 0), dtype=np.float16))

    def targets(rows: np.ndarray) -> Targets:
        return Targets({"overall": y[rows]}, {"overall": sd[rows]})

    train_rows = np.setdiff1d(fit_rows, inner_val) if recipe.select == "best_val" else fit_rows
    val_rows = inner_val if recipe.select == "best_val" else eval_rows  # "last": val only logs the curve
    train_b, train_t = batch(train_rows), targets(train_rows)
    if recipe.flip_augment:
        train_b = FeatureBatch.concat([train_b, batch(train_rows, f"{key}-flip")])
        train_t = Targets(
            {"overall": np.concatenate([y[train_rows]] * 2)},
            {"overall": np.concatenate([sd[train_rows]] * 2)},
        )
    config = HeadTrainConfig(
        head=HeadConfig(resolution=recipe.resolution, members=recipe.members),
        epochs=recipe.epochs,
        select_epoch=recipe.select,
        seed=recipe.seed,
    )
    result = fit_head(train_b, train_t, batch(val_rows), targets(val_rows), config)
    out = {"orig": predict_scores(result.head, batch(eval_rows))["overall"]}
    if f"{key}-flip" in views:
        out["flip"] = predict_scores(result.head, batch(eval_rows, f"{key}-flip"))["overall"]
    return out


def closed_form_predictions(
    views: dict[str, tuple[np.ndarray, np.ndarray]],
    y: np.ndarray,
    fit_rows: np.ndarray,
    eval_rows: np.ndarray,
) -> dict[str, np.ndarray]:
    """SVR and RBF kernel ridge on the standardised 384 px frozen input (pooled + hand-crafted)."""
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    x = np.hstack(views["384"])
    out: dict[str, np.ndarray] = {}
    for c in (10.0, 30.0):
        model = make_pipeline(StandardScaler(), SVR(C=c)).fit(x[fit_rows], y[fit_rows])
        out[f"svr{c:g}"] = model.predict(x[eval_rows])
    gamma = 1.0 / x.shape[1]
    for alpha in (0.3, 1.0):
        model = make_pipeline(StandardScaler(), KernelRidge(kernel="rbf", alpha=alpha, gamma=gamma))
        mean = y[fit_rows].mean()
        model.fit(x[fit_rows], y[fit_rows] - mean)
        out[f"krr{alpha:g}"] = model.predict(x[eval_rows]) + mean
    return out


def combine(name: str, preds: dict[str, np.ndarray]) -> np.ndarray:
    """A candidate's prediction from its parts: ``RECIPE[+tta][+s224][+svrC@w|+krrA@w]``."""
    base, *mods = name.split("+")
    out = preds[base]
    for mod in mods:
        if mod == "tta":
            out = (out + preds[f"{base}+flip"]) / 2
        elif mod == "s224":
            partner = base.replace("cur", "s224_cur", 1) if base.startswith("cur") else f"s224_{base}"
            out = (out + combine("+".join([partner, *[m for m in mods if m == "tta"]]), preds)) / 2
        elif "@" in mod:
            model, w = mod.split("@")
            out = float(w) * out + (1 - float(w)) * preds[model]
        else:
            raise ValueError(f"candidate {name!r}: unknown part {mod!r}")
    return out


def test_once(names: list[str], views: dict[str, tuple[np.ndarray, np.ndarray]], df: Any) -> dict[str, Any]:
    """Train each named candidate on train+val as it would ship and score the test split once."""
    from artjudge.eval import metrics

    split = df["split"].to_numpy()
    y, sd = df["score"].to_numpy(dtype=float), df["std"].to_numpy(dtype=float)
    fit_rows, val_rows, test_rows = (
        np.flatnonzero(split != "test"),
        np.flatnonzero(split == "val"),
        np.flatnonzero(split == "test"),
    )
    preds = closed_form_predictions(views, y, fit_rows, test_rows)
    by_name = {r.name: r for r in RECIPES}
    for base in sorted({n.split("+")[0] for n in names}):
        parts = [base]
        if "+s224" in "".join(n for n in names if n.startswith(base + "+")):
            parts.append(base.replace("cur", "s224_cur", 1) if base.startswith("cur") else f"s224_{base}")
        for part in parts:
            # best_val recipes train on train and pick the epoch on val (the shipped recipe exactly)
            got = fit_predict_mlp(by_name[part], views, y, sd, fit_rows, val_rows, test_rows)
            preds[part], preds[f"{part}+flip"] = got["orig"], got["flip"]
    out = {}
    for name in names:
        rep = metrics.report(combine(name, preds), y[test_rows], bootstrap=1000).to_dict()
        out[name] = {"srcc": rep["srcc"], "plcc": rep["plcc"]}
        print(f"test {name}: SRCC {rep['srcc']['value']:.4f}  PLCC {rep['plcc']['value']:.4f}", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=SHARED_DATA / "agiqa-3k")
    ap.add_argument("--only", default="", help="comma-separated MLP recipe names (default: all)")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds; each recipe is run per seed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="accuracy_cv", help="results name under benchmarks/results/")
    ap.add_argument(
        "--test",
        default="",
        help="instead of CV: train these candidates (e.g. cur,cur+tta,last4+svr10@0.7) on train+val "
        "and score the test split once; pick by CV first",
    )
    args = ap.parse_args()

    import torch
    from sklearn.model_selection import GroupKFold

    from artjudge.data import read_dataset
    from artjudge.eval import metrics

    torch.set_num_threads(args.threads)
    manifest = read_dataset("agiqa-3k", args.data)
    df = manifest.frame
    pool = np.flatnonzero(df["split"].to_numpy() != "test")  # train + val only: test is never read here
    paths = df["path"].astype(str).to_numpy()[pool].tolist()
    y = df["score"].to_numpy(dtype=float)[pool]
    sd = df["std"].to_numpy(dtype=float)[pool]
    prompts = df["prompt"].astype(str).to_numpy()[pool]

    if args.test:
        names = [n for n in args.test.split(",") if n]
        every = df["path"].astype(str).tolist()
        views = {"384": view_features(every, 384), "384-flip": view_features(every, 384, flip=True)}
        if any("224" in n for n in names):
            views["224"], views["224-flip"] = view_features(every, 224), view_features(every, 224, flip=True)
        result = test_once(names, views, df)
        print(f"wrote {save_results(args.out + '_test', {'test_once': result})}")
        return 0

    wanted = {s for s in args.only.split(",") if s}
    seeds = [int(s) for s in args.seeds.split(",")]
    recipes = [replace(r, seed=s) for r in RECIPES if not wanted or r.name in wanted for s in seeds]
    print(f"features for {len(pool)} train+val images")
    views = {"384": view_features(paths, 384), "384-flip": view_features(paths, 384, flip=True)}
    if any(r.resolution == 224 for r in recipes):
        views["224"] = view_features(paths, 224)
        views["224-flip"] = view_features(paths, 224, flip=True)

    folds = list(GroupKFold(n_splits=FOLDS).split(pool, groups=prompts))
    rng = np.random.default_rng(0)
    oof: dict[str, np.ndarray] = {}  # candidate -> out-of-fold prediction per pool row
    fit_s: dict[str, float] = {}
    for k, (fit_rows, eval_rows) in enumerate(folds):
        fit_prompts = np.unique(prompts[fit_rows])
        # an inner val split for the best_val recipes, in the proportion val/(train+val) = 0.1/0.7
        held = set(rng.permutation(fit_prompts)[: round(len(fit_prompts) / 7)])
        inner_val = fit_rows[np.isin(prompts[fit_rows], list(held))]
        for name, pred in closed_form_predictions(views, y, fit_rows, eval_rows).items():
            oof.setdefault(name, np.full(len(pool), np.nan))[eval_rows] = pred
        for r in recipes:
            tag = r.name if len(seeds) == 1 else f"{r.name}_s{r.seed}"
            t0 = time.perf_counter()
            preds = fit_predict_mlp(r, views, y, sd, fit_rows, inner_val, eval_rows)
            fit_s[tag] = fit_s.get(tag, 0.0) + time.perf_counter() - t0
            for view, pred in preds.items():
                oof.setdefault(tag if view == "orig" else f"{tag}+tta_only_flip", np.full(len(pool), np.nan))[
                    eval_rows
                ] = pred
            print(
                f"fold {k + 1}/{FOLDS} {tag}: SRCC {metrics.srcc(preds['orig'], y[eval_rows]):.4f}",
                flush=True,
            )

    # derived candidates: test-time mirror, second scale, blends with the closed-form models
    for tag in [t for t in oof if f"{t}+tta_only_flip" in oof]:
        oof[f"{tag}+tta"] = (oof[tag] + oof.pop(f"{tag}+tta_only_flip")) / 2
    for tag in [t for t in list(oof) if not t.startswith(("s224", "svr", "krr"))]:
        partner = tag.replace("cur", "s224_cur", 1) if tag.startswith("cur") else None
        if tag.startswith("last4"):
            partner = tag.replace("last4", "s224_last4", 1)
        if partner in oof:
            oof[f"{tag}+s224"] = (oof[tag] + oof[partner]) / 2
    for tag in [t for t in list(oof) if not t.startswith(("svr", "krr"))]:
        for cf in [t for t in list(oof) if t.startswith(("svr", "krr"))]:
            for w in (0.5, 0.7):
                oof[f"{tag}+{cf}@{w:g}"] = w * oof[tag] + (1 - w) * oof[cf]

    table: dict[str, dict[str, Any]] = {}
    for tag, pred in oof.items():
        fs = FoldScore(
            [metrics.srcc(pred[e], y[e]) for _, e in folds], [metrics.plcc(pred[e], y[e]) for _, e in folds]
        )
        table[tag] = dict(fs.summary(), srcc_folds=fs.srcc, plcc_folds=fs.plcc)
    base = next((t for t in ("cur", f"cur_s{seeds[0]}") if t in table), None)
    for tag in table:  # paired over the same folds: the fold-to-fold spread cancels
        if base is None:
            break
        diff = np.subtract(table[tag]["srcc_folds"], table[base]["srcc_folds"])
        table[tag]["srcc_delta_vs_cur"] = float(diff.mean())
        table[tag]["srcc_delta_sd"] = float(diff.std(ddof=1))
    ranked = sorted(table, key=lambda t: -table[t]["srcc_mean"])
    print_table(
        f"AGIQA-3K grouped {FOLDS}-fold CV on train+val (n={len(pool)}), by mean SRCC",
        ["candidate", "SRCC mean +- sd", "PLCC mean +- sd", "SRCC - cur (paired sd)"],
        [
            [
                t,
                f"{table[t]['srcc_mean']:.4f} +- {table[t]['srcc_sd']:.4f}",
                f"{table[t]['plcc_mean']:.4f} +- {table[t]['plcc_sd']:.4f}",
                f"{table[t]['srcc_delta_vs_cur']:+.4f} ({table[t]['srcc_delta_sd']:.4f})" if base else "",
            ]
            for t in ranked
        ],
    )
    path = save_results(
        args.out,
        {
            "protocol": f"GroupKFold({FOLDS}) over prompts on AGIQA-3K train+val; test split never read",
            "n": int(len(pool)),
            "recipes": [asdict(r) for r in recipes],
            "fit_seconds": fit_s,
            "cv": {t: table[t] for t in ranked},
            # out-of-fold predictions (pool order = train+val rows of the manifest), so runs of
            # different subsets can be compared fold by fold
            "oof": {t: [round(float(v), 4) for v in oof[t]] for t in ranked if "@" not in t},
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
