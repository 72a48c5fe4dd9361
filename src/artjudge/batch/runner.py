"""``run_batch``: stream the inputs, score them partition by partition, resume, merge.

Two executors share everything but the loop: ``local`` scores in this process with one
continuous ``iter_assess`` stream (decoding overlapped with inference, no pause between
partitions); ``dask`` / ``dask-local`` ship partitions to Dask workers, a bounded number
in flight so the driver's memory does not depend on the number of inputs.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from artjudge.batch.progress import BatchProgress, choose_mode
from artjudge.batch.scoring import ScorerFactory, score_rows
from artjudge.batch.sources import InputRow, iter_partitions, iter_rows, partition_fingerprint
from artjudge.batch.store import BatchError, PartStore, Progress
from artjudge.batch.table import to_table, write_atomic
from artjudge.batch.worker import part_metadata, partition_task, score_partition_safely, write_rows_file

log = logging.getLogger(__name__)

#: Where a batch runs (``--executor``): this process, a running Dask cluster, or one started here.
EXECUTORS = ("local", "dask", "dask-local")
ENGINES = EXECUTORS  # deprecated name (the executor was called the "engine"), kept for one release


@dataclass
class BatchSummary:
    """What a run did: counts over the whole output, and what this invocation added."""

    output: str
    executor: str
    rows: int
    scored: int
    failed: int
    parts: int
    parts_resumed: int
    parts_written: int
    seconds: float

    @property
    def engine(self) -> str:
        """Deprecated name of :attr:`executor`."""
        return self.executor

    @property
    def images_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class _Plan:
    """How to score what is left: everything ``run_batch`` was asked, checked once."""

    executor: str
    model: str
    part_size: int
    batch_size: int
    critique: bool
    scheduler: str | None
    workers: int
    client: Any
    threads: int | None
    max_in_flight: int | None


def _deprecated(old: str, new: str) -> None:
    import warnings

    warnings.warn(f"run_batch({old}=...) is deprecated; use {new}=", DeprecationWarning, stacklevel=3)


def run_batch(
    inputs: Sequence[str],
    output: str,
    scorer_factory: ScorerFactory,
    *,
    model: str = "default",
    model_version: str | None = None,
    consistency_model: str = "offline",
    executor: str | None = None,
    part_size: int = 1024,
    batch_size: int = 16,
    critique: bool = False,
    root: str | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    client: Any = None,
    threads: int | None = None,
    max_in_flight: int | None = None,
    restart: bool = False,
    keep_parts: bool = False,
    progress: bool = True,
    engine: str | None = None,
    torch_threads: int | None = None,
) -> BatchSummary:
    """Score every input once into ``output`` (Parquet); rerunning the same call resumes.

    ``model`` names the scorer in the run's settings and ``model_version`` its identity (id and
    version, :func:`artjudge.api.model_identity`): a rerun with another or a retrained model is
    refused rather than mixed; ``scorer_factory`` builds it, once per process. ``executor``
    is where it runs (``local``, ``dask``, ``dask-local``); ``threads`` the network threads per
    process. ``progress`` shows done/total, rate and ETA on stderr (:mod:`artjudge.batch.progress`).
    ``consistency_model`` names what checks rows with a prompt or reference (recorded like
    ``model``; the factory must build it). ``engine`` and ``torch_threads`` are the deprecated
    names of ``executor`` and ``threads``.
    """
    if engine is not None or torch_threads is not None:
        _deprecated("engine" if engine is not None else "torch_threads", "executor" if engine else "threads")
    threads = threads if threads is not None else torch_threads
    args = (model, part_size, batch_size, critique, scheduler, workers, client, threads, max_in_flight)
    plan = _plan(executor or engine or "local", *args)
    inputs = [os.fspath(i) for i in inputs]
    if not inputs:
        raise BatchError("no inputs given (a manifest, folder, glob or files)")
    t0 = time.perf_counter()
    store = PartStore(output)
    settings = _settings(inputs, root, part_size, model, critique, consistency_model, model_version)
    prog = store.check_settings(settings, restart=restart)
    finished = _finished_run(store, prog, output, plan.executor, t0)
    if finished is not None:
        return finished
    done, resumed = _recount_done(store, prog)
    bar = BatchProgress(choose_mode(progress, sys.stderr), done=prog.rows_done, failed=prog.failed)
    bar.count_total_in_background(lambda: iter_rows(inputs, root=root))
    rows_iter = _counting(iter_rows(inputs, root=root), lambda: iter_rows(inputs, root=root))
    checker = _PartChecker(store, prog, done, part_size, bar)
    try:
        written = _execute(plan, store, prog, rows_iter, checker, scorer_factory, bar)
        bar.set_total(rows_iter.count)
    finally:
        bar.close()
    return _merge(
        store,
        prog,
        output,
        plan.executor,
        rows_iter.count,
        part_size,
        keep_parts,
        resumed - checker.rescored,
        written,
        t0,
    )


def _settings(
    inputs: list[str],
    root: str | None,
    part_size: int,
    model: str,
    critique: bool,
    consistency_model: str,
    model_version: str | None,
) -> dict[str, Any]:
    """What a resumed run must share with the run it continues (else it is refused, not mixed)."""
    settings: dict[str, Any] = {
        "inputs": inputs,
        "root": root,
        "part_size": part_size,
        "model": model,
        "critique": critique,
    }
    if consistency_model != "offline":  # recorded only when set, so runs from before the option still resume
        settings["consistency_model"] = consistency_model
    if model_version is not None:  # the model's identity: a retrained model does not resume an old run
        settings["model_version"] = model_version
    return settings


def _plan(
    executor: str,
    model: str,
    part_size: int,
    batch_size: int,
    critique: bool,
    scheduler: str | None,
    workers: int,
    client: Any,
    threads: int | None,
    max_in_flight: int | None,
) -> _Plan:
    """The run's options checked once, each refusal one line."""
    if executor not in EXECUTORS:
        raise BatchError(f"--executor {executor!r}: choose one of {', '.join(EXECUTORS)}")
    if part_size < 1 or batch_size < 1:
        raise BatchError("part size and batch size must be at least 1")
    if executor == "dask" and not scheduler and client is None:
        raise BatchError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    return _Plan(
        executor, model, part_size, batch_size, critique, scheduler, workers, client, threads, max_in_flight
    )


