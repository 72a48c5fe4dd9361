"""The comparison graph: which items are tied together by judgments.

Scores from two components that no chain of comparisons connects share no scale; a model
that puts them on one axis invents the offset. So a disconnected graph is always reported,
and either refused or scored component by component, never silently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from artjudge.errors import ArtjudgeError, InputError

P = ParamSpec("P")
R = TypeVar("R")


def single_threaded(func: Callable[P, R]) -> Callable[P, R]:
    """Run the small dense algebra of a fit on one BLAS thread.

    The matrices here are a few hundred wide: threads buy nothing, and on a shared
    machine OpenBLAS threads spinning against each other made a 300x300 inverse 100x slower.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Comparisons:
    """Judgments as index arrays: outcome 1 = a won, 0 = b won, 0.5 = tie."""

    items: list[str]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    weight: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.items)

    def counts(self) -> np.ndarray:
        """Comparisons per item."""
        return np.bincount(self.a, minlength=self.n_items) + np.bincount(self.b, minlength=self.n_items)


class DisconnectedGraphError(ArtjudgeError):
    """The judgments split the items into groups that were never compared with each other."""

    def __init__(self, source: str, components: list[list[str]]) -> None:
        self.components = components
        parts = []
        for k, comp in enumerate(components[:5]):
            shown = ", ".join(comp[:4]) + (", ..." if len(comp) > 4 else "")
            parts.append(f"#{k + 1} ({len(comp)} items: {shown})")
        more = f" and {len(components) - 5} more" if len(components) > 5 else ""
        super().__init__(
            f"{source}: the comparison graph has {len(components)} disconnected components: "
            f"{'; '.join(parts)}{more}. Their scores share no scale; add comparisons between them "
            "or score each separately (--components separate)"
        )


def encode(df: pd.DataFrame, items: Sequence[str] | None = None, use_confidence: bool = False) -> Comparisons:
    """Turn a validated judgments table into index arrays, in a canonical item order.

    Items are sorted so that the same judgments give the same encoding whatever the row
    order; ``items`` (if given) fixes the universe and refuses unknown ids. A table from
    :func:`artjudge.preference.formats.validate_judgments` (categorical columns) is encoded
    from its codes: no per-row strings, the same arrays.
    """
    fast = _encode_categorical(df, items, use_confidence)
    if fast is not None:
        return fast
    ids_a = df["item_a"].to_numpy(dtype=str)
    ids_b = df["item_b"].to_numpy(dtype=str)
    if items is None:
        uniq, inverse = np.unique(np.concatenate([ids_a, ids_b]), return_inverse=True)
        universe = [str(x) for x in uniq]
        a, b = inverse[: len(ids_a)].astype(np.int64), inverse[len(ids_a) :].astype(np.int64)
    else:
        universe = list(items)
        known = set(universe)
        for col in ("item_a", "item_b"):
            unknown = ~df[col].isin(known)
            if unknown.any():
                raise InputError("judgments", f"unknown item id {df.loc[unknown, col].iloc[0]!r} in {col}")
        index = {item: k for k, item in enumerate(universe)}
        a = np.fromiter((index[x] for x in ids_a), np.int64, len(ids_a))
        b = np.fromiter((index[x] for x in ids_b), np.int64, len(ids_b))
    if np.any(a == b):
        raise InputError("judgments", "self-comparison (an item against itself)")
    winner = df["winner"].to_numpy(dtype=str)
    outcome = np.where(winner == "a", 1.0, np.where(winner == "b", 0.0, 0.5))
    if use_confidence and "confidence" in df.columns:
        weight = df["confidence"].to_numpy(dtype=float)
    else:
        weight = np.ones(len(df))
    return Comparisons(universe, a, b, outcome, weight)


def _shared_sorted_codes(df: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray] | None:
    """item_a / item_b codes when both are categoricals over the same sorted text categories."""
    col_a, col_b = df["item_a"], df["item_b"]
    if not (isinstance(col_a.dtype, pd.CategoricalDtype) and isinstance(col_b.dtype, pd.CategoricalDtype)):
        return None
    cats = col_a.cat.categories
    if not (
        cats.equals(col_b.cat.categories) and cats.inferred_type == "string" and cats.is_monotonic_increasing
    ):
        return None
    ca, cb = col_a.cat.codes.to_numpy(), col_b.cat.codes.to_numpy()
    if len(ca) and (ca.min() < 0 or cb.min() < 0):
        return None  # a missing id: let the general path decide
    return cats, ca, cb


def _encode_categorical(
    df: pd.DataFrame, items: Sequence[str] | None, use_confidence: bool
) -> Comparisons | None:
    """:func:`encode` for categorical columns; ``None`` when the table is not in that form.

    The sorted categories restricted to the ids present are exactly the sorted unique ids,
    so universe and indices match the string path; only ``len(categories)``-sized lookups
    are built, never a string per row.
    """
    shared = _shared_sorted_codes(df)
    winner = df["winner"]
    if shared is None or not isinstance(winner.dtype, pd.CategoricalDtype):
        return None
    cats, ca, cb = shared
    wcodes = winner.cat.codes.to_numpy()
    if len(wcodes) and wcodes.min() < 0:
        return None
    lookup = np.full(len(cats), -1, dtype=np.int64)
    if items is None:
        present = np.flatnonzero(np.bincount(ca, minlength=len(cats)) + np.bincount(cb, minlength=len(cats)))
        universe = [str(cats[k]) for k in present]
        lookup[present] = np.arange(len(present))
    else:
        universe = list(items)
        index = {item: k for k, item in enumerate(universe)}
        for col, codes in (("item_a", ca), ("item_b", cb)):
            unknown = [k for k in np.unique(codes) if str(cats[k]) not in index]
            if unknown:
                first = cats[codes[np.isin(codes, unknown)][0]]  # the first such row, as the string path says
                raise InputError("judgments", f"unknown item id {str(first)!r} in {col}")
        for k, name in enumerate(cats):
            lookup[k] = index.get(str(name), -1)
    a, b = lookup[ca], lookup[cb]
    if np.any(a == b):
        raise InputError("judgments", "self-comparison (an item against itself)")
    wcats = np.asarray(winner.cat.categories.astype(str), dtype=object)
    per_winner = np.where(wcats == "a", 1.0, np.where(wcats == "b", 0.0, 0.5))
    outcome = per_winner[wcodes] if len(wcats) else np.zeros(0)
    if use_confidence and "confidence" in df.columns:
        weight = df["confidence"].to_numpy(dtype=float)
    else:
        weight = np.ones(len(df))
    return Comparisons(universe, a, b, outcome, weight)


def components(comp: Comparisons) -> list[list[str]]:
    """Connected components, largest first, each as a sorted list of item ids."""
    n = comp.n_items
    if n == 0:
        return []
    adj = coo_matrix((np.ones(len(comp.a)), (comp.a, comp.b)), shape=(n, n))
    n_comp, labels = connected_components(adj, directed=False)
    groups = [sorted(comp.items[i] for i in np.flatnonzero(labels == k)) for k in range(n_comp)]
    return sorted(groups, key=lambda g: (-len(g), g[0]))


def require_connected(comp: Comparisons, source: str = "judgments") -> None:
    never = [comp.items[i] for i in np.flatnonzero(comp.counts() == 0)]
    if never:
        shown = ", ".join(never[:5]) + (f" (+{len(never) - 5} more)" if len(never) > 5 else "")
        raise InputError(source, f"{len(never)} item(s) never compared: {shown}")
    groups = components(comp)
    if len(groups) > 1:
        raise DisconnectedGraphError(source, groups)
