"""One thread policy for the network (torch or ONNX Runtime), BLAS and the decode threads.

On a small machine every pool that sizes itself to "all cores" competes with the others:
ONNX Runtime's and torch's intra-op pools spin while they wait, OpenBLAS starts its own
threads inside NumPy calls, and the prefetch thread decodes JPEGs beside the network. Left
alone they oversubscribe the CPU and the kernel spends the time switching (system time above
user time in ``/usr/bin/time -v``). The rule, documented in docs/performance.md:

* the network gets ``cores // workers`` threads (``compute``, at least 1), one inter-op
  thread, and ONNX Runtime does not spin-wait (its threads sleep while decoding runs);
* a stream of batches (``assess_many``, ``iter_assess``, ``batch``) on ONNX Runtime runs as
  ``lanes = compute`` pipeline lanes: each lane decodes, prepares, encodes (a session with
  ONE intra-op thread) and scores whole batches, the lanes working on different batches at
  once. Two single-threaded lanes keep both cores busy without the barrier stalls of one
  two-thread session sharing the cores with a decode thread (a descheduled pool thread
  holds up every parallel operator); a single call (one image, one service request) uses
  the ``compute``-thread session, for latency;
* BLAS gets 1 thread: NumPy work outside the network is small per image and already runs
  beside the network in the prefetch thread;
* with one lane (torch, one thread, or ``ARTJUDGE_THREAD_POLICY=off``) decoding uses one
  prefetch thread per process (next batch while this one encodes), and per-image
  preparation (resize, hand-crafted measures) uses ``compute`` threads while the network
  is idle.

This module is at the bottom of the layers: it imports neither torch nor onnxruntime, and
touches torch only when torch is already imported (so a torch-free install stays torch-free).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, replace

#: Environment variable overriding the intra-op thread count for the network (an integer >= 1).
THREADS_ENV = "ARTJUDGE_THREADS"
#: ``ARTJUDGE_THREAD_POLICY=off`` leaves every pool at its library default (benchmarks compare).
POLICY_ENV = "ARTJUDGE_THREAD_POLICY"


def policy_enabled() -> bool:
    return os.environ.get(POLICY_ENV, "").strip().lower() not in ("off", "0", "false", "no")


@dataclass(frozen=True)
class ThreadPolicy:
    """How many threads each pool gets in one process."""

    compute: int  # intra-op threads of the network (torch or ONNX Runtime) for single calls
    blas: int  # OpenBLAS / MKL threads inside NumPy and SciPy
    prefetch: int  # decode threads running ahead of the network (one-lane streams)
    lanes: int = 1  # pipeline lanes for streams of batches on ONNX Runtime, one network thread each


def cpu_count() -> int:
    """Cores this process may use (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def policy_for(workers: int = 1, threads: int | None = None) -> ThreadPolicy:
    """The policy for one of ``workers`` scoring processes on this machine.

    ``threads`` (or ``$ARTJUDGE_THREADS``) fixes the network's threads; otherwise the cores
    are split evenly between the workers, so several Dask workers get one thread each on a
    2-core machine instead of each starting a pool the size of the machine.
    """
    if threads is None:
        raw = os.environ.get(THREADS_ENV, "").strip()
        if raw:
            try:
                threads = int(raw)
            except ValueError:
                raise ValueError(f"${THREADS_ENV}={raw!r}: not an integer") from None
    if threads is not None and threads < 1:
        raise ValueError(f"threads={threads}: must be at least 1")
    compute = threads if threads is not None else max(1, cpu_count() // max(1, workers))
    return ThreadPolicy(compute=compute, blas=1, prefetch=1, lanes=compute if policy_enabled() else 1)


_BLAS_LIMITER: object | None = None


def apply_policy(policy: ThreadPolicy) -> ThreadPolicy:
    """Apply ``policy`` to this process: torch (if already imported) and BLAS; returns it.

    ONNX Runtime reads the policy when a session is made (see ``ort_session_options``).
    Safe to call more than once; the last call wins.
    """
    global _BLAS_LIMITER
    if not policy_enabled():
        return policy
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(policy.compute)
        # Only allowed before the first parallel op; a later call keeps what is set.
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        # Kept referenced: the limit holds until it is garbage-collected or restored.
        _BLAS_LIMITER = threadpool_limits(limits=policy.blas, user_api="blas")
    except ImportError:  # threadpoolctl is optional: then only the environment variables apply
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(policy.blas))
    return policy


def lane_policy(policy: ThreadPolicy) -> ThreadPolicy:
    """The policy of one pipeline lane: a single network thread, no lanes of its own."""
    return replace(policy, compute=1, lanes=1)


def ort_session_options(policy: ThreadPolicy) -> object:
    """ONNX Runtime session options for ``policy``: fixed intra-op pool, no spin-waiting."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if not policy_enabled():
        return opts
    opts.intra_op_num_threads = policy.compute
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Spinning threads burn a core each while the Python side decodes the next batch.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    return opts