def _finished_run(
    store: PartStore, prog: Progress, output: str, executor: str, t0: float
) -> BatchSummary | None:
    """The summary of a run that already finished and merged (nothing to do), else None."""
    if not prog.complete or any(True for _ in store.done_parts()):
        return None
    import fsspec

    out_fs, out_path = fsspec.core.url_to_fs(output)
    if not out_fs.exists(out_path):
        return None
    n = prog.rows_done
    return BatchSummary(
        output,
        executor,
        n,
        n - prog.failed,
        prog.failed,
        prog.parts_done,
        prog.parts_done,
        0,
        time.perf_counter() - t0,
    )


def _recount_done(store: PartStore, prog: Progress) -> tuple[set[int], int]:
    """Finished parts and their counts, from the part files: they, not the progress file, say what is done."""
    done = set(store.done_parts())
    prog.parts_done, prog.rows_done, prog.failed = len(done), 0, 0
    for i in done:
        n, f = store.part_rows(i)
        prog.rows_done += n
        prog.failed += f
    return done, len(done)


def _execute(
    plan: _Plan,
    store: PartStore,
    prog: Progress,
    rows: _counting,
    checker: _PartChecker,
    factory: ScorerFactory,
    bar: BatchProgress,
) -> int:
    """Score the unfinished partitions on the plan's executor; returns how many parts were written."""
    if plan.executor == "local":
        return _run_local(
            store,
            prog,
            rows,
            checker,
            factory,
            part_size=plan.part_size,
            batch_size=plan.batch_size,
            critique=plan.critique,
            bar=bar,
        )
    return _run_dask(store, prog, rows, checker, factory, plan, bar)


def _merge(
    store: PartStore,
    prog: Progress,
    output: str,
    executor: str,
    total: int,
    part_size: int,
    keep_parts: bool,
    resumed: int,
    written: int,
    t0: float,
) -> BatchSummary:
    """Merge the parts into ``output``, mark the run complete and summarise it."""
    n_parts = (total + part_size - 1) // part_size
    prog.total_rows = total
    stale = _recount(store, prog, n_parts)
    rows = store.merge(n_parts, keep_parts=keep_parts) if n_parts else _write_empty(output)
    if rows != total:
        raise BatchError(f"{output}: merged {rows} rows but the inputs have {total}; rerun to repair")
    prog.complete = not keep_parts
    prog.output = output
    store.write_progress(prog)
    return BatchSummary(
        output,
        executor,
        rows,
        rows - prog.failed,
        prog.failed,
        n_parts,
        resumed - stale,
        written,
        time.perf_counter() - t0,
    )


