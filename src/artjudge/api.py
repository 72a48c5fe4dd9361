"""The Python API: one registry for every kind of model, pyiqa's ``create_metric`` / ``list_models`` shape.

``load(spec)`` returns a :class:`~artjudge.models.base.Scorer`; ``load_process(spec)``,
``load_consistency(spec)`` and ``load_judge(spec)`` return the other kinds. Every spec goes
through the one parser (:func:`artjudge.models.spec.parse_spec`, open_clip style): a shipped
name (``default``), a scheme and a target (``vlm:PATH``, ``student:PATH``, ``checkpoint:PATH``,
``clip:PATH``, ``scorer:NAME``), or a bare path whose content says what it is. A spec that
names nothing is one :class:`~artjudge.errors.ModelNotAvailable` line; an option a model
cannot use is one :class:`~artjudge.errors.Unsupported` line. This layer also attaches the
critic, because the model layer below may not import :mod:`artjudge.critique`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from artjudge.errors import ModelNotAvailable, Unsupported
from artjudge.models.base import NO_CONSISTENCY, PairJudge, Scorer
from artjudge.models.embedded import EmbeddedScorer, ImageInput, load_embedded
from artjudge.models.spec import NOUNS, ROLES, SCHEMES, ModelSpec, parse_spec, spec_forms
from artjudge.models.weights import PACKAGE_WEIGHTS, folder_digest, read_card, versioned

if TYPE_CHECKING:
    from artjudge.models.process.judge import ProcessJudge

__all__ = [
    "EmbeddedScorer",
    "ImageInput",
    "RegistryEntry",
    "Scorer",
    "list_models",
    "load",
    "load_consistency",
    "load_embedded",
    "load_judge",
    "load_process",
    "model_identity",
    "registry",
    "scorer_kind",
]


@dataclass(frozen=True)
class RegistryEntry:
    """One way to name a model: ``spec`` is what you pass to the role's loader (``load`` for scorers)."""

    spec: str
    kind: str  # embedded | vlm | student | process | consistency | judge
    description: str
    shipped: bool = False  # weights inside the package (no path needed)
    role: str = "scorer"  # scorer | process | consistency | judge (artjudge.models.spec.ROLES)


def _shipped_names() -> list[str]:
    if not PACKAGE_WEIGHTS.is_dir():
        return []
    return sorted(p.name for p in PACKAGE_WEIGHTS.iterdir() if (p / "head.pt").is_file())


_SHIPPED_OTHERS = (
    RegistryEntry("default", "process", "the shipped painting-process judge (PPJudge-tiny)", True, "process"),
    RegistryEntry(
        "offline",
        "consistency",
        "the shipped prompt/reference consistency model (no download)",
        True,
        "consistency",
    ),
)


def registry(role: str | None = None) -> list[RegistryEntry]:
    """Every spec the loaders understand, role by role: shipped models first, then the schemes."""
    out: list[RegistryEntry] = []
    for name in _shipped_names():
        card = read_card(PACKAGE_WEIGHTS / name)
        version = versioned(str(card.get("version", "0")), folder_digest(PACKAGE_WEIGHTS / name))
        desc = f"{card.get('id')} {version}: {card.get('description', '')}"
        out.append(RegistryEntry(name, "embedded", desc, shipped=True))
    out += [e for e in _SHIPPED_OTHERS if e.role == "process"]
    out += [e for e in _SHIPPED_OTHERS if e.role == "consistency"]
    for r in ROLES:
        for scheme, desc in SCHEMES[r].items():
            kind = {"scorer": "embedded" if scheme == "checkpoint" else scheme}.get(r, r)
            target = "NAME" if scheme == "scorer" else "PATH"
            out.append(RegistryEntry(f"{scheme}:{target}", kind, desc, role=r))
    order = {r: i for i, r in enumerate(ROLES)}
    out.sort(key=lambda e: order[e.role])  # stable: shipped first within a role
    return [e for e in out if role is None or e.role == role]


def list_models(role: str | None = None) -> list[str]:
    """The specs the loaders accept (pyiqa's ``list_models``): scorers first, as :func:`load` takes them.

    With ``role`` None every kind is listed; specs of the other roles carry the role in front
    (``process:default``, ``consistency:clip:PATH``, ``judge:vlm:PATH``) since the same word
    (``default``) names a model of several roles.
    """
    entries = registry(role)
    return [e.spec if role is not None or e.role == "scorer" else f"{e.role}:{e.spec}" for e in entries]


def _embedded_critic() -> Callable[..., Any]:
    from artjudge.critique import critique_record

    return critique_record


