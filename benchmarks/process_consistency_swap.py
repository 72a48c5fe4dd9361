"""Can the process judge tell the right prompt or reference from a wrong one? (issue 25.4)

    python benchmarks/process_consistency_swap.py [--n-synthetic 60] [--n-sheep 60] [--wrong 3]
        [--write-verdict]

Each process is judged with its own context (the right one) and with ``--wrong`` contexts
swapped in from other processes (wrong ones), for both kinds of context:

- ``synthetic``: clean synthetic processes (no faults) painting AGIQA-3K *test*-split images
  (one image per prompt, never painted in training); right prompt: the image's AGIQA prompt,
  right reference: the image; wrong: another process's prompt / image.
- ``sheep``: Sheep Market test drawings (stroke order as drawn, 6 frames); right reference:
  the finished drawing, wrong: another drawing's; right prompt "a drawing of a sheep", wrong:
  AGIQA-3K test prompts (every Sheep Market drawing is a sheep, so no swap within it).
- ``timelapse``: the one real time-lapse in shared/ (inverse-painting sample); right
  reference: its last frame, wrong: the sample's 5 demo paintings and AGIQA-3K test images;
  right prompt: "a landscape painting of mountains and trees, oil", wrong: AGIQA-3K test
  prompts and "a red sports car on a racetrack".

Reported per source and kind: the share of (process, wrong context) pairs in which the right
context scores higher consistency (ties half), with a 95% CI: a bootstrap over processes
(each process's share of wrong contexts beaten; the pairs of one process are not
independent), and for the single time-lapse a Wilson interval over its wrong contexts.
Baseline in the same run: chance, 50%.

The verdict per kind: the judge *can tell* when the CI's lower bound is above 50% on every
source. ``--write-verdict`` stores it beside the shipped weights
(``ppjudge_tiny.pt.context_swap.json``, tied to their SHA-256); the judge reads it and, where
it cannot tell, its records say "can't tell" instead of a consistency number.
Writes benchmarks/results/process_consistency_swap.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHARED_DATA, print_table, save_results  # noqa: E402

KINDS = ("prompt", "reference")
SEED = 25_004
TIMELAPSE_PROMPT = "a landscape painting of mountains and trees, oil"
SHEEP_PROMPT = "a drawing of a sheep"


@dataclass
class Case:
    """One process with its right context and its wrong ones (per kind)."""

    frames: list[Image.Image]
    right: dict[str, object]  # kind -> prompt (str) or reference (Image)
    wrong: dict[str, list[object]]


def agiqa_test(n: int, rng: np.random.Generator) -> list[tuple[Image.Image, str]]:
    """``n`` AGIQA-3K test-split images, one per prompt, with their prompts."""
    from artjudge.data.process.agiqa_align import load_align_pairs
    from artjudge.io.images import load_image

    by_prompt: dict[str, object] = {}
    for p in load_align_pairs(SHARED_DATA / "agiqa-3k"):
        if p.split == "test":
            by_prompt.setdefault(p.prompt.split(",")[0], p)
    pairs = list(by_prompt.values())
    pick = rng.choice(len(pairs), size=min(n, len(pairs)), replace=False)
    out = []
    for i in pick:
        p = pairs[int(i)]
        out.append((load_image(p.path).image.resize((128, 128), Image.Resampling.BILINEAR), p.prompt))  # type: ignore[attr-defined]
    return out


def _wrong(i: int, n: int, k: int, rng: np.random.Generator) -> list[int]:
    return [int(j) for j in rng.choice([j for j in range(n) if j != i], size=min(k, n - 1), replace=False)]


def synthetic_cases(n: int, k: int, rng: np.random.Generator) -> list[Case]:
    from artjudge.data.process.synthetic import generate_process

    targets = agiqa_test(n, rng)
    cases = []
    for i, (img, prompt) in enumerate(targets):
        p = generate_process(img, SEED + i, n_frames=8, size=128, fault_rate=0.0)
        w = _wrong(i, len(targets), k, rng)
        cases.append(
            Case(
                p.frames,
                {"prompt": prompt, "reference": p.reference},
                {"prompt": [targets[j][1] for j in w], "reference": [targets[j][0] for j in w]},
            )
        )
    return cases


def sheep_cases(n: int, k: int, rng: np.random.Generator, prompts: Sequence[str]) -> list[Case]:
    from artjudge.data.process.sheep import load_sheep, rasterise

    drawings = [
        d for d in load_sheep(SHARED_DATA / "process" / "sheep-market", "test") if len(d.strokes) >= 4
    ]
    pick = rng.choice(len(drawings), size=min(n, len(drawings)), replace=False)
    frames = [rasterise(drawings[int(i)].strokes, 6, 128) for i in pick]
    cases = []
    for i, fr in enumerate(frames):
        w = _wrong(i, len(frames), k, rng)
        wrong_prompts = [str(x) for x in rng.choice(list(prompts), size=k, replace=False)]
        cases.append(
            Case(
                fr,
                {"prompt": SHEEP_PROMPT, "reference": fr[-1]},
                {"prompt": list(wrong_prompts), "reference": [frames[j][-1] for j in w]},
            )
        )
    return cases


def timelapse_case(others: Sequence[tuple[Image.Image, str]]) -> Case | None:
    from artjudge.data.process.inverse_painting import load_timelapse
    from artjudge.io.images import load_image

    root = SHARED_DATA / "process" / "inverse-painting-sample"
    if not root.is_dir():
        return None
    tl = load_timelapse(root)
    demo = [load_image(p).image for p in sorted((root / "data" / "demo").glob("*.jpg"))]
    return Case(
        tl.frames,
        {"prompt": TIMELAPSE_PROMPT, "reference": tl.frames[-1]},
        {
            "prompt": ["a red sports car on a racetrack", *[p for _, p in others]],
            "reference": [*demo, *[im for im, _ in others]],
        },
    )


def wilson(k: float, n: int, z: float = 1.96) -> list[float]:
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [round(float(c - h), 4), round(float(c + h), 4)]


def bootstrap_ci(per_process: np.ndarray, rng: np.random.Generator, n_boot: int = 2000) -> list[float]:
    idx = rng.integers(0, len(per_process), (n_boot, len(per_process)))
    means = per_process[idx].mean(axis=1)
    return [round(float(np.quantile(means, 0.025)), 4), round(float(np.quantile(means, 0.975)), 4)]


def measure(
    score: Callable[[list[Image.Image], str, list[object]], np.ndarray], cases: Sequence[Case], kind: str
) -> tuple[np.ndarray, list[dict[str, object]]]:
    """Per process, the share of wrong contexts the right one beats (ties half); raw scores (0-100)."""
    shares, raw = [], []
    for c in cases:
        s = score(c.frames, kind, [c.right[kind], *c.wrong[kind]])
        right, wrong = float(s[0]), [float(w) for w in s[1:]]
        shares.append(float(np.mean([1.0 if right > w else 0.5 if right == w else 0.0 for w in wrong])))
        raw.append({"right": round(right, 3), "wrong": [round(w, 3) for w in wrong]})
    return np.array(shares), raw


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-synthetic", type=int, default=60)
    ap.add_argument("--n-sheep", type=int, default=60)
    ap.add_argument("--wrong", type=int, default=3, help="wrong contexts per process and kind")
    ap.add_argument(
        "--n-timelapse-wrong", type=int, default=20, help="AGIQA-3K wrong contexts for the time-lapse"
    )
    ap.add_argument(
        "--write-verdict", action="store_true", help="store the verdict beside the shipped weights"
    )
    args = ap.parse_args(argv)
    import artjudge
    from artjudge.models.process.context_check import decide, write_verdicts
    from artjudge.models.process.text import embed_texts

    t0 = time.time()
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    judge = artjudge.load_process_judge()
    judge.context_verdicts = {}  # measure the raw consistency, whatever an earlier verdict said
    others = agiqa_test(args.n_timelapse_wrong, np.random.default_rng(SEED + 1))
    sources: dict[str, list[Case]] = {"synthetic": synthetic_cases(args.n_synthetic, args.wrong, rng)}
    sources["sheep"] = sheep_cases(args.n_sheep, args.wrong, rng, [p for _, p in others])
    tl = timelapse_case(others)
    if tl is not None:
        sources["timelapse"] = [tl]

    def score(frames: list[Image.Image], kind: str, contexts: list[object]) -> np.ndarray:
        """Consistency on 0-100 for each context, as the judge's records give it."""
        if kind == "reference":
            return 10.0 * judge.consistency_of(frames, references=contexts)  # type: ignore[arg-type]
        return 10.0 * judge.consistency_of(frames, prompt_embeddings=embed_texts([str(c) for c in contexts]))

    results: dict[str, dict[str, dict[str, object]]] = {}
    rows = []
    for name, cases in sources.items():
        results[name] = {}
        for kind in KINDS:
            shares, raw = measure(score, cases, kind)
            n_pairs = sum(len(c.wrong[kind]) for c in cases)
            if len(cases) == 1:
                ci, how = wilson(float(shares[0]) * n_pairs, n_pairs), "Wilson over wrong contexts"
            else:
                ci, how = bootstrap_ci(shares, rng), "bootstrap over processes"
            share = round(float(shares.mean()), 4)
            right = np.array([r["right"] for r in raw], dtype=float)
            wrong = np.array([w for r in raw for w in r["wrong"]], dtype=float)  # type: ignore[attr-defined]
            results[name][kind] = {
                "share_right_above_wrong": share,
                "ci95": ci,
                "ci_method": how,
                "n_processes": len(cases),
                "n_pairs": n_pairs,
                "mean_right": round(float(right.mean()), 3),
                "mean_wrong": round(float(wrong.mean()), 3),
                "chance": 0.5,
            }
            rows.append(
                [
                    name,
                    kind,
                    len(cases),
                    n_pairs,
                    share,
                    f"[{ci[0]:.3f}, {ci[1]:.3f}]",
                    round(float(right.mean()), 2),
                    round(float(wrong.mean()), 2),
                ]
            )
    verdicts = decide(results)
    print_table(
        "right vs wrong context: share of pairs where the right one scores higher consistency (chance 0.5)",
        ["source", "kind", "processes", "pairs", "share", "95% CI", "mean right", "mean wrong"],
        rows,
    )
    for kind, v in verdicts.items():
        print(f"{kind}: {'can tell' if v.can_tell else 'cannot tell'} ({v.note})")
    payload = {
        "benchmark": "process_consistency_swap",
        "command": "python benchmarks/process_consistency_swap.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "sources": results,
        "verdict": {k: v.to_dict() for k, v in verdicts.items()},
        "seconds": round(time.time() - t0, 1),
    }
    print(f"wrote {save_results('process_consistency_swap', payload)}")
    if args.write_verdict:
        print(f"wrote {write_verdicts(verdicts, payload['command'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
