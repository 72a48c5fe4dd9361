"""Did a change move any shipped score? Snapshot before, compare after.

    python scripts/check_scores_unchanged.py --save /tmp/before.json      # on the old code
    python scripts/check_scores_unchanged.py --compare /tmp/before.json   # on the new code

It scores every AGIQA-3K test image (split by prompt, seed 0, as every benchmark does) with
the shipped default, without the feature cache, and judges the real time-lapse in
shared/ with the shipped process judge (frames in order and reversed, with and without a
prompt). ``--compare`` prints the largest absolute difference per group and exits 1 when
any exceeds ``--tol`` points (default 1e-3, on the 0-100 scale for still images and on
PPJudge's 1-10 scale for process scores: a 0-100 process record is divided by 10).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TIMELAPSE = DATA / "process" / "inverse-painting-sample" / "data" / "sample_data" / "train" / "rgb"


def _timelapse_frames() -> list[Path]:
    folders = sorted(p for p in TIMELAPSE.rglob("*") if p.is_dir() and any(p.glob("*.jpg")))
    folder = folders[0] if folders else TIMELAPSE
    return sorted(folder.glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))


def _process_scores(result: Any) -> dict[str, float]:
    """Final per-attribute scores on PPJudge's 1-10, whatever record type the judge returns.

    Records before schema 1.1 (``ProcessResult``) had ``scores`` on 1-10; a 1.1
    ``ProcessAssessment`` has ``attributes`` on 0-100, divided by 10 here so a snapshot from
    either compares on the same scale (the tolerance stays in 1-10 points).
    """
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    if d.get("scores"):
        return {k: float(v) for k, v in d["scores"].items()}
    return {
        k: float(v["score"] if isinstance(v, dict) else v) / 10.0
        for k, v in (d.get("attributes") or {}).items()
    }


def snapshot(runtime: str | None = None) -> dict[str, Any]:
    import artjudge
    from artjudge.data import read_dataset
    from artjudge.record import Assessment

    df = read_dataset("agiqa-3k", DATA / "agiqa-3k").frame
    paths = df.loc[df["split"] == "test", "path"].astype(str).tolist()
    scorer = artjudge.load(runtime=runtime)
    recs = scorer.assess_many(paths, batch_size=16, progress=True)
    still = {Path(r.input).name: r.overall.score for r in recs if isinstance(r, Assessment)}

    process: dict[str, dict[str, float]] = {}
    frames = _timelapse_frames()
    if frames:
        from PIL import Image

        images = [Image.open(p).convert("RGB") for p in frames]
        judge = artjudge.load_process_judge()
        process["timelapse"] = _process_scores(judge.judge(images))
        process["timelapse_reversed"] = _process_scores(judge.judge(images[::-1]))
        try:
            process["timelapse_prompt"] = _process_scores(
                judge.judge(images, prompt="a landscape painting of mountains and a lake")
            )
        except Exception as err:  # the prompt path needs the [text] extra
            print(f"process with prompt skipped: {err}", file=sys.stderr)
    return {"still": still, "process": process}


def compare(before: dict[str, Any], after: dict[str, Any], tol: float, *, still_only: bool = False) -> int:
    """Print the largest difference per group; 0 when every compared group is within ``tol``."""
    missing = sorted(set(before["still"]) ^ set(after["still"]))
    diffs = [abs(before["still"][k] - after["still"][k]) for k in before["still"] if k in after["still"]]
    still_max = max(diffs) if diffs else float("nan")
    print(
        f"still images: n={len(diffs)}, max |difference| = {still_max:.6f} points, not in both: {len(missing)}"
    )
    worst = still_max
    for name, scores in before["process"].items():
        other = after["process"].get(name)
        if other is None:
            print(f"process {name}: missing after")
            worst = float("inf") if not still_only else worst
            continue
        common = [k for k in scores if k in other]
        only = sorted(set(scores) ^ set(other))
        d = max((abs(scores[k] - other[k]) for k in common), default=0.0)
        per = ", ".join(
            f"{k} {other[k] - scores[k]:+.3f}" for k in common if abs(other[k] - scores[k]) >= tol
        )
        print(
            f"process {name}: max |difference| = {d:.6f}"
            + (f" ({per})" if per else "")
            + (f"; reported by one side only: {', '.join(only)}" if only else "")
        )
        if not still_only:
            worst = max(worst, d)
    ok = worst < tol and not missing
    print("unchanged" if ok else f"CHANGED (tolerance {tol})")
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--save", type=Path, help="write a snapshot here")
    group.add_argument("--compare", type=Path, help="compare the current code with this snapshot")
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--still-only", action="store_true", help="judge the exit status on still images only")
    ap.add_argument("--runtime", choices=("onnx", "torch"), help="runtime of the embedded default's network")
    args = ap.parse_args()
    snap = snapshot(args.runtime)
    if args.save:
        if args.save.exists():
            print(f"{args.save} exists; not overwriting", file=sys.stderr)
            return 2
        args.save.write_text(json.dumps(snap, indent=1))
        print(f"wrote {args.save}: {len(snap['still'])} images, {len(snap['process'])} process runs")
        return 0
    return compare(json.loads(args.compare.read_text()), snap, args.tol, still_only=args.still_only)


if __name__ == "__main__":
    raise SystemExit(main())
