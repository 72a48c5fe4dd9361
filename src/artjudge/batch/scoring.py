"""Score one partition's rows with a scorer: the code both engines run, on the driver or a worker.

A scorer here is a :class:`artjudge.models.base.Scorer` (whatever ``artjudge.load`` returns):
``iter_assess`` yields records in input order and ``info()`` gives ``id`` and ``version``. Local paths go to
``iter_assess`` as paths, so its loader thread decodes the next batch while the network runs;
remote (fsspec) paths are fetched and decoded by a small thread pool ahead of it.
Rows that already carry an error (a manifest row without a path) never reach the scorer.
A row with a prompt or reference goes to the scorer as a
:class:`~artjudge.models.base.ConsistencyInput`, so its record gets ``consistency``; a
reference that cannot be read fails that row only, with the reason.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from artjudge.batch.sources import InputRow, is_remote
from artjudge.batch.table import assessment_row, failure_reason, failure_row
from artjudge.errors import ArtjudgeError, InputError
from artjudge.models.base import ConsistencyInput, Scorer, iter_assess_items
from artjudge.record import Failure

#: Kept as a name for the batch modules: the scorer protocol itself.
ScorerLike = Scorer

ScorerFactory = Callable[[], ScorerLike]

#: Remote images fetched ahead of the scorer (bounded, so memory stays flat).
REMOTE_PREFETCH = 16


def _fetch(location: str, label: str) -> Any:
    import fsspec

    from artjudge.io import load_image

    try:
        with fsspec.open(location, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise InputError(label, "file not found") from None
    except OSError as err:
        raise InputError(label, f"cannot read ({err})") from None
    return load_image(data, name=label)


def _fetch_row(row: InputRow) -> Any:
    """A remote row's image (decoded) with its prompt and reference (a remote reference decoded too)."""
    assert row.location is not None
    image = _fetch(row.location, row.input) if is_remote(row.location) else row.location
    reference: Any = row.reference
    if reference is not None and is_remote(reference):
        try:
            reference = _fetch(reference, reference)
        except InputError as err:
            raise InputError(row.input, f"reference {err}") from None
    return _item(row, image, reference)


def _item(row: InputRow, image: Any, reference: Any) -> Any:
    """What the scorer gets for a row: the image alone, or paired with its prompt / reference."""
    if row.prompt is None and reference is None:
        return image
    return ConsistencyInput(image, row.prompt, reference)


def _needs_fetch(row: InputRow) -> bool:
    return bool(row.location and is_remote(row.location)) or bool(row.reference and is_remote(row.reference))


def score_rows(
    scorer: ScorerLike, rows: Iterable[InputRow], *, batch_size: int = 16, critique: bool = False
) -> Iterator[dict[str, Any]]:
    """One output row per input row, in order: scored, or failed with the reason."""
    info = scorer.info()
    model = (str(info["id"]), str(info["version"]))
    # Rows enter ``pending`` as the scorer pulls them; records come back in the same order, so
    # failures known before scoring are emitted when they reach the head of the queue.
    pending: deque[tuple[InputRow, str | None]] = deque()
    pool: ThreadPoolExecutor | None = None
    lock = threading.Lock()

    def feed() -> Iterator[Any]:
        nonlocal pool
        ahead: deque[tuple[InputRow, Future[Any]]] = deque()

        def drain_one() -> Iterator[Any]:
            row, fut = ahead.popleft()
            try:
                loaded = fut.result()
            except ArtjudgeError as err:
                with lock:
                    pending.append((row, err.reason if isinstance(err, InputError) else str(err)))
                return
            with lock:
                pending.append((row, None))
            yield loaded

        for row in rows:
            if row.error is not None or row.location is None:
                if ahead:  # keep order: earlier remote rows first
                    while ahead:
                        yield from drain_one()
                with lock:
                    pending.append((row, row.error or "no path"))
                continue
            if _needs_fetch(row):
                if pool is None:
                    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="artjudge-fetch")
                ahead.append((row, pool.submit(_fetch_row, row)))
                if len(ahead) >= REMOTE_PREFETCH:
                    yield from drain_one()
                continue
            while ahead:
                yield from drain_one()
            with lock:
                pending.append((row, None))
            yield _item(row, row.location, row.reference)
        while ahead:
            yield from drain_one()

    def flush_failures() -> Iterator[dict[str, Any]]:
        while True:
            with lock:
                if not pending or pending[0][1] is None:
                    return
                row, reason = pending.popleft()
            yield failure_row(row, reason or "unknown error", model)

    try:
        for rec in iter_assess_items(scorer, feed(), batch_size=batch_size, critique=critique):
            yield from flush_failures()
            with lock:
                row, _ = pending.popleft()
            if isinstance(rec, Failure):
                yield failure_row(row, failure_reason(rec, row), model)
            else:
                yield assessment_row(row, rec)
        yield from flush_failures()
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
