"""Which pairs to ask people about, within a budget.

* ``dense`` (the locally dense design): items in the order of their current ranking (a prior
  score, or random when there is none); each is compared with its nearest neighbours in that
  order, where fine distinctions are made and where rating scales fail, and a fraction of
  the budget goes to random long-range pairs that tie the whole ranking together.
* ``random``: uniformly random distinct pairs (a spanning cycle first, so the graph connects).
* ``round-robin``: every pair once, repeated in new random orders until the budget is spent.
* :func:`active_plan`: re-planning from judgments so far: among near neighbours in the current
  Bradley-Terry ranking, the pairs whose score difference is most uncertain (posterior
  variance x p(1-p), the expected information of one more judgment).

Every plan is balanced across annotators (counts differ by at most one; no annotator sees the
same pair twice when it can be avoided) and left/right positions are randomised.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from artjudge.errors import InputError

Design = Literal["dense", "random", "round-robin"]


def _check_items(items: Sequence[str], budget: int) -> list[str]:
    ids = [str(i) for i in items]
    if len(ids) < 2:
        raise InputError("items", f"need at least 2 items to compare, got {len(ids)}")
    if len(set(ids)) != len(ids):
        raise InputError("items", "duplicate item ids")
    if budget < 1:
        raise InputError("--budget", f"must be a positive number of comparisons, got {budget}")
    return ids


def _spanning_cycle(n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    order = rng.permutation(n)
    return [(int(order[k]), int(order[(k + 1) % n])) for k in range(n if n > 2 else 1)]


def _random_pairs(
    n: int, count: int, rng: np.random.Generator, exclude: set[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Distinct unordered pairs not in ``exclude`` (while any are left, then repeats)."""
    out: list[tuple[int, int]] = []
    total = n * (n - 1) // 2
    seen = set(exclude)
    tries = 0
    while len(out) < count:
        i, j = (int(v) for v in rng.choice(n, 2, replace=False))
        key = (min(i, j), max(i, j))
        tries += 1
        if key in seen and len(seen) < total and tries < 50 * count + 1000:
            continue
        seen.add(key)
        out.append(key)
    return out


