"""Judge written analyses against an expert reference (ArtiMuse's text evaluation).

Input JSONL, one item per line::

    {"id": "img1", "reference": "expert text", "candidates": {"ours": "...", "baseline": "..."},
     "human_pick": "ours"}          # human_pick optional

An LLM judge sees the reference and the candidates (in an order shuffled per item with a
fixed seed, so no system profits from always being "Candidate 1") and names the best.
The report gives each system's selection rate with a bootstrap 95% CI over items, and,
where people picked too, how often the judge agrees with them (with a CI and Cohen's kappa).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.critique.backends import ChatBackend
from artjudge.critique.describe import parse_json_object
from artjudge.critique.prompts import text_judge_messages
from artjudge.errors import InputError


@dataclass
class TextItem:
    id: str
    reference: str
    candidates: dict[str, str]
    human_pick: str | None = None


def read_text_items(path: str | os.PathLike[str]) -> list[TextItem]:
    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "file not found")
    items = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(str(p), f"line {n}: not JSON ({err.msg})") from None
        cands = row.get("candidates")
        if not isinstance(cands, dict) or len(cands) < 2 or not row.get("reference"):
            raise InputError(
                str(p), f"line {n}: needs 'reference' and at least two 'candidates' {{name: text}}"
            )
        pick = row.get("human_pick")
        if pick is not None and pick not in cands:
            raise InputError(str(p), f"line {n}: human_pick {pick!r} is not one of the candidates")
        items.append(
            TextItem(
                str(row.get("id", n)), str(row["reference"]), {str(k): str(v) for k, v in cands.items()}, pick
            )
        )
    if not items:
        raise InputError(str(p), "no items")
    return items


def _order(item: TextItem, seed: int) -> list[str]:
    names = sorted(item.candidates)
    h = int(hashlib.sha256(f"{seed}|{item.id}".encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(h)
    return [names[i] for i in rng.permutation(len(names))]


def parse_pick(text: str, n: int) -> int | None:
    """0-based index of the judge's pick, or None when the reply names no valid candidate."""
    obj = parse_json_object(text)
    val: Any = obj.get("best") if obj else None
    if val is None:
        m = re.search(r"candidate\s*(\d+)", text or "", re.I) or re.search(r"\b(\d+)\b", text or "")
        val = m.group(1) if m else None
    try:
        k = int(str(val).strip())
    except (TypeError, ValueError):
        return None
    return k - 1 if 1 <= k <= n else None


def judge_items(items: list[TextItem], judge: ChatBackend, *, seed: int = 0) -> list[dict[str, Any]]:
    rows = []
    for it in items:
        order = _order(it, seed)
        reply = judge.chat(text_judge_messages(it.reference, [it.candidates[k] for k in order]))
        k = parse_pick(reply, len(order))
        rows.append(
            {
                "id": it.id,
                "order": order,
                "pick": None if k is None else order[k],
                "human_pick": it.human_pick,
                "reply": reply[:500],
            }
        )
    return rows


def _bootstrap_mean(x: np.ndarray, n_boot: int, rng: np.random.Generator) -> tuple[float, float]:
    if len(x) == 0:
        return float("nan"), float("nan")
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    means = x[idx].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def summarise(rows: list[dict[str, Any]], *, n_boot: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Selection rates per system and judge-human agreement, each with a bootstrap 95% CI."""
    rng = np.random.default_rng(seed)
    systems = sorted({s for r in rows for s in r["order"]})
    valid = [r for r in rows if r["pick"] is not None]
    rates = {}
    for s in systems:
        x = np.array([1.0 if r["pick"] == s else 0.0 for r in valid])
        lo, hi = _bootstrap_mean(x, n_boot, rng)
        rates[s] = {
            "rate": float(x.mean()) if len(x) else float("nan"),
            "ci95": [lo, hi],
            "picked": int(x.sum()),
        }
    out: dict[str, Any] = {
        "n_items": len(rows),
        "n_unparsed": len(rows) - len(valid),
        "selection": rates,
        "chance": 1.0 / len(systems) if systems else float("nan"),
    }
    with_h = [r for r in valid if r.get("human_pick")]
    if with_h:
        agree = np.array([1.0 if r["pick"] == r["human_pick"] else 0.0 for r in with_h])
        lo, hi = _bootstrap_mean(agree, n_boot, rng)
        po = float(agree.mean())
        pj = {s: np.mean([r["pick"] == s for r in with_h]) for s in systems}
        ph = {s: np.mean([r["human_pick"] == s for r in with_h]) for s in systems}
        pe = float(sum(pj[s] * ph[s] for s in systems))
        kappa = (po - pe) / (1 - pe) if pe < 1 else float("nan")
        out["human_agreement"] = {"n": len(with_h), "accuracy": po, "ci95": [lo, hi], "cohen_kappa": kappa}
    return out
