"""PSDistill: turn a slow judge into a fast scorer.

1. A *judge* is any callable ``judge(item_a, item_b) -> (p_a_better, confidence)``: a table
   of a panel's calls (:class:`TableJudge`), a scorer compared item by item
   (:class:`ScorerJudge`: any loaded scorer; ``artjudge.api.load_judge("scorer:NAME")``), or
   anything else with that signature.
2. Each new item is compared with anchors drawn from a *reference pool* of items whose Elo
   scores are known (one anchor per Elo quantile band, so every item meets the whole range),
   with its side chosen at random (a judge with a position bias is averaged out).
3. The calls become *pseudo-scores*: each new item's rating is fitted against the fixed pool
   (a one-parameter Bradley-Terry fit with soft outcomes, confidence weights and a weak
   prior, by Newton's method, SE from the curvature), then mapped onto the pool's score
   scale by isotonic calibration (Elo -> score on the pool) when the pool has scores.
4. A *student* (:class:`artjudge.train.student.MLPStudent`, a small MLP head on frozen features) is trained with the
   confidence-weighted pairwise ranking loss (``artjudge.scoring.losses.pairwise_ranking_loss``)
   plus a light squared-error anchor that keeps its output on the score scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.errors import InputError
from artjudge.scoring.compare import MIN_STD, p_a_better

Judge = Callable[[str, str], tuple[float, float]]
ELO_TO_LOGIT = math.log(10.0) / 400.0


# --------------------------------------------------------------------------- judges


class TableJudge:
    """A judge read from recorded calls: columns item_a, item_b and p_a_better or winner (a/b/tie),
    optional confidence (default 1). Repeated calls on a pair are averaged; a pair seen only as
    (b, a) answers 1 - p."""

    def __init__(self, calls: pd.DataFrame, source: str = "calls") -> None:
        need = {"item_a", "item_b"}
        if not need <= set(calls.columns) or not ({"p_a_better", "winner"} & set(calls.columns)):
            raise InputError(source, "need columns item_a, item_b and p_a_better or winner")
        df = calls.copy()
        df["item_a"] = df["item_a"].astype(str).str.strip()
        df["item_b"] = df["item_b"].astype(str).str.strip()
        if "p_a_better" in df.columns:
            p = pd.to_numeric(df["p_a_better"], errors="coerce")
        else:
            p = df["winner"].astype(str).str.strip().str.lower().map({"a": 1.0, "b": 0.0, "tie": 0.5})
        bad = p.isna() | (p < 0) | (p > 1)
        if bad.any():
            raise InputError(
                source, f"p_a_better/winner unreadable at line {int(np.flatnonzero(bad)[0]) + 2}"
            )
        conf = (
            pd.to_numeric(df["confidence"], errors="coerce")
            if "confidence" in df.columns
            else pd.Series(1.0, index=df.index)
        )
        if conf.isna().any() or (conf < 0).any() or (conf > 1).any():
            raise InputError(source, "confidence must be a number in [0, 1]")
        if (df["item_a"] == df["item_b"]).any():
            raise InputError(source, "self-comparison in the calls")
        df["p"], df["c"] = p.astype(float), conf.astype(float)
        grouped = df.groupby(["item_a", "item_b"]).agg(p=("p", "mean"), c=("c", "mean"))
        self._table: dict[tuple[str, str], tuple[float, float]] = {
            (str(a), str(b)): (float(r.p), float(r.c)) for (a, b), r in grouped.iterrows()
        }
        self.source = source

    @classmethod
    def from_csv(cls, path: str | Path) -> TableJudge:
        from artjudge.preference.formats import _read_csv

        return cls(_read_csv(path), str(path))

    def pairs(self) -> list[tuple[str, str]]:
        return list(self._table)

    def __call__(self, item_a: str, item_b: str) -> tuple[float, float]:
        if (item_a, item_b) in self._table:
            return self._table[(item_a, item_b)]
        if (item_b, item_a) in self._table:
            p, c = self._table[(item_b, item_a)]
            return 1.0 - p, c
        raise InputError(self.source, f"no call for the pair ({item_a}, {item_b})")


class ScorerJudge:
    """Compare two items by a scorer's absolute scores: :func:`artjudge.scoring.compare.p_a_better`.

    ``score_fn(items) -> (scores, stds)`` scores a batch; results are cached, so a pool
    compared many times is scored once. ``confidence = |2p - 1|``.
    """

    def __init__(
        self, score_fn: Callable[[Sequence[str]], tuple[np.ndarray, np.ndarray]], min_sd: float = MIN_STD
    ) -> None:
        self.score_fn = score_fn
        self.min_sd = min_sd
        self._cache: dict[str, tuple[float, float]] = {}

    def prefetch(self, items: Sequence[str]) -> None:
        todo = [i for i in dict.fromkeys(items) if i not in self._cache]
        if todo:
            s, sd = self.score_fn(todo)
            for i, a, b in zip(todo, s, sd, strict=True):
                self._cache[i] = (float(a), float(b))

    def __call__(self, item_a: str, item_b: str) -> tuple[float, float]:
        self.prefetch([item_a, item_b])
        (sa, da), (sb, db) = self._cache[item_a], self._cache[item_b]
        p = p_a_better(sa, da, sb, db, self.min_sd)
        return p, abs(2 * p - 1)

    @classmethod
    def from_scorer(cls, scorer: Any, paths: dict[str, str] | None = None) -> ScorerJudge:
        """A judge from a loaded scorer (``artjudge.api.load_judge("scorer:NAME")`` builds one).

        ``scorer`` is anything with ``assess_many(images, skip_errors=...)`` returning
        records (the ``Scorer`` protocol); ``paths`` maps item ids to image paths.
        """
        lookup = paths or {}

        def score_fn(items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
            from artjudge.record import Assessment

            recs = scorer.assess_many([lookup.get(i, i) for i in items], skip_errors=True)
            scores, stds = [], []
            for item, rec in zip(items, recs, strict=True):
                if not isinstance(rec, Assessment):
                    raise InputError(item, f"the judge could not score it ({rec.error})")
                scores.append(rec.overall.score)
                stds.append(rec.overall.std or 0.0)
            return np.asarray(scores, float), np.asarray(stds, float)

        return cls(score_fn)


# --------------------------------------------------------------------------- pool and calls


@dataclass
class ReferencePool:
    """Items with known Elo ratings and, optionally, scores on the target scale (0-100)."""

    items: list[str]
    elo: np.ndarray
    score: np.ndarray | None = None

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str = "pool") -> ReferencePool:
        if "item" not in df.columns or "elo" not in df.columns:
            raise InputError(source, "need columns item and elo (and optionally score)")
        items = df["item"].astype(str).str.strip().tolist()
        if len(set(items)) != len(items):
            raise InputError(source, "duplicate item ids")
        if len(items) < 2:
            raise InputError(source, "a reference pool needs at least 2 items")
        elo = pd.to_numeric(df["elo"], errors="coerce").to_numpy(float)
        if not np.isfinite(elo).all():
            raise InputError(
                source, f"elo is not a number at line {int(np.flatnonzero(~np.isfinite(elo))[0]) + 2}"
            )
        score = None
        if "score" in df.columns:
            score = pd.to_numeric(df["score"], errors="coerce").to_numpy(float)
            if not np.isfinite(score).all():
                raise InputError(source, "score is not a number on every row")
        return cls(items, elo, score)

    @classmethod
    def from_csv(cls, path: str | Path) -> ReferencePool:
        from artjudge.preference.formats import _read_csv

        return cls.from_frame(_read_csv(path), str(path))


def table_calls(judge: TableJudge, items: Sequence[str], pool: ReferencePool) -> pd.DataFrame:
    """The recorded calls between a new item and a pool item, as (item, anchor, p_item_better, confidence)."""
    new, ref = set(items), set(pool.items)
    rows = []
    for a, b in judge.pairs():
        p, c = judge(a, b)
        if a in new and b in ref:
            rows.append((a, b, p, c))
        elif b in new and a in ref:
            rows.append((b, a, 1.0 - p, c))
    return pd.DataFrame(rows, columns=["item", "anchor", "p_item_better", "confidence"])


def plan_anchor_pairs(
    items: Sequence[str], pool: ReferencePool, n_anchors: int = 8, seed: int = 0
) -> pd.DataFrame:
    """For each new item, one random anchor per Elo quantile band of the pool; side at random."""
    if n_anchors < 1:
        raise InputError("--anchors", f"must be at least 1, got {n_anchors}")
    overlap = set(items) & set(pool.items)
    if overlap:
        raise InputError(
            "items", f"{len(overlap)} item(s) are already in the pool, e.g. {sorted(overlap)[0]!r}"
        )
    rng = np.random.default_rng(seed)
    order = np.argsort(pool.elo)
    bands = np.array_split(order, min(n_anchors, len(order)))
    rows = []
    for item in items:
        for band in bands:
            anchor = pool.items[int(rng.choice(band))]
            rows.append((item, anchor, bool(rng.random() < 0.5)))
    return pd.DataFrame(rows, columns=["item", "anchor", "item_first"])


def run_judge(judge: Judge, plan: pd.DataFrame, progress: bool = False) -> pd.DataFrame:
    """Ask the judge each planned pair; return calls as (item, anchor, p_item_better, confidence)."""
    from tqdm import tqdm

    if isinstance(judge, ScorerJudge):
        judge.prefetch(list(plan["item"]) + list(plan["anchor"]))
    out = []
    for item, anchor, first in tqdm(
        plan.itertuples(index=False), total=len(plan), disable=not progress, desc="judge"
    ):
        p, c = judge(item, anchor) if first else judge(anchor, item)
        p_item = float(p) if first else 1.0 - float(p)
        if not (0.0 <= p_item <= 1.0 and 0.0 <= float(c) <= 1.0):
            raise InputError(
                "judge", f"returned p={p}, confidence={c} for ({item}, {anchor}); both must be in [0, 1]"
            )
        out.append((item, anchor, p_item, float(c)))
    return pd.DataFrame(out, columns=["item", "anchor", "p_item_better", "confidence"])


def pseudo_scores(
    calls: pd.DataFrame, pool: ReferencePool, prior_sd_elo: float = 400.0, iters: int = 50
) -> pd.DataFrame:
    """Each item's Elo fitted against the fixed pool, then calibrated to the pool's score scale.

    Maximises sum_k c_k [p_k log sigmoid(x - s_k) + (1 - p_k) log sigmoid(s_k - x)]
    - (x - mean_pool)^2 / (2 prior_sd^2) per item, in logit units (Elo * ln10 / 400).
    """
    from sklearn.isotonic import IsotonicRegression

    idx = {k: i for i, k in enumerate(pool.items)}
    unknown = ~calls["anchor"].isin(idx)
    if unknown.any():
        raise InputError("calls", f"anchor {calls.loc[unknown, 'anchor'].iloc[0]!r} is not in the pool")
    codes, names = pd.factorize(calls["item"])
    s = pool.elo[calls["anchor"].map(idx).to_numpy()] * ELO_TO_LOGIT
    p = calls["p_item_better"].to_numpy(float)
    c = np.maximum(calls["confidence"].to_numpy(float), 1e-6)
    m = len(names)
    mu = float(pool.elo.mean()) * ELO_TO_LOGIT
    prec = 1.0 / (prior_sd_elo * ELO_TO_LOGIT) ** 2
    x = np.full(m, mu)
    h: np.ndarray = np.ones(m)
    for _ in range(iters):
        q = 1.0 / (1.0 + np.exp(-(x[codes] - s)))
        g = np.bincount(codes, c * (p - q), m) - prec * (x - mu)
        h = np.bincount(codes, c * q * (1 - q), m) + prec
        step = np.clip(g / h, -2.0, 2.0)
        x += step
        if np.max(np.abs(step)) < 1e-8:
            break
    elo = x / ELO_TO_LOGIT
    elo_se = 1.0 / np.sqrt(h) / ELO_TO_LOGIT
    out = pd.DataFrame(
        {
            "item": np.asarray(names, dtype=str),
            "elo": elo,
            "elo_se": elo_se,
            "n_calls": np.bincount(codes, minlength=m),
        }
    )
    if pool.score is not None:
        iso = IsotonicRegression(increasing=True, out_of_bounds="clip").fit(pool.elo, pool.score)
        out["score"] = iso.predict(elo)
        # Local slope of the calibration carries the Elo SE onto the score scale (floor: the global slope).
        span = np.ptp(pool.elo) or 1.0
        global_slope = float(np.ptp(pool.score)) / span
        local = (iso.predict(elo + elo_se) - iso.predict(elo - elo_se)) / np.maximum(2 * elo_se, 1e-9)
        out["score_se"] = elo_se * np.maximum(local, 0.25 * global_slope)
    else:
        out["score"], out["score_se"] = out["elo"], out["elo_se"]
    return out
