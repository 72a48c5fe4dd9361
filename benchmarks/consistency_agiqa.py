"""Prompt consistency on AGIQA-3K ``mos_align``: quality-only vs grounding-only vs the shipped combination.

    nice -n 10 python benchmarks/consistency_features.py   # once: cache the frozen inputs
    nice -n 10 python benchmarks/consistency_agiqa.py

1. Test split (split_by_group over prompts, test 0.2, val 0.1, seed 0): SRCC and PLCC with
   bootstrap CIs for the shipped default's quality score (never reads the prompt), a
   grounding-only ridge (whole-prompt concept grounding, fitted on train) and the shipped
   consistency score (``models.consistency``), plus a paired bootstrap of the shipped
   score's SRCC gain over quality-only.
2. Grouped 5-fold CV over train+val (out of fold, folds by prompt): the same comparison, so
   the figure does not rest on one split. The shipped quality score has seen the train
   images (SRCC 0.96 with their ``mos_quality``), so here the quality input and the
   quality-only baseline are the honest out-of-fold quality (``train.consistency.honest_quality``).
3. Stress test: for each test image, the correct prompt against the same prompt with its
   first object swapped for another test prompt's object, or its colour word swapped:
   the share of images where the correct prompt scores higher (ties counted apart).
Writes benchmarks/results/consistency_agiqa.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, print_table, save_results  # noqa: E402

INPUTS = ROOT / ".cache" / "consistency" / "agiqa_inputs.npz"
SWAP_COLOURS = {
    "red": "blue",
    "blue": "red",
    "green": "purple",
    "yellow": "blue",
    "black": "white",
    "white": "black",
    "brown": "green",
    "pink": "green",
    "orange": "blue",
    "purple": "yellow",
    "gray": "red",
    "grey": "red",
    "warm": "cold",
    "cold": "warm",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", default=str(INPUTS))
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args(argv)
    from artjudge.eval import metrics
    from artjudge.features.prompt_elements import parse_prompt
    from artjudge.models.consistency import FEATURE_NAMES, SIGNS, WEIGHTS_PATH, OfflineConsistency
    from artjudge.models.process.text import embed_texts
    from artjudge.train.consistency import (
        Inputs,
        class_probs,
        grouped_oof,
        honest_quality,
        ridge_fit,
        signals_of,
    )

    t0 = time.time()
    inp = Inputs.load(Path(args.inputs))
    model = OfflineConsistency.load()
    sig = signals_of(inp, class_probs(inp.pooled))
    rng = np.random.default_rng(0)
    test = inp.split == "test"
    train, trainval = inp.split == "train", inp.split != "test"
    y = inp.mos_align.astype(np.float64)

    # perturbed prompts for the stress test: test images (the figure), then train+val images
    # (more colour prompts: the test split has 11, 7 of them warm/cold palettes)
    perturbed: dict[int, tuple[str, str]] = {}
    for part in (test, trainval):
        part_objects = sorted(
            {e.value for p in set(inp.prompt[part]) for e in parse_prompt(p) if e.kind == "object"}
        )
        for i in np.flatnonzero(part):
            p = str(inp.prompt[i])
            els = parse_prompt(p)
            colour_words = [w for w in re.findall(r"[a-z]+", p.lower()) if w in SWAP_COLOURS]
            if colour_words:
                w = colour_words[0]
                kind = "colour: palette" if w in ("warm", "cold") else "colour: bound"
                perturbed[int(i)] = (kind, re.sub(rf"\b{w}\b", SWAP_COLOURS[w], p, count=1, flags=re.I))
                continue
            objs = [e.value for e in els if e.kind == "object" and e.value.split()[-1] in p.lower()]
            if objs:
                head = objs[0].split()[-1]
                other = str(rng.choice([o for o in part_objects if head not in o]))
                perturbed[int(i)] = (
                    "object",
                    re.sub(rf"\b{re.escape(head)}\b", other, p, count=1, flags=re.I),
                )
    texts = sorted(set(inp.prompt.tolist()) | {v[1] for v in perturbed.values()})
    emb = dict(zip(texts, np.asarray(embed_texts(texts), dtype=np.float64), strict=True))

    def feats(i: int, prompt: str) -> np.ndarray:
        return model.features(sig[i], prompt, prompt_emb=emb[prompt])

    X = np.stack([feats(i, str(p)) for i, p in enumerate(inp.prompt)])
    shipped = np.array([model.score_features(x) for x in X])
    quality = inp.quality.astype(np.float64)
    g_idx = [FEATURE_NAMES.index(n) for n in FEATURE_NAMES if n.startswith("grounding")]
    zg = (X[:, g_idx] - X[train][:, g_idx].mean(0)) / (X[train][:, g_idx].std(0) + 1e-9)
    coef, icpt = ridge_fit(zg[train], y[train])
    grounding_only = zg @ coef + icpt

    def row(name: str, pred: np.ndarray, mask: np.ndarray) -> list[object]:
        rep = metrics.report(pred[mask], y[mask], bootstrap=args.bootstrap, seed=0)
        return [
            name,
            rep.srcc.value,
            f"[{rep.srcc.lo:.3f}, {rep.srcc.hi:.3f}]",
            rep.plcc.value,
            f"[{rep.plcc.lo:.3f}, {rep.plcc.hi:.3f}]",
        ]

    def paired_gain(a: np.ndarray, b: np.ndarray, yy: np.ndarray) -> dict[str, object]:
        diffs = []
        r = np.random.default_rng(0)
        for _ in range(args.bootstrap):
            i = r.integers(0, len(yy), len(yy))
            diffs.append(metrics.srcc(a[i], yy[i]) - metrics.srcc(b[i], yy[i]))
        ci = [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))]
        return {
            "srcc_gain": metrics.srcc(a, yy) - metrics.srcc(b, yy),
            "ci95": ci,
            "ci_above_zero": ci[0] > 0,
        }

    test_rows = [
        row("quality only (shipped default)", quality, test),
        row("grounding only", grounding_only, test),
        row("shipped consistency", shipped, test),
    ]
    gain_test = paired_gain(shipped[test], quality[test], y[test])

    # grouped 5-fold CV over train+val, the shipped inputs refitted per fold
    groups = np.unique(inp.prompt, return_inverse=True)[1]
    used = [j for j, c in enumerate(model.coef) if c != 0]
    card = json.loads((WEIGHTS_PATH.parent / "card.json").read_text())
    signs = np.array([SIGNS[FEATURE_NAMES[j]] for j in used]) if card.get("sign_constrained") else None
    honest = honest_quality(inp)
    Xh = X.copy()
    Xh[:, FEATURE_NAMES.index("quality")] = honest
    z = (Xh - model.feat_mean) / model.feat_std
    oof_ship = grouped_oof(z[trainval][:, used], y[trainval], groups[trainval], signs=signs)
    oof_ground = grouped_oof(zg[trainval], y[trainval], groups[trainval])
    tv = np.ones(int(trainval.sum()), bool)
    yy = y
    y = y[trainval]  # row() reads y: the CV rows are over train+val
    cv_rows = [
        row("shipped quality (has seen the train images)", quality[trainval], tv),
        row("quality only (out-of-fold quality)", honest[trainval], tv),
        row("grounding only (OOF)", oof_ground, tv),
        row("shipped inputs (OOF)", oof_ship, tv),
    ]
    gain_cv = paired_gain(oof_ship, honest[trainval], y)
    y = yy

    # stress test
    stress: dict[str, dict[str, float]] = {}
    kinds = {
        "object": ("object",),
        "colour": ("colour: bound", "colour: palette"),
        "colour: bound": ("colour: bound",),
        "colour: palette": ("colour: palette",),
    }
    for part_name, part in (("", test), ("train+val ", trainval)):
        for kind, accepted in kinds.items():
            idx = [i for i, v in perturbed.items() if v[0] in accepted and part[i]]
            if not idx:
                continue
            right = np.array([shipped[i] for i in idx])
            wrong = np.array([model.score_features(feats(i, perturbed[i][1])) for i in idx])
            stress[part_name + kind] = {
                "n": len(idx),
                "correct_beats_perturbed": float(np.mean(right > wrong)),
                "ties": float(np.mean(np.isclose(right, wrong))),
                "mean_drop": float(np.mean(right - wrong)),
            }
    examples = {str(inp.prompt[i]): v[1] for i, v in list(perturbed.items())[:6] if test[i]}

    header = ["method", "SRCC", "95% CI", "PLCC", "95% CI"]
    print_table(f"AGIQA-3K mos_align, test split by prompt (n={int(test.sum())})", header, test_rows)
    print(
        f"shipped - quality SRCC gain {gain_test['srcc_gain']:+.4f}, paired 95% CI "
        f"[{gain_test['ci95'][0]:+.4f}, {gain_test['ci95'][1]:+.4f}]"
    )  # type: ignore[index]
    print_table(f"grouped 5-fold CV over train+val (n={int(trainval.sum())})", header, cv_rows)
    print(
        f"OOF shipped inputs - out-of-fold quality SRCC gain {gain_cv['srcc_gain']:+.4f}, paired 95% CI "
        f"[{gain_cv['ci95'][0]:+.4f}, {gain_cv['ci95'][1]:+.4f}]"
    )  # type: ignore[index]
    for kind, s in stress.items():
        print(
            f"stress ({kind} swapped, n={s['n']}): correct prompt higher in {s['correct_beats_perturbed']:.1%}, "
            f"ties {s['ties']:.1%}, mean drop {s['mean_drop']:+.3f} points"
        )
    save_results(
        "consistency_agiqa",
        {
            "command": "python benchmarks/consistency_agiqa.py "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "split": "split_by_group(prompt, test_fraction=0.2, val_fraction=0.1, seed=0)",
            "weights_version": model.version,
            "n_test": int(test.sum()),
            "n_trainval": int(trainval.sum()),
            "test": {r[0]: {"srcc": r[1], "srcc_ci": r[2], "plcc": r[3], "plcc_ci": r[4]} for r in test_rows},
            "paired_gain_test": gain_test,
            "cv_trainval": {
                r[0]: {"srcc": r[1], "srcc_ci": r[2], "plcc": r[3], "plcc_ci": r[4]} for r in cv_rows
            },
            "paired_gain_cv": gain_cv,
            "stress": stress,
            "stress_examples": examples,
            "seconds": round(time.time() - t0, 1),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