class _PartChecker:
    """Cut the stream into partitions and drop finished parts whose inputs changed since they were written.

    Why: a part is "rows k*P..k*P+P-1"; a file added or removed between a killed run and its
    rerun shifts every later row, so trusting the old parts duplicated one image and dropped
    another. Each part stores :func:`partition_fingerprint` of its inputs; here a finished part
    whose fingerprint differs (or that has none) is removed and its partition scored again.
    """

    def __init__(
        self, store: PartStore, prog: Progress, done: set[int], part_size: int, bar: BatchProgress
    ) -> None:
        self.store, self.prog, self.done, self.part_size, self.bar = store, prog, done, part_size, bar
        self.fingerprints: dict[int, str] = {}
        self.rescored = 0

    def partitions(self, rows: Iterator[InputRow]) -> Iterator[tuple[int, list[InputRow]]]:
        """Partitions still to score, each with its fingerprint kept in ``fingerprints``."""
        for index, part in iter_partitions(rows, self.part_size):
            fp = partition_fingerprint(part)
            if index in self.done:
                if self.store.part_fingerprint(index) == fp:
                    continue
                self._drop(index)
            self.fingerprints[index] = fp
            yield index, part

    def _drop(self, index: int) -> None:
        n, failed = self.store.part_rows(index)
        self.store.remove(self.store.part_path(index))
        self.done.discard(index)
        self.prog.parts_done -= 1
        self.prog.rows_done -= n
        self.prog.failed -= failed
        self.rescored += 1
        self.bar.reset(self.prog.rows_done, self.prog.failed)
        log.warning(
            "%s: the inputs of part %d changed since it was written; scoring it again",
            self.store.output,
            index,
        )


def _recount(store: PartStore, prog: Progress, n_parts: int) -> int:
    """Remove parts past the end (inputs were removed), count the rest from their footers; returns how many went."""
    stale = [i for i in store.done_parts() if i >= n_parts]
    for i in stale:
        store.remove(store.part_path(i))
    prog.parts_done, prog.rows_done, prog.failed = 0, 0, 0
    for i in range(n_parts):
        n, failed = store.part_rows(i)
        prog.parts_done += 1
        prog.rows_done += n
        prog.failed += failed
    return len(stale)


class _counting:
    """Pass rows through while counting them: the total is known only at the end of the stream."""

    def __init__(self, it: Iterator[InputRow], again: Callable[[], Iterator[InputRow]]) -> None:
        self._it = it
        self._again = again
        self.count = 0

    def restart(self) -> _counting:
        """Read the inputs again from the start (the count restarts with them)."""
        self._it = self._again()
        self.count = 0
        return self

    def __iter__(self) -> Iterator[InputRow]:
        for r in self._it:
            self.count = r.row + 1
            yield r


def _write_empty(output: str) -> int:
    from artjudge.batch.table import SCHEMA

    write_atomic(SCHEMA.empty_table(), output)
    return 0


def _record(store: PartStore, prog: Progress, n: int, failed: int, bar: BatchProgress | None) -> None:
    """Count a finished part in the progress file; ``bar`` advances here when it is counted per part."""
    prog.parts_done += 1
    prog.rows_done += n
    prog.failed += failed
    store.write_progress(prog)
    if bar is not None:
        bar.advance(n, failed)


def _run_local(
    store: PartStore,
    prog: Progress,
    rows: _counting,
    checker: _PartChecker,
    factory: ScorerFactory,
    *,
    part_size: int,
    batch_size: int,
    critique: bool,
    bar: BatchProgress,
) -> int:
    """One continuous scoring stream; on an unexpected scorer exception, finish partition by partition.

    Progress advances per scored image (not per part, which can be minutes apart).
    """
    done = checker.done
    todo = (r for _, part in checker.partitions(iter(rows)) for r in part)
    first = next(todo, None)
    if first is None:
        return 0
    scorer = factory()
    written = 0
    current: int | None = None
    buf: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal written
        if current is None or not buf:
            return
        _write_part(store, prog, current, buf, None, checker.fingerprints.pop(current, None))
        done.add(current)
        written += 1

    def chained() -> Iterator[InputRow]:
        assert first is not None
        yield first
        yield from todo

    try:
        for out in score_rows(scorer, chained(), batch_size=batch_size, critique=critique):
            index = out["row"] // part_size
            if index != current:
                flush()
                current, buf = index, []
            buf.append(out)
            bar.advance(1, failed=int(out.get("error") is not None))
        flush()
        return written
    except Exception as err:
        log.warning(
            "scoring stream raised %s: %s; continuing partition by partition", type(err).__name__, err
        )
    # The stream is gone mid-way: read the inputs again and redo every unfinished partition,
    # each isolating a row that raises. Rows of the unfinished partition were counted already.
    bar.reset(prog.rows_done, prog.failed)
    for index, part in checker.partitions(iter(rows.restart())):
        _write_part(
            store,
            prog,
            index,
            score_partition_safely(scorer, part, batch_size=batch_size, critique=critique),
            bar,
            checker.fingerprints.pop(index, None),
        )
        done.add(index)
        written += 1
    return written


