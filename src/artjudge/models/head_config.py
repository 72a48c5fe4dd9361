"""The head's shape, without torch: what a checkpoint's card says and both engines read.

Kept apart from :mod:`artjudge.models.head` (the PyTorch module) so that scoring with ONNX
Runtime can read a checkpoint's configuration without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

N_BINS = 101
CLOSED_FAMILIES: tuple[str, ...] = ("ridge", "kernel")


@dataclass
class HeadConfig:
    """Shape of the head; saved inside every checkpoint so loading needs no guesswork."""

    resolution: int = 384
    hidden: int = 256
    dropout: float = 0.5
    tune_top: bool = False
    targets: list[str] = field(default_factory=lambda: ["overall"])
    use_handcrafted: bool = True
    members: int = 8
    # Closed-form heads (small-data training, artjudge.train.small): target -> "ridge" or
    # "kernel"; every other target is read by the MLP ensemble. ``n_anchors`` is the number of
    # standardised training rows kept for kernel heads and for the distance-based uncertainty.
    families: dict[str, str] = field(default_factory=dict)
    n_anchors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def unskilled_targets(card: dict[str, Any]) -> list[str]:
    """The card's heads whose measured skill is not established (card ``skill`` block).

    Such a head is never shown as a bare grade: the scorer keeps it out of the record's
    attributes and names it in a note, and the critique never advises on it. A card without
    a skill block (the shipped default, models trained before skill was measured) marks none.
    """
    skill = card.get("skill")
    heads = skill.get("heads") if isinstance(skill, dict) else None
    if not isinstance(heads, dict):
        return []
    return [t for t, h in heads.items() if isinstance(h, dict) and h.get("skilled") is False]


def skill_notes(unskilled: list[str]) -> list[str]:
    """The record's note naming the heads left out for want of measured skill (none: no note)."""
    attrs = [t for t in unskilled if t != "overall"]
    notes = []
    if attrs:
        notes.append(
            "unskilled attributes, not shown as grades (their skill on held-out folds is not "
            f"established; see the model card's skill block): {', '.join(attrs)}"
        )
    if "overall" in unskilled:
        notes.append(
            "the overall score's skill on held-out folds is not established (model card's skill "
            "block): read it as a weak guess, not a grade"
        )
    return notes
