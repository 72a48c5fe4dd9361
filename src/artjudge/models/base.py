"""The contracts every model honours: ``Scorer``, ``RecordCritic`` and ``PairJudge``.

Whatever :func:`artjudge.load` returns (the embedded scorer, a trained checkpoint, a VLM,
a distilled student) satisfies :class:`Scorer`, so callers (CLI, service, batch runner)
call its methods directly instead of probing for them, and ``info()`` says honestly what a
score means and what data taught it (pyiqa's ``score_range`` / ``lower_better``).

Critique lives in a layer above the models, so a scorer never imports it: ``artjudge.load``
hands the scorer a :class:`RecordCritic` to call when ``assess(..., critique=True)``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Assessment, Failure

#: Every scorer answers on this range (the package's one score scale).
SCORE_RANGE: tuple[float, float] = (0.0, 100.0)


class ScorerInfo(TypedDict):
    """What ``info()`` returns: a plain dict (JSON-ready) with these keys, always present."""

    id: str
    version: str
    kind: str  # embedded | vlm | student
    score_range: list[float]  # [0, 100]
    lower_better: bool  # False: higher is better, on every artjudge scorer
    score_meaning: str  # one sentence: what the number says
    training_data: str  # what taught the model (dataset, split), or why nothing did
    attributes: list[str]  # attribute scores the records carry
    card: dict[str, Any]  # the model card (or the student's recorded settings)


def make_info(
    *,
    id: str,
    version: str,
    kind: str,
    score_meaning: str,
    training_data: str,
    attributes: Sequence[str] = (),
    card: dict[str, Any] | None = None,
) -> ScorerInfo:
    """A :class:`ScorerInfo` on the package's scale, so no scorer can forget a key."""
    return ScorerInfo(
        id=id,
        version=version,
        kind=kind,
        score_range=list(SCORE_RANGE),
        lower_better=False,
        score_meaning=score_meaning,
        training_data=training_data,
        attributes=list(attributes),
        card=dict(card or {}),
    )


@runtime_checkable
class RecordCritic(Protocol):
    """Writes the critique (and any evidence it measured) into a scored record.

    Implemented in :mod:`artjudge.critique`; ``artjudge.load`` injects one into the scorer.
    """

    def __call__(self, image: Image.Image, record: Assessment) -> Any: ...


@runtime_checkable
class Scorer(Protocol):
    """One image in, one :class:`~artjudge.record.Assessment` out, on 0-100, higher is better."""

    @property
    def model_id(self) -> str: ...

    @property
    def version(self) -> str: ...

    def info(self) -> ScorerInfo: ...

    def assess(self, image: Any, *, critique: bool = False) -> Assessment: ...

    def assess_many(
        self,
        images: Iterable[Any],
        *,
        batch_size: int = 16,
        progress: bool = False,
        skip_errors: bool = False,
        critique: bool = False,
    ) -> list[Assessment | Failure]: ...

    def iter_assess(
        self, images: Iterable[Any], *, batch_size: int = 16, critique: bool = False, skip_errors: bool = True
    ) -> Iterator[Assessment | Failure]: ...

    def __call__(self, images: Sequence[Any]) -> list[float]: ...


@dataclass(frozen=True)
class ConsistencyInput:
    """An image with the prompt or reference image it should agree with: one manifest row.

    Why a pair rather than a ``prompts=`` list beside the images: batch and folder inputs are
    streams, and a prompt travelling with its image stays aligned however the stream is cut
    into batches, prefetched or filtered. ``reference`` wins when both are given, as with
    ``assess(prompt=..., reference=...)``.
    """

    image: Any
    prompt: str | None = None
    reference: Any = None

    @property
    def wants_consistency(self) -> bool:
        return bool(self.prompt) or self.reference is not None


@runtime_checkable
class ConsistencyScorer(Scorer, Protocol):
    """A scorer whose records can carry ``consistency``: its ``iter_assess`` takes :class:`ConsistencyInput` items."""

    def consistency_model(self) -> Any: ...


def no_consistency_note(model_id: str) -> str:
    """The note on a record whose row gave a prompt or reference to a scorer that cannot check it."""
    return f"prompt/reference not checked: model {model_id!r} has no consistency component (use the embedded scorer)"


def iter_assess_items(
    scorer: Scorer, items: Iterable[Any], *, batch_size: int = 16, critique: bool = False
) -> Iterator[Assessment | Failure]:
    """``scorer.iter_assess`` over images and :class:`ConsistencyInput` rows, for any scorer.

    A scorer with consistency gets the rows as they are; any other scores the images alone
    and notes, on each record whose row had a prompt or reference, that it was not checked
    (the quality score is kept, nothing is silently given a consistency number).
    """
    if isinstance(scorer, ConsistencyScorer):
        yield from scorer.iter_assess(items, batch_size=batch_size, critique=critique, skip_errors=True)
        return
    flags: deque[bool] = deque()

    def images() -> Iterator[Any]:
        for item in items:
            paired = isinstance(item, ConsistencyInput)
            flags.append(paired and item.wants_consistency)
            yield item.image if paired else item

    from artjudge.record import Failure

    note: str | None = None
    for rec in scorer.iter_assess(images(), batch_size=batch_size, critique=critique, skip_errors=True):
        if flags.popleft() and not isinstance(rec, Failure):
            note = note or no_consistency_note(str(scorer.info()["id"]))
            rec.notes.append(note)
        yield rec


@runtime_checkable
class PairJudge(Protocol):
    """``judge(a, b) -> (p_a_better, confidence)``, both in [0, 1]: the distillation judge."""

    def __call__(self, a: Any, b: Any, /) -> tuple[float, float]: ...


def no_critic_error(model_id: str) -> Exception:
    """The one message for ``critique=True`` on a scorer built without a critic."""
    from artjudge.errors import ArtjudgeError

    return ArtjudgeError(
        f"model {model_id!r}: no critic attached; load it with artjudge.load(...) "
        "to get critiques, or pass critic= when building the scorer"
    )


__all__ = [
    "SCORE_RANGE",
    "ConsistencyInput",
    "ConsistencyScorer",
    "PairJudge",
    "RecordCritic",
    "Scorer",
    "ScorerInfo",
    "iter_assess_items",
    "make_info",
    "no_consistency_note",
    "no_critic_error",
]


def collect_records(
    records: Iterable[Assessment | Failure], *, total: int, progress: bool, desc: str
) -> list[Assessment | Failure]:
    """``assess_many``'s shared body: drain ``iter_assess`` into a list, with an optional bar.

    Every scorer's ``assess_many`` is ``iter_assess`` collected; keeping that in one place
    keeps their progress output alike.
    """
    from tqdm.auto import tqdm

    out: list[Assessment | Failure] = []
    with tqdm(total=total, disable=not progress, unit="img", desc=desc) as bar:
        for rec in records:
            out.append(rec)
            bar.update(1)
    return out
