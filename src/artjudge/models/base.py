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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

from artjudge.record import Assessment

if TYPE_CHECKING:
    from PIL import Image

    from artjudge.record import Failure

#: Every scorer answers on this range (the package's one score scale).
SCORE_RANGE: tuple[float, float] = (0.0, 100.0)


#: What a request may ask of a scorer beyond the score; each scorer declares which it can do.
CAPABILITIES: tuple[str, ...] = ("prompt", "reference", "critique", "attributes")


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
    capabilities: list[str]  # the CAPABILITIES this scorer can serve here
    unsupported: dict[str, str]  # every other capability: why not (one line, with what would enable it)


def make_info(
    *,
    id: str,
    version: str,
    kind: str,
    score_meaning: str,
    training_data: str,
    attributes: Sequence[str] = (),
    card: dict[str, Any] | None = None,
    unsupported: Mapping[str, str] | None = None,
) -> ScorerInfo:
    """A :class:`ScorerInfo` on the package's scale, so no scorer can forget a key.

    ``unsupported`` maps each capability the scorer cannot serve to the reason; the rest of
    :data:`CAPABILITIES` are declared supported.
    """
    missing = {k: str(v) for k, v in (unsupported or {}).items() if k in CAPABILITIES}
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
        capabilities=[c for c in CAPABILITIES if c not in missing],
        unsupported=missing,
    )


