"""A simulated panel: known truth in, judgments and ratings out.

Used by the tests and benchmarks (and useful for sizing a study before running it): each
annotator perceives item i as N(mean_i, std_i) plus their own bias, fresh for every
judgment; a pairwise call compares two perceptions (a tie when they are closer than
``tie_margin``), a rating is the perception (bias included), rounded and clipped to the scale.
A pairwise call is blind to the annotator's bias (it cancels), a rating is not: that is the
difference between the two protocols the fusion exploits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Panel:
    """Annotator ids with their bias (rating offset) and extra noise multiplier."""

    annotators: list[str]
    bias: np.ndarray
    noise: np.ndarray

    @classmethod
    def make(cls, n: int, bias_sd: float, noise_sd: float = 0.2, seed: int = 0, prefix: str = "ann") -> Panel:
        rng = np.random.default_rng(seed)
        width = len(str(n))
        return cls(
            [f"{prefix}{k:0{width}d}" for k in range(n)],
            rng.normal(0.0, bias_sd, n),
            np.exp(rng.normal(0.0, noise_sd, n)),
        )


def simulate_judgments(
    plan: pd.DataFrame,
    mean: pd.Series,
    std: pd.Series,
    panel: Panel,
    tie_margin: float = 0.0,
    seed: int = 0,
    dimension: str = "overall",
) -> pd.DataFrame:
    """Answer a plan (pair_id, annotator, item_a, item_b) as the panel would."""
    rng = np.random.default_rng(seed)
    noise = dict(zip(panel.annotators, panel.noise, strict=True))
    k = plan["annotator"].map(noise).to_numpy(float)
    ma, mb = mean.loc[plan["item_a"]].to_numpy(float), mean.loc[plan["item_b"]].to_numpy(float)
    sa, sb = std.loc[plan["item_a"]].to_numpy(float), std.loc[plan["item_b"]].to_numpy(float)
    pa = ma + rng.normal(0, 1, len(plan)) * sa * k
    pb = mb + rng.normal(0, 1, len(plan)) * sb * k
    diff = pa - pb
    winner = np.where(np.abs(diff) < tie_margin, "tie", np.where(diff > 0, "a", "b"))
    return pd.DataFrame(
        {
            "annotator": plan["annotator"].to_numpy(),
            "item_a": plan["item_a"].to_numpy(),
            "item_b": plan["item_b"].to_numpy(),
            "winner": winner,
            "dimension": dimension,
            "confidence": 1.0,
        }
    )


def simulate_ratings(
    items: Sequence[str],
    mean: pd.Series,
    std: pd.Series,
    panel: Panel,
    per_item: int,
    scale: tuple[float, float],
    step: float | None = None,
    seed: int = 0,
    dimension: str = "overall",
) -> pd.DataFrame:
    """``per_item`` ratings per item from distinct random annotators, rounded to ``step``, clipped to ``scale``."""
    rng = np.random.default_rng(seed)
    rows = []
    n_ann = len(panel.annotators)
    for item in items:
        for k in rng.choice(n_ann, min(per_item, n_ann), replace=False):
            v = mean[item] + panel.bias[k] + rng.normal(0, 1) * std[item] * panel.noise[k]
            if step:
                v = round(v / step) * step
            rows.append((panel.annotators[k], item, float(np.clip(v, *scale)), dimension))
    return pd.DataFrame(rows, columns=["annotator", "item", "score", "dimension"])
