"""Prompt templates for the description pipeline and the text judge.

One template per kind of dataset: ``score-only`` sets (AGIQA-3K, BAID, AVA...) give the
generator only the human score and the dataset's score statistics; ``apddv2`` also gives
the attribute scores and the first part of the artist's comment as a hint, so the
description is anchored in what an expert wrote without copying it (ArtiMuse annotation
types 1 and 2, ArtQuant's score-conditioned descriptions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SYSTEM_GENERATOR = (
    "You are an art critic. You describe artworks hierarchically, from perception (colour, light, "
    "composition) to cognition (style, subject, technique) to emotion (mood, viewer response). Your "
    "evaluation must be consistent with the human aesthetic score you are given."
)
SYSTEM_JUDGE = (
    "You check whether an art description's evaluation agrees with a human aesthetic score. "
    'Answer only with JSON: {"agree": true or false, "reason": "one sentence"}.'
)


@dataclass
class ScoreStats:
    mean: float
    median: float
    std: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {
            "mean": round(self.mean, 2),
            "median": round(self.median, 2),
            "std": round(self.std, 2),
            "n": self.n,
        }


def relative_position(score: float, stats: ScoreStats) -> str:
    z = (score - stats.mean) / stats.std if stats.std > 0 else 0.0
    if z >= 1.0:
        return "well above the dataset average"
    if z >= 0.3:
        return "above the dataset average"
    if z > -0.3:
        return "about average for the dataset"
    if z > -1.0:
        return "below the dataset average"
    return "well below the dataset average"


def _score_block(score: float, stats: ScoreStats) -> str:
    return (
        f"Human aesthetic score: {score:.1f} on a 0-100 scale. Dataset statistics: mean {stats.mean:.1f}, "
        f"median {stats.median:.1f}, standard deviation {stats.std:.1f} ({stats.n} images). "
        f"This work is {relative_position(score, stats)}."
    )


_FORMAT = (
    'Reply with JSON only: {"perception": "...", "cognition": "...", "emotion": "...", '
    '"verdict": "one sentence that states how good the work is, consistent with the score"}.'
)


def generator_messages(
    template: str, item: dict[str, Any], stats: ScoreStats, feedback: str | None = None
) -> list[dict[str, Any]]:
    """Chat messages asking for a hierarchical description conditioned on the score."""
    lines = [_score_block(float(item["score"]), stats)]
    if template == "apddv2":
        attrs = item.get("attributes") or {}
        if attrs:
            lines.append(
                "Attribute scores (0-100): " + ", ".join(f"{k} {v:.0f}" for k, v in attrs.items()) + "."
            )
        if item.get("category"):
            lines.append(f"Category: {item['category']}.")
        hint = partial_comment(str(item.get("text") or ""))
        if hint:
            lines.append(f'The beginning of an expert\'s comment, as a hint (do not copy it): "{hint}..."')
    lines.append("Describe the artwork in the image. " + _FORMAT)
    if feedback:
        lines.append(
            f"A reviewer found your previous description inconsistent with the score: {feedback} "
            "Write a new one that agrees with the score."
        )
    return [{"role": "system", "content": SYSTEM_GENERATOR}, {"role": "user", "content": "\n".join(lines)}]


def judge_messages(item: dict[str, Any], stats: ScoreStats, description: str) -> list[dict[str, Any]]:
    text = (
        _score_block(float(item["score"]), stats) + f"\n\nDescription:\n{description}\n\n"
        "Does the description's overall evaluation agree with this score (a high score needs a clearly "
        "positive evaluation, a low score a critical one, an average score a balanced one)?"
    )
    return [{"role": "system", "content": SYSTEM_JUDGE}, {"role": "user", "content": text}]


def partial_comment(text: str, fraction: float = 0.5, max_words: int = 40) -> str:
    """The first part of a comment (about half, at most ``max_words`` words) as a hint."""
    words = text.split()
    if not words:
        return ""
    n = max(1, min(max_words, int(len(words) * fraction)))
    return " ".join(words[:n])


SYSTEM_TEXT_JUDGE = (
    "You judge written analyses of artworks. Given an expert's reference analysis and several candidate "
    "analyses, pick the candidate closest to the expert's in content and judgement. Answer only with JSON: "
    '{"best": <candidate number>, "reason": "one sentence"}.'
)


def text_judge_messages(reference: str, candidates: list[str]) -> list[dict[str, Any]]:
    parts = [f"Expert reference analysis:\n{reference}\n"]
    for i, c in enumerate(candidates, start=1):
        parts.append(f"Candidate {i}:\n{c}\n")
    parts.append(f"Which candidate (1-{len(candidates)}) is best?")
    return [{"role": "system", "content": SYSTEM_TEXT_JUDGE}, {"role": "user", "content": "\n".join(parts)}]