def check_request(
    info: ScorerInfo, *, prompt: bool = False, reference: bool = False, critique: bool = False
) -> None:
    """The one capability check, made at the boundary (``artjudge.load``'s callers, the service).

    Raises :class:`~artjudge.errors.Unsupported` naming the model and what it cannot do, so a
    prompt sent to a model without a consistency component is one line (HTTP 422), never a
    TypeError deep inside the model.
    """
    from artjudge.errors import Unsupported

    asked = [
        name
        for name, wanted in (("prompt", prompt), ("reference", reference), ("critique", critique))
        if wanted
    ]
    for name in asked:
        if name in info["unsupported"]:
            raise Unsupported(f"model {info['id']!r} cannot use a {name}: {info['unsupported'][name]}")


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

    def assess(
        self, image: Any, *, critique: bool = False, prompt: str | None = None, reference: Any = None
    ) -> Assessment: ...

    def assess_many(
        self,
        images: Iterable[Any],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        skip_errors: bool = False,
        critique: bool = False,
        prompts: Sequence[str | None] | None = None,
    ) -> list[Assessment | Failure]: ...

    def iter_assess(
        self,
        images: Iterable[Any],
        *,
        batch_size: int | None = None,
        critique: bool = False,
        skip_errors: bool = True,
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


#: Why a scorer of another kind (VLM, student) cannot check a prompt or reference.
NO_CONSISTENCY = "it has no consistency component (use the embedded scorer)"


def no_consistency_note(model_id: str, why: str = NO_CONSISTENCY) -> str:
    """The note on a record whose row gave a prompt or reference to a scorer that cannot check it."""
    return f"prompt/reference not checked: model {model_id!r}: {why}"


def iter_assess_items(
    scorer: Scorer, items: Iterable[Any], *, batch_size: int | None = None, critique: bool = False
) -> Iterator[Assessment | Failure]:
    """``scorer.iter_assess`` over images and :class:`ConsistencyInput` rows, for any scorer.

    A scorer that declares ``prompt`` and ``reference`` gets the rows as they are; any other
    scores the images alone and notes, on each record whose row had a prompt or reference,
    why it was not checked (the quality score is kept, nothing is silently given a
    consistency number). A batch goes on; a single request is refused by :func:`check_request`.
    """
    info = scorer.info()
    if not {"prompt", "reference"} - set(info["capabilities"]):
        yield from scorer.iter_assess(items, batch_size=batch_size, critique=critique, skip_errors=True)
        return
    flags: deque[bool] = deque()

    def images() -> Iterator[Any]:
        for item in items:
            paired = isinstance(item, ConsistencyInput)
            flags.append(paired and item.wants_consistency)
            yield item.image if paired else item

    from artjudge.record import Failure

    note = no_consistency_note(
        str(info["id"]), info["unsupported"].get("prompt") or info["unsupported"].get("reference", "")
    )
    for rec in scorer.iter_assess(images(), batch_size=batch_size, critique=critique, skip_errors=True):
        if flags.popleft() and not isinstance(rec, Failure):
            rec.notes.append(note)
        yield rec


def module_available(name: str) -> bool:
    """Whether ``name`` can be imported here, without importing it (a capability may need an extra)."""
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a blocked or broken package counts as absent
        return False


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last may be shorter), lazily: streams stay streams."""
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == max(1, size):
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class BaseScorer:
    """What every scorer shares: batching, ``assess``, ``assess_many``, ``__call__`` and the capability check.

    A subclass gives ``model_id``, ``info()`` and ``_score_batch`` (one batch of inputs to
    records, in order, bad inputs as :class:`~artjudge.record.Failure` when ``skip_errors``);
    the embedded scorer also replaces ``iter_assess`` (its pipelined lanes) and ``assess``
    (one image's timings), so the three scorers' batching, lists and quick calls are this code.
    """

    #: Images per batch when the caller names none.
    batch_size: int = 16
    critic: RecordCritic | None = None

    def info(self) -> ScorerInfo:
        raise NotImplementedError

    def _score_batch(self, items: list[Any], critique: bool, skip_errors: bool) -> list[Assessment | Failure]:
        raise NotImplementedError

    def check(self, *, prompt: bool = False, reference: bool = False, critique: bool = False) -> None:
        """Refuse, in one line, a request this scorer cannot serve (see :func:`check_request`)."""
        check_request(self.info(), prompt=prompt, reference=reference, critique=critique)

    def iter_assess(
        self,
        images: Iterable[Any],
        *,
        batch_size: int | None = None,
        critique: bool = False,
        skip_errors: bool = True,
    ) -> Iterator[Assessment | Failure]:
        """Stream records in input order, ``batch_size`` inputs per batch."""
        if critique and self.critic is None:
            raise no_critic_error(str(self.info()["id"]))
        for chunk in batched(images, batch_size or self.batch_size):
            yield from self._score_batch(chunk, critique, skip_errors)

    def assess(
        self, image: Any, *, critique: bool = False, prompt: str | None = None, reference: Any = None
    ) -> Assessment:
        """Score one input; a bad input raises InputError, a request the model cannot serve Unsupported."""
        self.check(prompt=bool(prompt), reference=reference is not None, critique=critique)
        item = (
            ConsistencyInput(image, prompt or None, reference) if prompt or reference is not None else image
        )
        out = next(self.iter_assess([item], batch_size=1, critique=critique, skip_errors=False))
        assert isinstance(out, Assessment)  # skip_errors=False raises instead of yielding a Failure
        return out

    def assess_many(
        self,
        images: Iterable[Any],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        skip_errors: bool = False,
        critique: bool = False,
        prompts: Sequence[str | None] | None = None,
    ) -> list[Assessment | Failure]:
        """Score many inputs; a bad input raises, or with ``skip_errors`` becomes a Failure.

        ``prompts`` (row-aligned; None or "" for none) add ``consistency`` where the scorer can check it.
        """
        items = list(images)
        if prompts is not None:
            if len(prompts) != len(items):
                raise ValueError(f"assess_many: {len(prompts)} prompts for {len(items)} images")
            self.check(prompt=any(prompts))
            items = [ConsistencyInput(x, p or None) for x, p in zip(items, prompts, strict=True)]
        records = self.iter_assess(items, batch_size=batch_size, critique=critique, skip_errors=skip_errors)
        return collect_records(records, total=len(items), progress=progress, desc=str(self.info()["id"]))

    def __call__(self, images: Sequence[Any]) -> list[float]:
        """Q-Align style: a list of images in, a list of overall scores out."""
        return [r.overall.score for r in self.assess_many(images) if isinstance(r, Assessment)]


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
    "PairJudge",
    "RecordCritic",
    "Scorer",
    "ScorerInfo",
    "BaseScorer",
    "CAPABILITIES",
    "batched",
    "check_request",
    "iter_assess_items",
    "make_info",
    "module_available",
    "NO_CONSISTENCY",
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
