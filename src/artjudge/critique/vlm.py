"""The VLM critic: the model writes the paragraphs, behind the same ``Critic`` interface.

One batched ``generate`` call writes the overall analysis, one paragraph per ArtiMuse
attribute and one per ArtQuant level. The text is the model's own, not measured: each
sentence cites the generation that produced it (``vlm.<part>`` in ``evidence_keys``, the
prompt kept in ``Critique.notes``), and the score sentence cites ``overall.score``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from artjudge.critique.base import Critique, Sentence
from artjudge.io import ImageSource, load_image
from artjudge.models.vlm.core import VLM, load_vlm
from artjudge.record import Assessment
from artjudge.taxonomy import ARTIMUSE, LEVELS

_SPLIT = re.compile(r"(?<=[.!?])\s+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SPLIT.split(text.strip()) if s.strip()]


class VLMCritic:
    """Writes a critique with a (fine-tuned) VLM; ``critique(image, assessment) -> Critique``."""

    def __init__(
        self,
        vlm: VLM,
        attributes: Sequence[str] | None = None,
        levels: Sequence[str] = LEVELS,
        max_new_tokens: int = 96,
        batch_size: int = 12,
    ) -> None:
        self.vlm = vlm
        self.attributes = list(ARTIMUSE.keys() if attributes is None else attributes)
        self.levels = list(levels)
        self.max_new_tokens = max_new_tokens
        self.batch_size = max(1, batch_size)
        self.name = f"vlm:{vlm.name}"

    def _parts(self) -> list[tuple[str, str, str]]:
        """(group, key, question) for everything the critic writes."""
        parts = [("overall", "overall", self.vlm.text_question())]
        parts += [("attribute", a, self.vlm.text_question(attribute=a)) for a in self.attributes]
        parts += [("level", lv, self.vlm.text_question(level=lv)) for lv in self.levels]
        return parts

    def critique(self, image: ImageSource, assessment: Assessment | None = None) -> Critique:
        img = load_image(image).image
        parts = self._parts()
        samples = [
            self.vlm.text_sample(
                img, None, attribute=k if g == "attribute" else None, level=k if g == "level" else None
            )
            for g, k, _ in parts
        ]
        texts: list[str] = []
        for start in range(0, len(samples), self.batch_size):
            texts += self.vlm.generate(
                samples[start : start + self.batch_size], max_new_tokens=self.max_new_tokens
            )
        crit = Critique(
            language="en", critic=self.name, scored_attributes=bool(assessment and assessment.attributes)
        )
        crit.notes.append(
            "written by a vision-language model: sentences rest on its generation, not on measured evidence"
        )
        if assessment is not None:
            o = assessment.overall
            crit.overall.append(
                Sentence(
                    f"The model scores this work {o.score:.0f} out of 100 (spread {o.std:.0f}).",
                    ["overall.score"],
                    "overall",
                )
            )
        for (group, key, question), text in zip(parts, texts, strict=True):
            crit.notes.append(f"vlm.{key}: {question}")
            sents = [
                Sentence(s, [f"vlm.{key}"], key if group != "level" else "", key if group == "level" else "")
                for s in sentences(text)
            ]
            if not sents:
                sents = [
                    Sentence(
                        f"The model wrote nothing about {key.replace('_', ' ')}.",
                        [f"vlm.{key}"],
                        key if group != "level" else "",
                        key if group == "level" else "",
                    )
                ]
            if group == "overall":
                for s in sents:
                    s.attribute = "overall"
                crit.overall.extend(sents)
            elif group == "attribute":
                crit.attributes[key] = sents
            else:
                crit.levels[key] = sents
        return crit


class VLMRecordCritic:
    """A :class:`VLMCritic` in the shape a scorer calls (``models.base.RecordCritic``).

    ``artjudge.load("vlm:PATH")`` gives the VLM scorer one of these on the same model, so
    ``scorer.assess(img, critique=True)`` fills ``record.critique`` without the scorer
    importing this layer.
    """

    def __init__(self, critic: VLMCritic) -> None:
        self.critic = critic

    def __call__(self, image: Any, record: Assessment) -> Assessment:
        record.set_critique(self.critic.critique(image, record).to_dict())
        return record


def load_vlm_critic(path: str, **kw: Any) -> VLMCritic:
    opts = {k: kw.pop(k) for k in ("attributes", "levels", "max_new_tokens", "batch_size") if k in kw}
    return VLMCritic(load_vlm(path, **kw), **opts)
