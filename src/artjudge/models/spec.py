"""The one model-spec parser: every kind of model is named the same way, and refused the same way.

open_clip's ``factory`` shape: a spec is a shipped name (``default``, ``offline``), a scheme
and a target (``vlm:PATH``, ``clip:PATH``, ``scorer:NAME``), or a bare path. Scorers, process
judges, consistency models and pair judges all go through :func:`parse_spec`, so the CLI,
the service and the API never look at a prefix themselves, and a spec that names nothing
is one :class:`~artjudge.errors.ModelNotAvailable` line that lists what would work (never a
traceback from deep inside a loader).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from artjudge.errors import ModelNotAvailable

#: The kinds of model a spec can name, in the order ``artjudge models`` lists them.
ROLES: tuple[str, ...] = ("scorer", "process", "consistency", "judge")

#: Per role: its schemes and what each names (``artjudge models`` prints these).
SCHEMES: dict[str, dict[str, str]] = {
    "scorer": {
        "checkpoint": "a head checkpoint folder (head.pt + card.json) written by `artjudge train`; "
        "a bare folder path works too",
        "vlm": "a vision-language model folder or hub id on disk (fine-tuned by `artjudge train-vlm`, "
        "or a random one from `artjudge vlm-tiny`)",
        "student": "a distilled student file written by `artjudge distill` without --features; "
        "a bare file path works too",
    },
    "process": {
        "checkpoint": "a process-judge weights file written by `artjudge train-process`; a bare path works too",
    },
    "consistency": {
        "clip": "a local CLIP or SigLIP folder (never downloaded) for prompt/reference consistency",
    },
    "judge": {
        "scorer": "two scores of a scorer compared (scorer:default, scorer:FOLDER)",
        "vlm": "a vision-language model's own pairwise call",
        "table": "a CSV of judge calls already made (artjudge distill only)",
    },
}

#: Per role: the words that name its shipped model.
SHIPPED: dict[str, tuple[str, ...]] = {
    "scorer": ("default",),
    "process": ("default",),
    "consistency": ("offline", "default"),
    "judge": (),
}

#: How each role is named in a message.
NOUNS: dict[str, str] = {
    "scorer": "model",
    "process": "process judge",
    "consistency": "consistency model",
    "judge": "judge",
}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: ``scheme`` is "" for a shipped name or a bare path; ``target`` follows the colon."""

    role: str
    scheme: str
    target: str
    text: str

    @property
    def shipped(self) -> bool:
        """True for a name of the role's shipped model (``default``, ``offline``)."""
        return not self.scheme and self.target in SHIPPED[self.role]


def _target(scheme: str) -> str:
    return "NAME" if scheme == "scorer" else "PATH"


def spec_forms(role: str) -> str:
    """What a spec of ``role`` may look like, for messages: ``default, checkpoint:PATH or a path``."""
    forms = [*SHIPPED[role], *(f"{s}:{_target(s)}" for s in SCHEMES[role])]
    return ", ".join(forms) + ("" if role == "judge" else " or a path")


def _scheme_of(text: str) -> str | None:
    """The scheme before a colon when it looks like one (letters; not a Windows drive letter)."""
    scheme, sep, _ = text.partition(":")
    if not sep or len(scheme) < 2 or not scheme.replace("-", "").isalpha():
        return None
    return scheme


def parse_spec(text: str, role: str = "scorer") -> ModelSpec:
    """``text`` as a :class:`ModelSpec` of ``role``, or one ModelNotAvailable line saying what works.

    Only the form is checked here (plus, for a role whose bare form must be a file, that the
    file exists); whether the weights load is the loader's business.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    text = str(text).strip()
    noun = NOUNS[role]
    scheme = _scheme_of(text)
    if scheme is not None and scheme in SCHEMES[role]:
        target = text[len(scheme) + 1 :]
        if not target:
            what = "a scorer name" if scheme == "scorer" else "a path"
            raise ModelNotAvailable(
                f"{noun} {text!r}: needs {what} after the colon, e.g. {scheme}:{_target(scheme)}"
            )
        return ModelSpec(role, scheme, target, text)
    if scheme is not None and not Path(text).expanduser().exists():
        others = [r for r in ROLES if r != role and scheme in SCHEMES[r]]
        hint = f" ({scheme}: names a {NOUNS[others[0]]})" if others else ""
        raise ModelNotAvailable(f"unknown {noun} {text!r}{hint}; use {spec_forms(role)}")
    if role == "consistency" and not text:
        text = "offline"
    spec = ModelSpec(role, "", text, text)
    if role == "judge" or (
        role in ("process", "consistency") and not spec.shipped and not Path(text).expanduser().is_file()
    ):
        raise ModelNotAvailable(f"unknown {noun} {text!r}: no such file; use {spec_forms(role)}")
    return spec


__all__ = ["NOUNS", "ROLES", "SCHEMES", "SHIPPED", "ModelSpec", "parse_spec", "spec_forms"]