def scorer_kind(spec: str | ModelSpec) -> str:
    """``embedded``, ``vlm`` or ``student``: what a scorer spec names (a bare file is read for its tag)."""
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec, "scorer")
    if parsed.scheme == "checkpoint":
        return "embedded"
    if parsed.scheme:
        return parsed.scheme
    if parsed.target in _shipped_names():
        return "embedded"
    path = Path(parsed.target).expanduser()
    if path.is_dir() or path.name == "head.pt":
        return "embedded"
    if path.is_file():
        from artjudge.models.student import is_student_file

        if is_student_file(path):
            return "student"
        raise ModelNotAvailable(
            f"model {parsed.text!r}: a file that is neither head.pt nor a distilled student (a student file "
            "carries its format tag; students saved before that format must be retrained with artjudge distill)"
        )
    raise ModelNotAvailable(
        f"model {parsed.text!r}: no such model (shipped models: {', '.join(_shipped_names()) or 'none'}; "
        f"or give {spec_forms('scorer')}; see `artjudge models`)"
    )


def model_identity(model: str) -> str | None:
    """The scorer's ``id@version`` without loading it (cheap: reads the card and hashes the files).

    What a batch run records so a retrained model never resumes an old run; None for a VLM,
    whose folder may be gigabytes (its records still carry the id and version they were made with).
    """
    spec = parse_spec(model, "scorer")
    kind = scorer_kind(spec)
    if kind == "embedded":
        from artjudge.models.weights import resolve_checkpoint

        folder = resolve_checkpoint(spec.target)
        card = read_card(folder)
        return f"{card.get('id', 'artjudge-embedded')}@{versioned(str(card.get('version', '0')), folder_digest(folder))}"
    if kind == "student":
        from artjudge.io.files import sha256_file

        path = Path(spec.target).expanduser()
        return f"student:{path.name}@{sha256_file(path)[:12]}"
    return None


#: Options only the image-decoding scorers use; a VLM decodes through its own processor.
_DECODING = ("cache", "threads", "max_pixels", "runtime")


def _options(kind: str, spec: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The options ``kind``'s loader takes: decoding options dropped for a VLM, and one line for a
    consistency model given to a scorer that has no consistency component (never a TypeError)."""
    out = dict(kwargs)
    if "engine" in out:
        warnings.warn("load(engine=...) is deprecated; use runtime=", DeprecationWarning, stacklevel=3)
        out.setdefault("runtime", out.pop("engine"))
        out.pop("engine", None)
    if kind == "vlm":
        for key in _DECODING:
            out.pop(key, None)
    if kind != "embedded" and "consistency" in out:
        value = out.pop("consistency")
        if value not in (None, "", "offline"):
            raise Unsupported(f"model {spec!r} cannot use a consistency model: {NO_CONSISTENCY}")
    if kind == "embedded" and out.get("consistency") is None:
        out.pop("consistency", None)
    return out


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


_LOADERS: dict[str, Callable[[str, dict[str, Any]], Scorer]] = {
    "vlm": _load_vlm,
    "student": _load_student,
    "embedded": _load_embedded,
}


def load(model: str = "default", **kwargs: Any) -> Scorer:
    """A scorer from a spec (see :func:`list_models`); ``kwargs`` go to that kind's loader.

    Embedded: ``consistency`` ("offline" or "clip:PATH", docs/consistency.md), ``runtime``
    ("onnx" or "torch"). Embedded and student: ``cache``, ``threads``, ``max_pixels``, ``runtime``
    (a VLM ignores these). VLM: ``batch_size``, ``mode``, ``dtype``, ``device``, ``resolution``,
    ``allow_download``.
    """
    spec = parse_spec(model, "scorer")
    kind = scorer_kind(spec)
    return _LOADERS[kind](spec.target, _options(kind, model, kwargs))


def load_process(model: str = "default", *, runtime: str | None = None) -> ProcessJudge:
    """A process judge: ``default`` (shipped), ``checkpoint:PATH`` or a path from ``artjudge train-process``."""
    from artjudge.models.process import load_process_judge

    parse_spec(model, "process")  # one line for a spec that names nothing, before torch is imported
    return load_process_judge(model, runtime=runtime)


def load_consistency(model: str = "offline") -> Any:
    """A consistency model: ``offline`` (shipped), ``clip:PATH`` (a local CLIP/SigLIP folder) or a weights file."""
    from artjudge.models.consistency import load_consistency as _load

    return _load(model)


def load_judge(spec: str, paths: Mapping[str, str] | None = None) -> PairJudge:
    """A pairwise judge for distillation: ``scorer:NAME`` (two scores compared) or ``vlm:PATH``.

    ``vlm:PATH`` asks the VLM "which is better" directly; ``scorer:NAME`` loads
    ``load(NAME)`` and compares its scores. ``table:FILE`` (calls already made) is read by
    ``artjudge distill`` itself, not loaded as a model.
    """
    from artjudge.preference.distill import ScorerJudge

    parsed = parse_spec(spec, "judge")
    if parsed.scheme == "vlm":
        from artjudge.models.vlm import load_vlm_judge

        return load_vlm_judge(parsed.target, paths=dict(paths or {}))
    if parsed.scheme == "scorer":
        return ScorerJudge.from_scorer(load(parsed.target), dict(paths or {}))
    raise Unsupported(
        f"{NOUNS['judge']} {spec!r}: a table of calls is not a model; give it to artjudge distill"
    )
