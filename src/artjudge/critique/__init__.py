"""Words about an artwork, grounded in measured evidence.

``compose(assessment, evidence)`` writes the embedded critique; ``EmbeddedCritic`` wraps
measuring and composing behind the ``Critic`` protocol that the VLM critic also follows.
``critique_record(image, assessment)`` fills ``Assessment.critique`` and ``Assessment.evidence``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from artjudge.critique.base import Critic, Critique, Sentence
from artjudge.critique.compose import EmbeddedCritic, compose

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Assessment


def critique_record(image: Image.Image, record: Assessment, *, language: str = "en") -> Assessment:
    """Measure ``image``, compose its critique, and store both in ``record`` (returned).

    The (image, record) order is the :class:`~artjudge.models.base.RecordCritic` call every
    scorer makes, so this is the one function; ``attach`` is its deprecated old spelling.
    """
    from artjudge.features.evidence import measure

    evidence = measure(image)
    record.set_evidence(evidence.to_dict())
    record.set_critique(compose(record, evidence, language=language).to_dict())
    return record


def attach(assessment: Assessment, image: Image.Image, *, language: str = "en") -> Assessment:
    """Deprecated (one release): ``critique_record(image, assessment)`` with the arguments swapped."""
    import warnings

    warnings.warn(
        "artjudge.critique.attach(record, image) is deprecated; use critique_record(image, record)",
        DeprecationWarning,
        stacklevel=2,
    )
    return critique_record(image, assessment, language=language)


__all__ = ["Critic", "Critique", "EmbeddedCritic", "Sentence", "attach", "compose", "critique_record"]
