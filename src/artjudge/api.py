"""The Python API: ``artjudge.load(spec)`` returns a :class:`~artjudge.models.base.Scorer`.

One registry, pyiqa's ``create_metric`` / ``list_models`` shape, with open_clip-style
spec parsing: a spec is a shipped name (``default``), a scheme and a path (``vlm:PATH``,
``student:PATH``, ``checkpoint:PATH``), or a bare path whose content says what it is (a
checkpoint folder with ``head.pt``, or a distilled student file). Whatever comes back has
the same methods; this layer also attaches the critic, because the model layer below may
not import :mod:`artjudge.critique`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from artjudge.errors import InputError, ModelNotAvailable
from artjudge.models.base import PairJudge, Scorer
from artjudge.models.embedded import EmbeddedScorer, ImageInput, load_embedded
from artjudge.models.weights import PACKAGE_WEIGHTS

__all__ = [
    "EmbeddedScorer",
    "ImageInput",
    "RegistryEntry",
    "Scorer",
    "list_models",
    "load",
    "load_embedded",
    "load_judge",
    "registry",
]


@dataclass(frozen=True)
class RegistryEntry:
    """One way to name a scorer: ``spec`` is what you pass to :func:`load`."""

    spec: str
    kind: str  # embedded | vlm | student
    description: str
    shipped: bool = False  # weights inside the package (no path needed)


def _shipped_names() -> list[str]:
    if not PACKAGE_WEIGHTS.is_dir():
        return []
    return sorted(p.name for p in PACKAGE_WEIGHTS.iterdir() if (p / "head.pt").is_file())


def registry() -> list[RegistryEntry]:
    """Every spec :func:`load` understands: shipped models first, then the path schemes."""
    import json

    out = []
    for name in _shipped_names():
        card = json.loads((PACKAGE_WEIGHTS / name / "card.json").read_text())
        out.append(
            RegistryEntry(
                name,
                "embedded",
                f"{card.get('id')} {card.get('version')}: {card.get('description', '')}",
                shipped=True,
            )
        )
    out += [
        RegistryEntry(
            "checkpoint:PATH",
            "embedded",
            "a head checkpoint folder (head.pt + card.json) written by "
            "`artjudge train`; a bare folder path works too",
        ),
        RegistryEntry(
            "vlm:PATH",
            "vlm",
            "a vision-language model folder or hub id on disk (fine-tuned by "
            "`artjudge train-vlm`, or a random one from `artjudge vlm-tiny`)",
        ),
        RegistryEntry(
            "student:PATH",
            "student",
            "a distilled student file written by `artjudge distill` without "
            "--features; a bare file path works too",
        ),
    ]
    return out


def list_models() -> list[str]:
    """The specs :func:`load` accepts (pyiqa's ``list_models``): shipped names, then schemes."""
    return [e.spec for e in registry()]


def _embedded_critic() -> Callable[..., Any]:
    from artjudge.critique import critique_record

    return critique_record


def _load_vlm(path: str, kwargs: dict[str, Any]) -> Scorer:
    from artjudge.critique.vlm import VLMCritic, VLMRecordCritic
    from artjudge.models.vlm import load_vlm_scorer

    scorer = load_vlm_scorer(path, **kwargs)
    scorer.critic = VLMRecordCritic(VLMCritic(scorer.vlm))
    return scorer


def _load_student(path: str, kwargs: dict[str, Any]) -> Scorer:
    from artjudge.models.student import load_student_scorer

    return load_student_scorer(path, critic=_embedded_critic(), **kwargs)


def _load_embedded(spec: str, kwargs: dict[str, Any]) -> Scorer:
    from artjudge.critique.rubric import rubric_critic_for
    from artjudge.models.weights import resolve_checkpoint

    scorer = load_embedded(spec, critic=_embedded_critic(), **kwargs)
    # A model trained on a user's rubric (rubric.json in its folder) critiques by that rubric.
    rubric_critic = rubric_critic_for(resolve_checkpoint(spec), scorer.embed)
    if rubric_critic is not None:
        scorer.critic = rubric_critic
    return scorer


_SCHEMES: dict[str, Callable[[str, dict[str, Any]], Scorer]] = {
    "vlm": _load_vlm,
    "student": _load_student,
    "checkpoint": _load_embedded,
}


def load(model: str = "default", **kwargs: Any) -> Scorer:
    """A scorer from a spec (see :func:`list_models`); ``kwargs`` go to that kind's loader.

    Embedded: ``consistency`` ("offline" or "clip:PATH", docs/consistency.md).
    Embedded and student: ``cache``, ``threads``, ``max_pixels``. VLM: ``batch_size``,
    ``mode``, ``dtype``, ``device``, ``resolution``, ``allow_download``.
    """
    scheme, sep, rest = model.partition(":")
    if sep and scheme in _SCHEMES:
        if not rest:
            raise InputError(model, f"{scheme}: needs a path after the colon, e.g. {scheme}:PATH")
        return _SCHEMES[scheme](rest, kwargs)
    if model in _shipped_names():
        return _load_embedded(model, kwargs)
    path = Path(model).expanduser()
    if path.is_dir() or path.name == "head.pt":
        return _load_embedded(model, kwargs)
    if path.is_file():
        from artjudge.models.student import is_student_file

        if is_student_file(path):
            return _load_student(model, kwargs)
        raise ModelNotAvailable(
            f"model {model!r}: a file that is neither head.pt nor a distilled student (a student file "
            "carries its format tag; students saved before that format must be retrained with artjudge distill)"
        )
    raise ModelNotAvailable(
        f"model {model!r}: no such model (shipped models: {', '.join(_shipped_names()) or 'none'}; "
        "or give a checkpoint folder, vlm:PATH or student:PATH; see `artjudge models`)"
    )


def load_judge(spec: str, paths: Mapping[str, str] | None = None) -> PairJudge:
    """A pairwise judge for distillation: ``scorer:NAME`` (two scores compared) or ``vlm:PATH``.

    ``vlm:PATH`` asks the VLM "which is better" directly; ``scorer:NAME`` loads
    ``load(NAME)`` and compares its scores (``NAME`` defaults to ``default``).
    """
    from artjudge.preference.distill import ScorerJudge

    kind, _, target = spec.partition(":")
    if kind == "vlm":
        from artjudge.models.vlm import load_vlm_judge

        if not target:
            raise InputError(spec, "vlm: needs a path, e.g. vlm:PATH")
        return load_vlm_judge(target, paths=dict(paths or {}))
    if kind == "scorer":
        return ScorerJudge.from_scorer(load(target or "default"), dict(paths or {}))
    raise InputError("--judge", f"unknown judge {spec!r}; use scorer:NAME or vlm:PATH")
