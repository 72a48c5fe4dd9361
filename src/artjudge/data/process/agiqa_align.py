"""AGIQA-3K image-prompt pairs with ``mos_align``, to learn consistency with a text prompt.

``mos_align`` (about 0-5) maps linearly onto the 1-10 consistency scale (1 + 9 * mos / 5).
The split is by prompt (``split_by_group``, test 0.2, val 0.1, seed 0), the project's
contract, so no prompt is in both training and test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from artjudge.data.splits import split_by_group
from artjudge.errors import InputError

ALIGN_MAX = 5.0


@dataclass
class AlignPair:
    path: Path
    prompt: str
    style: str
    mos_align: float
    split: str

    @property
    def consistency(self) -> float:
        return 1.0 + 9.0 * min(max(self.mos_align / ALIGN_MAX, 0.0), 1.0)


def full_prompt(row: pd.Series) -> str:
    """The prompt as AGIQA-3K generated it: base prompt, adjectives and style."""
    parts = [str(row["prompt"])]
    for col in ("adj1", "adj2"):
        v = row.get(col)
        if isinstance(v, str) and v.strip():
            parts.append(v.strip())
    style = row.get("style")
    if isinstance(style, str) and style.strip():
        parts.append(style.strip())
    return ", ".join(parts)


def load_align_pairs(root: str | Path, seed: int = 0) -> list[AlignPair]:
    r = Path(root)
    csv = r / "data.csv"
    if not csv.is_file():
        raise InputError(str(csv), "AGIQA-3K data.csv not found")
    df = pd.read_csv(csv)
    splits = split_by_group(df["prompt"].astype(str).tolist(), test_fraction=0.2, val_fraction=0.1, seed=seed)
    out = []
    for (_, row), split in zip(df.iterrows(), splits, strict=True):
        style = row.get("style")
        out.append(
            AlignPair(
                path=r / "images" / str(row["name"]),
                prompt=full_prompt(row),
                style=style.strip().removesuffix(" style") if isinstance(style, str) else "",
                mos_align=float(row["mos_align"]),
                split=split,
            )
        )
    return out
