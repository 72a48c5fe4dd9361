"""Vision-language models as scorers, critics and pairwise judges (``vlm:PATH`` models).

Heavy imports (transformers, peft) happen when a model is loaded, not on import, so that
``artjudge`` works without the ``vlm`` extra until a VLM is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artjudge.models.vlm.pair import VLMPairJudge
    from artjudge.models.vlm.scorer import VLMScorer


def load_vlm_scorer(path: str, **kw: Any) -> VLMScorer:
    """Scorer for ``artjudge assess --model vlm:PATH`` (kw: batch_size, mode, dtype, device...)."""
    from artjudge.models.vlm.scorer import load_vlm_scorer as _load

    return _load(path, **kw)


def load_vlm_judge(path: str, **kw: Any) -> VLMPairJudge:
    """Pairwise judge for ``distill --judge vlm:PATH``: ``judge(a, b) -> (p_a_better, confidence)``."""
    from artjudge.models.vlm.pair import load_vlm_judge as _load

    return _load(path, **kw)


def __getattr__(name: str) -> Any:
    lazy = {
        "VLMScorer": "artjudge.models.vlm.scorer",
        "VLMPairJudge": "artjudge.models.vlm.pair",
        "VLM": "artjudge.models.vlm.core",
        "load_vlm": "artjudge.models.vlm.core",
        "find_score_tokens": "artjudge.models.vlm.tokens",
        "find_level_tokens": "artjudge.models.vlm.tokens",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(name)


__all__ = ["load_vlm_judge", "load_vlm_scorer"]
