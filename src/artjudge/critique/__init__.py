"""Words about an artwork, grounded in measured evidence.

``compose(assessment, evidence)`` writes the embedded critique; ``EmbeddedCritic`` wraps
measuring and composing behind the ``Critic`` protocol that the VLM critic also follows.
``attach(assessment, image)`` fills ``Assessment.critique`` and ``Assessment.evidence``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from artjudge.critique.base import Critic, Critique, Sentence
from artjudge.critique.compose import EmbeddedCritic, compose

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Assessment


def attach(assessment: Assessment, image: Image.Image, *, language: str = "en") -> Assessment:
    """Measure ``image``, compose its critique, and store both in ``assessment`` (returned)."""
    from artjudge.features.evidence import measure

    evidence = measure(image)
    assessment.set_evidence(evidence.to_dict())
    assessment.set_critique(compose(assessment, evidence, language=language).to_dict())
    return assessment


def critique_record(image: Image.Image, record: Assessment, *, language: str = "en") -> Assessment:
    """``attach`` with the (image, record) argument order the scorer uses."""
    return attach(record, image, language=language)


__all__ = ["Critic", "Critique", "EmbeddedCritic", "Sentence", "attach", "compose", "critique_record"]
