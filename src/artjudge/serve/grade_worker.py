"""The grading page's background worker: encodes works once and retrains the learner, off the request path.

One daemon thread per app. A request that changes a rubric (works added, a grade stored)
only *pokes* the worker and answers; the worker then encodes new works (the same ONNX
encoder and content-hash feature cache as assessing, so a work already assessed or already
encoded is not encoded again), measures their evidence from the same decoded copy, and
refits the closed-form heads (seconds) once ``MIN_GRADED`` works are graded and every
``RETRAIN_STEP`` grades after that. The result is stored in the store's ``grade_models`` row,
so a restarted server shows the last state at once and nothing waits on the model.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from artjudge.features.extract import FeatureBatch, FeatureExtractor
from artjudge.serve.grade_model import MIN_GRADED, Scale, coverage_order, fit_learner
from artjudge.store import grading_repo as repo
from artjudge.store.grading import GradeWork

log = logging.getLogger("artjudge.serve.grade")
RETRAIN_STEP = 5  # refit after this many new grades (each fit: a few seconds on 2 cores)
QUIET_S = 4.0  # ... or once no grade has come for this long
BATCH = 16


class GradeWorker:
    """Encodes and trains in one background thread; ``poke(rubric_id)`` asks for an update."""

    def __init__(self, sessions: Any, read_work: Callable[[GradeWork], bytes], cache_dir: Any = None) -> None:
        self.sessions = sessions
        self.read_work = read_work
        self.cache_dir = cache_dir
        self._features: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # sha256 -> (pooled, handcrafted)
        self._evidence: dict[str, dict[str, float]] = {}  # sha256 -> measured evidence
        self._pending: dict[int, bool] = {}  # rubric id -> forced
        self._cond = threading.Condition()
        self._busy = 0
        self._extractor: FeatureExtractor | None = None
        self._thread: threading.Thread | None = None
        self.phase: dict[int, str] = {}  # rubric id -> what the worker is doing for it now

    # ---------------------------------------------------------------- scheduling

    def poke(self, rubric_id: int, *, force: bool = False) -> None:
        with self._cond:
            self._pending[rubric_id] = self._pending.get(rubric_id, False) or force
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="artjudge-grade", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def idle(self, timeout: float = 60.0) -> bool:
        """Wait until nothing is pending or running (tests, shutdown); True when idle."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._busy:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                rubric_id, force = self._pending.popitem()
                self._busy += 1
            try:
                self.update(rubric_id, force=force)
            except Exception as err:  # the page shows it; the worker keeps serving other rubrics
                log.exception("grading: rubric %s: update failed", rubric_id)
                reason = str(err)
                if isinstance(err, ImportError):
                    reason = f"training needs the [torch] extra ({err.name} missing): pip install 'artjudge[torch]'"
                with self.sessions() as s:
                    st = repo.model_state(s, rubric_id)
                    repo.save_model_state(
                        s, rubric_id, st.n_graded if st else 0, "failed", st.state if st else {}, reason
                    )
            finally:
                with self._cond:
                    self._busy -= 1
                    self.phase.pop(rubric_id, None)
                    self._cond.notify_all()

    # ---------------------------------------------------------------- work

    def update(self, rubric_id: int, *, force: bool = False) -> None:
        """Encode what is new, then retrain (or re-plan) when the grades or works changed enough."""
        with self.sessions() as s:
            rubric = s.get(repo.GradeRubric, rubric_id)
            if rubric is None:
                return
            works = repo.list_works(s, rubric_id)
            grades = repo.grades_of(s, rubric_id)
            state = repo.model_state(s, rubric_id)
            attrs, scale = list(rubric.attributes), Scale(rubric.scale_min, rubric.scale_max)
        if not works:
            return
        self.phase[rubric_id] = "encoding"
        feats = self.features(works)
        ids = [w.id for w in works]
        n = len(grades)
        prev_n = state.n_graded if state is not None and state.status == "trained" else -1
        prev_works = (state.state or {}).get("n_works") if state is not None else None
        stale = force or prev_n < 0 or n >= prev_n + RETRAIN_STEP or prev_works != len(works)
        if n >= MIN_GRADED and stale:
            self.phase[rubric_id] = "training"
            t0 = time.perf_counter()
            g = {
                a: np.array([grades[w].scores[a] if w in grades else np.nan for w in ids], float)
                for a in attrs
            }
            learner = finite(fit_learner(feats, ids, g, scale).to_dict())
            learner["seconds"] = round(time.perf_counter() - t0, 2)
            with self.sessions() as s:
                repo.save_model_state(s, rubric_id, n, "trained", learner)
            log.info("grading: rubric %s trained on %d grades in %.1f s", rubric_id, n, learner["seconds"])
        elif n > prev_n >= 0:  # fewer than RETRAIN_STEP new grades: retrain once the teacher pauses
            self._settle(rubric_id, n)
        elif n < MIN_GRADED:
            graded = np.array([w in grades for w in ids])
            order = coverage_order(feats, ids, graded)
            with self.sessions() as s:
                repo.save_model_state(s, rubric_id, n, "collecting", {"order": order, "n_works": len(works)})

    def _settle(self, rubric_id: int, n: int) -> None:
        """Retrain in ``QUIET_S`` seconds if no grade arrives meanwhile (the last few grades count too)."""

        def fire() -> None:
            with self.sessions() as s:
                if repo.count_grades(s, rubric_id) == n:
                    self.poke(rubric_id, force=True)

        timer = threading.Timer(QUIET_S, fire)
        timer.daemon = True
        timer.start()

    def extractor(self) -> FeatureExtractor:
        """Training's extractor (``artjudge.train.encode``): the scorer's ONNX encoder and feature cache."""
        if self._extractor is None:
            from artjudge.models.head_config import HeadConfig
            from artjudge.train.encode import training_extractor

            self._extractor, _ = training_extractor(
                HeadConfig().resolution, keep_trunk=False, cache_dir=self.cache_dir
            )
        return self._extractor

    def features(self, works: list[GradeWork]) -> FeatureBatch:
        """Features of ``works`` in order; new ones are decoded once, encoded and measured."""
        from artjudge.features.evidence import measure
        from artjudge.io import load_image

        todo = [w for w in works if w.sha256 not in self._features]
        for i in range(0, len(todo), BATCH):
            chunk = todo[i : i + BATCH]
            loaded = [load_image(self.read_work(w), name=w.key) for w in chunk]
            fb = self.extractor().encode([li.image for li in loaded], [li.sha256 for li in loaded])
            for r, (w, li) in enumerate(zip(chunk, loaded, strict=True)):
                self._features[w.sha256] = (fb.pooled[r], fb.handcrafted[r])
                ev = measure(li.image)
                self._evidence[w.sha256] = {k: m.value for k, m in ev.items() if m.valid}
        rows = [self._features[w.sha256] for w in works]
        return FeatureBatch(
            pooled=np.stack([r[0] for r in rows]).astype(np.float32),
            handcrafted=np.stack([r[1] for r in rows]).astype(np.float32),
            trunk=np.zeros((len(rows), 0), dtype=np.float16),
        )

    def evidence_of(self, work: GradeWork) -> dict[str, float] | None:
        """A work's measured evidence when the worker has measured it (None before)."""
        return self._evidence.get(work.sha256)


def finite(obj: Any) -> Any:
    """``obj`` with every NaN or infinity replaced by None: the state is served as strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite(v) for v in obj]
    return obj
