"""Can the process judge tell a right prompt or reference from a wrong one? Its measured answer.

``benchmarks/process_consistency_swap.py`` judges processes with their own context and with
contexts swapped in from other processes, per source (synthetic, Sheep Market, the real
time-lapse) and per kind (prompt, reference). Where the share of pairs in which the right
context scores higher is not clearly above chance on every source, a consistency number
would mean nothing: the judge's records then say "can't tell" instead
(``ProcessAssessment.cant_tell``). The verdict lives beside the weights
(``<weights>.context_swap.json``), tied to their SHA-256, so it is never applied to other
weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from artjudge.io.files import atomic_write_json

KINDS = ("prompt", "reference")
RULE = "can tell when the 95% CI of the share (right context above a wrong one) is above 0.5 on every source"


@dataclass
class ContextVerdict:
    """One kind of context (prompt or reference): can the judge tell right from wrong?"""

    kind: str
    can_tell: bool
    note: str
    rule: str = RULE
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> share, ci95, n

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, ContextVerdict]:
    """The verdict per kind from the benchmark's ``source -> kind -> {share, ci95, ...}``."""
    out = {}
    for kind in KINDS:
        per = {s: dict(r[kind]) for s, r in results.items() if kind in r}
        if not per:
            continue
        lows = {s: float(r["ci95"][0]) for s, r in per.items()}
        ok = all(lo > 0.5 for lo in lows.values())
        figures = "; ".join(
            f"{s} {r['share_right_above_wrong']:.0%} [{r['ci95'][0]:.0%}, {r['ci95'][1]:.0%}]"
            for s, r in per.items()
        )
        note = (
            f"right vs wrong {kind}: the right one scored higher in {figures} of swaps "
            f"(benchmarks/process_consistency_swap.py)"
        )
        out[kind] = ContextVerdict(
            kind,
            ok,
            note,
            sources={
                s: {k: r[k] for k in ("share_right_above_wrong", "ci95", "n_processes", "n_pairs")}
                for s, r in per.items()
            },
        )
    return out


def verdict_path(weights: Path) -> Path:
    return weights.with_name(weights.name + ".context_swap.json")


def write_verdicts(verdicts: Mapping[str, ContextVerdict], command: str, weights: Path | None = None) -> Path:
    """Store the verdicts beside ``weights`` (the shipped judge's by default), tied to their SHA-256."""
    from artjudge.io.files import sha256_file
    from artjudge.models.process.judge import default_weights_path
    from artjudge.models.weights import seal_folder

    w = weights or default_weights_path()
    payload = {
        "weights": w.name,
        "weights_sha256": sha256_file(w),
        "rule": RULE,
        "command": command,
        "verdicts": {k: v.to_dict() for k, v in verdicts.items()},
    }
    out = atomic_write_json(verdict_path(w), payload, indent=2)
    seal_folder(w.parent)  # the verdict changes records: the folder's seal and version must say so
    return out


def read_verdicts(weights: Path, digest: str | None) -> dict[str, ContextVerdict]:
    """The verdicts for these weights; {} when none were measured or they were measured on
    other weights (then consistency is reported with a note that it was not checked)."""
    path = verdict_path(weights)
    if not path.is_file():
        return {}
    d = json.loads(path.read_text())
    if digest is not None and d.get("weights_sha256") != digest:
        return {}
    return {k: ContextVerdict(**v) for k, v in d.get("verdicts", {}).items()}


def cant_tell_text(verdict: ContextVerdict) -> str:
    """What the record says instead of a number."""
    return f"can't tell: {verdict.note}"


UNCHECKED_NOTE = (
    "whether these weights tell a right {kind} from a wrong one was not measured "
    "(benchmarks/process_consistency_swap.py): read consistency with care"
)