def dense_pairs(
    n: int, budget: int, order: np.ndarray, long_range: float, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Neighbours within a window in ``order`` (window grown until the budget is used), plus long-range pairs."""
    n_long = int(round(budget * long_range))
    # The neighbour chain (gap 1) reaches every item; it is kept whole even on a small budget.
    n_local = max(budget - n_long, min(budget, n - 1))
    local: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    gap = 1
    while len(local) < n_local and gap < n:
        ring = [(int(order[k]), int(order[k + gap])) for k in range(n - gap)]
        if gap > 1:
            rng.shuffle(ring)
        for i, j in ring:
            if len(local) >= n_local:
                break
            key = (min(i, j), max(i, j))
            if key not in seen:
                seen.add(key)
                local.append(key)
        gap += 1
    return local + _random_pairs(n, budget - len(local), rng, seen)


def _assign(
    pairs: list[tuple[int, int]], ids: list[str], annotators: Sequence[str], rng: np.random.Generator
) -> pd.DataFrame:
    """Deal pairs to annotators in turn (balanced), avoiding a repeat pair for the same annotator.

    A pair that every least-loaded annotator already has waits until one without it is
    least loaded; only pairs left over at the end repeat. Their number is in
    ``df.attrs["repeats"]`` so the CLI can say so (asking one person the same pair again
    measures their consistency, not the items, and people notice).
    """
    order = rng.permutation(len(pairs))
    k = len(annotators)
    seen: list[set[tuple[int, int]]] = [set() for _ in range(k)]
    load = np.zeros(k, dtype=int)
    rows: list[tuple[int, str, str, str]] = []

    def give(i: int, j: int, choice: int) -> None:
        seen[choice].add((i, j))
        load[choice] += 1
        a, b = (j, i) if rng.random() < 0.5 else (i, j)
        rows.append((len(rows), annotators[choice], ids[a], ids[b]))

    def fresh(i: int, j: int) -> int | None:
        least = np.flatnonzero(load == load.min())
        return next((int(c) for c in rng.permutation(least) if (i, j) not in seen[int(c)]), None)

    waiting: list[tuple[int, int]] = []
    for idx in order:
        i, j = pairs[idx]
        choice = fresh(i, j)
        if choice is None:
            waiting.append((i, j))
            continue
        give(i, j, choice)
        for w, (wi, wj) in enumerate(waiting):  # a waiting pair may fit now that the loads moved
            c = fresh(wi, wj)
            if c is not None:
                give(wi, wj, c)
                del waiting[w]
                break
    for i, j in waiting:
        give(i, j, int(np.flatnonzero(load == load.min())[0]))
    df = pd.DataFrame(rows, columns=["pair_id", "annotator", "item_a", "item_b"])
    df.attrs["repeats"] = len(waiting)
    return df


def annotator_names(annotators: int | Sequence[str]) -> list[str]:
    if isinstance(annotators, int):
        if annotators < 1:
            raise InputError("--annotators", f"must be at least 1, got {annotators}")
        width = len(str(annotators))
        return [f"annotator_{k + 1:0{width}d}" for k in range(annotators)]
    names = [str(a) for a in annotators]
    if not names:
        raise InputError("--annotators", "no annotators given")
    return names


class PairDesigner:
    """Plan ``budget`` comparisons over items for ``annotators`` (a count or names).

    long_range: share of the dense design's budget spent on random long-range pairs.
    """

    def __init__(
        self,
        design: Design = "dense",
        budget: int = 100,
        annotators: int | Sequence[str] = 1,
        long_range: float = 0.2,
        seed: int = 0,
    ) -> None:
        if design not in ("dense", "random", "round-robin"):
            raise InputError("--design", f"unknown design {design!r}; choose dense, random or round-robin")
        if not 0 <= long_range <= 1:
            raise InputError("--long-range", f"must be in [0, 1], got {long_range}")
        self.design = design
        self.budget = budget
        self.annotators = annotators
        self.long_range = long_range
        self.seed = seed

    def plan(self, items: Sequence[str], scores: Sequence[float] | np.ndarray | None = None) -> pd.DataFrame:
        ids = _check_items(items, self.budget)
        names = annotator_names(self.annotators)
        n = len(ids)
        rng = np.random.default_rng(self.seed)
        if self.design == "round-robin":
            all_pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
            pairs: list[tuple[int, int]] = []
            while len(pairs) < self.budget:
                pairs.extend(all_pairs[k] for k in rng.permutation(len(all_pairs)))
            pairs = pairs[: self.budget]
        elif self.design == "random":
            base = _spanning_cycle(n, rng)[: self.budget]
            pairs = base + _random_pairs(
                n, self.budget - len(base), rng, {(min(i, j), max(i, j)) for i, j in base}
            )
        else:
            if scores is not None:
                s = np.asarray(scores, dtype=float)
                if len(s) != n:
                    raise InputError("scores", f"{len(s)} scores for {n} items")
                s = np.where(np.isfinite(s), s, np.nanmean(s) if np.isfinite(s).any() else 0.0)
                order = np.lexsort((rng.random(n), s))
            else:
                order = rng.permutation(n)
            pairs = dense_pairs(n, self.budget, order, self.long_range, rng)
        return _assign(pairs, ids, names, rng)


def active_plan(
    items: Sequence[str],
    judgments: pd.DataFrame,
    budget: int,
    annotators: int | Sequence[str] = 1,
    window: int = 5,
    long_range: float = 0.1,
    seed: int = 0,
) -> pd.DataFrame:
    """The next ``budget`` pairs given the judgments so far.

    Items not yet compared are paired first (with random partners); then, among each
    item's ``window`` nearest neighbours in the current BT ranking, the pairs with the
    largest var(s_i - s_j) * p(1-p); at most ``2 * budget / n + 1`` picks per item, so the
    effort spreads; ``long_range`` of the budget stays random to keep the graph tied.
    """
    from artjudge.preference.graph import encode
    from artjudge.preference.models import BradleyTerry

    ids = _check_items(items, budget)
    names = annotator_names(annotators)
    n = len(ids)
    rng = np.random.default_rng(seed)
    index = {k: i for i, k in enumerate(ids)}
    comp = encode(judgments, ids)
    counts = comp.counts()
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for lone in np.flatnonzero(counts == 0):
        if len(pairs) >= budget:
            break
        partner = int(rng.choice(np.flatnonzero(np.arange(n) != lone)))
        key = (min(int(lone), partner), max(int(lone), partner))
        seen.add(key)
        pairs.append(key)
    compared = np.flatnonzero(counts > 0)
    if len(compared) >= 2 and len(pairs) < budget:
        sub = judgments[judgments["item_a"].isin({ids[i] for i in compared})]
        try:
            model = BradleyTerry().fit(sub)
            res, cov = model.result_, model.cov_
            local = [index[k] for k in res.items]
            s = res.score
        except Exception:  # disconnected so far: rank by win rate, unit uncertainty
            local, s, cov = list(compared), np.zeros(len(compared)), np.eye(len(compared))
        order = np.argsort(s)
        cand: list[tuple[float, int, int]] = []
        for pos in range(len(order)):
            for off in range(1, window + 1):
                if pos + off >= len(order):
                    break
                u, v = int(order[pos]), int(order[pos + off])
                var = cov[u, u] + cov[v, v] - 2 * cov[u, v]
                p = 1.0 / (1.0 + np.exp(-(s[u] - s[v])))
                cand.append((float(var * p * (1 - p)), local[u], local[v]))
        cand.sort(reverse=True)
        cap = 2 * budget // n + 1
        used = np.zeros(n, dtype=int)
        n_active = budget - len(pairs) - int(round(budget * long_range))
        for _gain, ci, cj in cand:
            if n_active <= 0:
                break
            key = (min(int(ci), int(cj)), max(int(ci), int(cj)))
            if key in seen or used[ci] >= cap or used[cj] >= cap:
                continue
            seen.add(key)
            pairs.append(key)
            used[ci] += 1
            used[cj] += 1
            n_active -= 1
    pairs += _random_pairs(n, budget - len(pairs), rng, seen)
    return _assign(pairs, ids, names, rng)
