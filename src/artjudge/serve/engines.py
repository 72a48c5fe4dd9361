"""Models behind the service: loaded once, lazily, on first use, and shared by all requests.

A model that cannot be loaded (its module not in this build, its weights missing) is not
an error of the request: it is reported as HTTP 503 with the reason, and loading is
retried on the next request so that a server started before the weights arrived recovers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from artjudge.errors import ArtjudgeError

if TYPE_CHECKING:
    from artjudge.models.base import Scorer
    from artjudge.models.process.judge import ProcessJudge


class Unavailable(ArtjudgeError):
    """A capability that this server cannot offer right now (HTTP 503), with the reason."""


class Engines:
    def __init__(
        self,
        models: tuple[str, ...],
        process_models: tuple[str, ...],
        concurrency: int = 1,
        *,
        runtime: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.models = models
        #: From the service's settings, passed to every loader (never through the environment).
        self.runtime, self.threads = runtime, threads
        self.concurrency = max(1, concurrency)
        self._slots: dict[str, threading.Semaphore] = {}
        self.process_models = process_models
        self._cache: dict[str, Any] = {}
        self._errors: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def slot(self, obj: Any, *, stateful: bool = False) -> threading.Semaphore:
        """Bounds concurrent calls into one model: CPU inference is fastest one at a time, and the
        process judge keeps per-call state (its KV cache), so its caller passes ``stateful=True``
        and it always gets exactly one slot."""
        key = f"{id(obj)}"
        with self._guard:
            if key not in self._slots:
                self._slots[key] = threading.Semaphore(1 if stateful else self.concurrency)
            return self._slots[key]

    def _get(self, key: str, loader: Callable[[], Any], what: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        with self._lock(key):
            if key in self._cache:
                return self._cache[key]
            try:
                obj = loader()
            except ModuleNotFoundError as err:
                if err.name and err.name.startswith("artjudge"):
                    reason = f"{what}: not part of this build yet ({err.name} is missing)"
                else:
                    reason = (
                        f"{what}: a dependency is missing ({err.name}); install the extra that provides it"
                    )
                self._errors[key] = reason
                raise Unavailable(reason) from None
            except (ArtjudgeError, OSError, RuntimeError, ImportError, AttributeError) as err:
                reason = f"{what}: cannot be loaded ({err})"
                self._errors[key] = reason
                raise Unavailable(reason) from None
            self._cache[key] = obj
            self._errors.pop(key, None)
            return obj

    def scorer(self, name: str) -> Scorer:
        """The scorer named ``name`` (one of the configured names only)."""
        if name not in self.models:
            from artjudge.errors import InputError

            raise InputError("model", f"{name!r} is not served here; choose one of {', '.join(self.models)}")

        def load() -> Scorer:
            import artjudge

            return artjudge.load(name, runtime=self.runtime, threads=self.threads)

        scorer: Scorer = self._get(f"scorer:{name}", load, f"model {name!r}")
        return scorer

    def process_judge(self, name: str) -> ProcessJudge:
        if name not in self.process_models:
            from artjudge.errors import InputError

            raise InputError(
                "model",
                f"{name!r} is not a process model served here; choose one of "
                f"{', '.join(self.process_models)}",
            )

        def load() -> ProcessJudge:
            from artjudge.api import load_process

            return load_process(name, runtime=self.runtime)

        judge: ProcessJudge = self._get(f"process:{name}", load, f"process judge {name!r}")
        return judge

    def status(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for kind, names in (("scorer", self.models), ("process", self.process_models)):
            for n in names:
                obj = self._cache.get(
                    f"{kind}:{n}"
                )  # a Scorer or a ProcessJudge: both have model_id, version
                out.append(
                    {
                        "name": n,
                        "kind": kind,
                        "loaded": obj is not None,
                        "model_id": obj.model_id if obj is not None else None,
                        "model_version": obj.version if obj is not None else None,
                        "error": self._errors.get(f"{kind}:{n}"),
                    }
                )
        return out
