"""People's judgments to ground truth and back: pair design, BT / Thurstone / Elo, fusion
with ratings, reliability, and the judge side of distillation (pseudo-scores; the student trains in
``artjudge.train.student``). See docs/preference.md."""

from __future__ import annotations

from artjudge.preference.design import PairDesigner, active_plan
from artjudge.preference.distill import (
    ReferencePool,
    ScorerJudge,
    TableJudge,
    pseudo_scores,
)
from artjudge.preference.formats import read_items, read_judgments, read_ratings, write_csv
from artjudge.preference.fusion import RatingFusion, fit_latent, split_half_constructions
from artjudge.preference.graph import DisconnectedGraphError
from artjudge.preference.models import BradleyTerry, Elo, PreferenceScores, Thurstone, TrueSkill
from artjudge.preference.reliability import ReliabilityReport, reliability_report

__all__ = [
    "BradleyTerry",
    "DisconnectedGraphError",
    "Elo",
    "PairDesigner",
    "PreferenceScores",
    "RatingFusion",
    "ReferencePool",
    "ReliabilityReport",
    "ScorerJudge",
    "TableJudge",
    "Thurstone",
    "TrueSkill",
    "active_plan",
    "fit_latent",
    "pseudo_scores",
    "read_items",
    "read_judgments",
    "read_ratings",
    "reliability_report",
    "split_half_constructions",
    "write_csv",
]
