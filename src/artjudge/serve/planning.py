"""Which tasks an annotator gets: pair plans (``artjudge.preference.design``) and ratings.

Every annotator of a campaign compares the same planned pairs (so their agreement can be
measured), in their own shuffled order with A/B sides swapped for half of them, so that
position bias and fatigue are spread across the panel.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from artjudge.store.repo import PlannedTask

if TYPE_CHECKING:
    from artjudge.preference.design import Design

MAX_PAIRS = 5000
DESIGN_NAMES: dict[str, Design] = {"round_robin": "round-robin", "random": "random", "locally_dense": "dense"}


def default_budget(n_items: int, design: str) -> int:
    """Every pair for round robin; about 4 comparisons per item for the sparse designs."""
    all_pairs = n_items * (n_items - 1) // 2
    if design == "round_robin":
        return min(all_pairs, MAX_PAIRS)
    return min(all_pairs, max(n_items * 4, n_items), MAX_PAIRS)


def _fallback_pairs(item_ids: Sequence[int], budget: int, seed: int) -> list[tuple[int, int]]:
    all_pairs = list(itertools.combinations(item_ids, 2))
    random.Random(seed).shuffle(all_pairs)
    return all_pairs[:budget]


def plan_pairs(
    item_ids: Sequence[int], design: str, budget: int, seed: int = 0
) -> tuple[list[tuple[int, int]], str]:
    """Pairs to compare and a note naming the designer that made them."""
    if len(item_ids) < 2:
        return [], "fewer than 2 items: no pairs"
    budget = min(budget or default_budget(len(item_ids), design), MAX_PAIRS)
    try:
        from artjudge.preference.design import PairDesigner
    except ImportError as err:
        return _fallback_pairs(
            item_ids, budget, seed
        ), f"artjudge.preference unavailable ({err}); random pairs"
    plan = PairDesigner(design=DESIGN_NAMES[design], budget=budget, annotators=1, seed=seed).plan(
        [str(i) for i in item_ids]
    )
    pairs = [(int(a), int(b)) for a, b in zip(plan["item_a"], plan["item_b"], strict=True)]
    return pairs, f"artjudge.preference {DESIGN_NAMES[design]} design, {len(pairs)} pairs"


def plan_tasks(
    item_ids: Sequence[int],
    dimensions: Sequence[str],
    pairs: Sequence[tuple[int, int]],
    ratings: bool,
    seed: int,
) -> list[PlannedTask]:
    """Pairs first, then ratings, each block shuffled per annotator."""
    rng = random.Random(seed)
    pair_tasks: list[PlannedTask] = []
    for dim in dimensions:
        for k, (a, b) in enumerate(pairs):
            if (k + seed) % 2:
                a, b = b, a
            pair_tasks.append(PlannedTask("pair", dim, a, b))
    rng.shuffle(pair_tasks)
    rating_tasks = [PlannedTask("rating", dim, i) for dim in dimensions for i in item_ids] if ratings else []
    rng.shuffle(rating_tasks)
    return pair_tasks + rating_tasks
