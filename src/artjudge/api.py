"""The Python API: ``artjudge.load(spec)`` returns a scorer.

The embedded scorer lives in :mod:`artjudge.models.embedded`; vision-language models in
:mod:`artjudge.models.vlm`.
"""

from __future__ import annotations

from typing import Any

from artjudge.models.embedded import EmbeddedScorer, ImageInput, load_embedded

Scorer = EmbeddedScorer

__all__ = ["EmbeddedScorer", "ImageInput", "Scorer", "load", "load_embedded"]


def load(model: str = "default", **kwargs: Any) -> Any:
    """A scorer by name: ``default``, a checkpoint folder, or ``vlm:PATH`` for a VLM."""
    if model.startswith("vlm:"):
        from artjudge.models.vlm import load_vlm_scorer

        return load_vlm_scorer(model[4:], **kwargs)
    return load_embedded(model, **kwargs)