def _write_part(
    store: PartStore,
    prog: Progress,
    index: int,
    out_rows: list[dict[str, Any]],
    bar: BatchProgress | None,
    fingerprint: str | None,
) -> None:
    if fingerprint is None:
        raise BatchError(f"{store.output}: part {index} has no input fingerprint (internal error)")
    table = to_table(out_rows)
    failed = table.num_rows - table.column("error").null_count
    write_atomic(table, store.part_path(index), metadata=part_metadata(index, failed, fingerprint))
    _record(store, prog, table.num_rows, failed, bar)


def _dask_client(plan: _Plan) -> tuple[Any, Any, Any, int | None]:
    """The client to submit to (the caller's, a scheduler's or a local cluster's), what this run
    started (to close afterwards) and the network threads per task (a share of the cores on a
    local cluster, unless set)."""
    from distributed import Client

    threads = plan.threads
    if plan.client is not None:
        return plan.client, None, None, threads
    if plan.executor == "dask":
        if not plan.scheduler:
            raise BatchError("--executor dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
        client = Client(plan.scheduler)
        return client, client, None, threads
    cluster = local_cluster(plan.workers)
    client = Client(cluster)
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // max(1, plan.workers))
    return client, client, cluster, threads


def _run_dask(
    store: PartStore,
    prog: Progress,
    rows: _counting,
    checker: _PartChecker,
    factory: ScorerFactory,
    plan: _Plan,
    bar: BatchProgress,
) -> int:
    model, part_size, batch_size = plan.model, plan.part_size, plan.batch_size
    critique, max_in_flight = plan.critique, plan.max_in_flight
    from dask.base import tokenize
    from distributed import as_completed

    client, own_client, own_cluster, threads = _dask_client(plan)
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        window = max_in_flight or 2 * n_workers + 1
        factory_key = f"{model}-{tokenize(factory)}"
        run_key = tokenize(store.parts_dir, model, part_size)
        pending = as_completed()
        in_flight = 0
        written = 0

        def collect(fut: Any) -> None:
            nonlocal in_flight, written
            in_flight -= 1
            try:
                index, n, failed = fut.result()
            except Exception as err:
                raise BatchError(
                    f"{store.output}: a partition failed after retries ({type(err).__name__}: {err}); "
                    "finished partitions are kept, rerun to resume"
                ) from err
            fut.release()
            store.remove(store.rows_path(index))
            written += 1
            _record(store, prog, n, failed, bar)

        for index, part in checker.partitions(iter(rows)):
            rows_path = store.rows_path(index)
            write_rows_file(part, rows_path)
            fut = client.submit(
                partition_task,
                index,
                rows_path,
                store.part_path(index),
                factory,
                factory_key,
                batch_size,
                critique,
                threads,
                checker.fingerprints.pop(index),
                key=f"artjudge-part-{run_key}-{index}",
                retries=2,
                pure=False,
            )
            pending.add(fut)
            in_flight += 1
            while in_flight >= window:
                collect(next(pending))
        while in_flight:
            collect(next(pending))
        return written
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def local_cluster(workers: int) -> Any:
    """A Dask cluster of worker processes on this machine, reachable only from 127.0.0.1.

    Its scheduler runs in this (the driver's) process and keeps debugging histories (past
    computations, transition and event logs) that fill up one entry per task up to their
    caps (100 computations, 1000 log entries): short caps keep the driver's memory the same
    for a run of ten partitions or ten thousand.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set(SCHEDULER_HISTORY):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            worker_dashboard_address=None,
            silence_logs=40,
        )


#: Caps on the in-process scheduler's histories (see :func:`local_cluster`).
SCHEDULER_HISTORY: dict[str, int] = {
    "distributed.diagnostics.computations.max-history": 4,
    "distributed.diagnostics.erred-tasks.max-history": 16,
    "distributed.admin.low-level-log-length": 32,
}
