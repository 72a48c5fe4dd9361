"""Small pieces every reader shares: split names, seeded splits, folder layouts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from artjudge.data.splits import split_by_group
from artjudge.errors import InputError

_SPLIT_NAMES: dict[str, str] = {
    "train": "train",
    "training": "train",
    "trn": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "dev": "val",
    "test": "test",
    "testing": "test",
    "tst": "test",
}


def normalize_split(value: Any, source: str, row: int | None = None) -> str:
    """Map a dataset's split name ("training", "validation", ...) onto train/val/test."""
    key = str(value).strip().lower()
    if key in _SPLIT_NAMES:
        return _SPLIT_NAMES[key]
    where = f"row {row}: " if row is not None else ""
    raise InputError(source, f"{where}unknown split {value!r} (use train, val or test)")


def normalize_splits(values: Sequence[Any], source: str, header_rows: int = 1) -> list[str]:
    return [normalize_split(v, source, i + 1 + header_rows) for i, v in enumerate(values)]


def seeded_split(
    groups: Sequence[Any], *, test_fraction: float = 0.2, val_fraction: float = 0.1, seed: int = 0
) -> list[str]:
    """A reproducible split for datasets that publish none (documented per dataset)."""
    return split_by_group(
        [str(g) for g in groups], test_fraction=test_fraction, val_fraction=val_fraction, seed=seed
    )


SEEDED_NOTE = (
    "no official split is published: rows are split {t:.0%} test / {v:.0%} val / rest train "
    "by {by}, seed {seed} (artjudge.data.splits.split_by_group)"
)
