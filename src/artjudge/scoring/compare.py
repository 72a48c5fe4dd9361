"""The one P(a beats b) for two scores: the chance that a's true score exceeds b's.

Both scores carry independent normal errors with the given standard deviations, each
floored at ``MIN_STD`` points: a score is never known to better than a point on 0-100, so
two near-equal scores with no stated spread give a probability near one half instead of
a hard 0 or 1. Used by the service's ``/v1/compare`` and by the distillation judge that
compares a scorer's scores (:class:`artjudge.preference.distill.ScorerJudge`); it was two
formulas with different floors before (issue 24.6).
"""

from __future__ import annotations

import math

__all__ = ["MIN_STD", "p_a_better"]

MIN_STD: float = 1.0
"""The least standard deviation (0-100 points) either score is taken to have."""


def p_a_better(score_a: float, std_a: float, score_b: float, std_b: float, min_std: float = MIN_STD) -> float:
    """``Phi((score_a - score_b) / sqrt(std_a^2 + std_b^2))`` with each std at least ``min_std``."""
    sd = math.sqrt(max(std_a, min_std) ** 2 + max(std_b, min_std) ** 2)
    if sd <= 0.0:
        return 1.0 if score_a > score_b else 0.0 if score_a < score_b else 0.5
    return 0.5 * (1.0 + math.erf((score_a - score_b) / (sd * math.sqrt(2.0))))
