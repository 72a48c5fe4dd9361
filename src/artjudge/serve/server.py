"""Running the app under uvicorn with the limits that keep one host from taking it down.

Why a module of its own: the defaults of a development server trust ``X-Forwarded-For``
from 127.0.0.1, keep a connection whose request headers never finish open forever, and log
every refused connection, so 300 slow clients exhausted the file descriptors and grew the
log by 71 MB in 15 s (issue 18). Here:

- forwarded headers count only from ``Settings.trusted_proxies`` (none by default), so the
  rate limit and the log see the real peer;
- a connection must finish its request headers within ``header_timeout_s`` (also on a
  kept-alive connection), h11 refuses headers over ``max_header_bytes``, at most
  ``max_connections`` connections are open at once (more are closed on arrival), and uvicorn
  answers 503 past ``limit_concurrency`` requests;
- log lines from uvicorn and asyncio pass a per-logger rate limit (``log_lines_per_second``);
  what is dropped is counted in the next line let through;
- the interpreter's GIL switch interval is shortened (``gil_switch_interval_s``) so that the
  event loop is not kept waiting behind worker threads' Python code.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from artjudge.serve.settings import Settings

log = logging.getLogger("artjudge.serve")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol plus a request-header deadline and a cap on open connections."""

    header_timeout_s: float = 10.0
    max_connections: int = 256

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.close()  # past the cap: refuse at once rather than run out of descriptors
            return
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_task: asyncio.TimerHandle | None = self.loop.call_later(
            self.header_timeout_s, self._header_deadline
        )
        self._cycle_at_arm = self.cycle

    def _disarm_header_deadline(self) -> None:
        task = getattr(self, "_header_task", None)
        if task is not None:
            task.cancel()
        self._header_task = None

    def _header_deadline(self) -> None:
        self._header_task = None
        if self.cycle is self._cycle_at_arm and not self.transport.is_closing():
            self.transport.close()  # no complete request headers in time: a slow or stalled client

    def handle_events(self) -> None:
        super().handle_events()
        if getattr(self, "_header_task", None) is not None and self.cycle is not self._cycle_at_arm:
            self._disarm_header_deadline()  # the headers arrived; the body has its own timeout

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)


class RateLimitedLog(logging.Filter):
    """At most ``per_second`` records a second through one logger; the count of dropped ones is reported.

    Why: a flood of refused or malformed connections logs one line each; bounded lines keep
    the log (and the disk) from growing with the attack.
    """

    def __init__(self, per_second: float, burst: int | None = None) -> None:
        super().__init__()
        self.rate = float(per_second)
        self.burst = float(burst if burst is not None else max(1, int(per_second * 2)))
        self.tokens = self.burst
        self.last = time.monotonic()
        self.dropped = 0
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1.0:
                self.dropped += 1
                return False
            self.tokens -= 1.0
            if self.dropped:
                record.msg = f"{record.msg} [{self.dropped} log lines dropped by the rate limit]"
                self.dropped = 0
            return True


LIMITED_LOGGERS = ("uvicorn.error", "uvicorn.access", "asyncio", "artjudge.serve")


def limit_logs(per_second: float) -> list[RateLimitedLog]:
    """Attach one :class:`RateLimitedLog` to each logger that an attacker can make write."""
    filters = []
    for name in LIMITED_LOGGERS:
        f = RateLimitedLog(per_second)
        logging.getLogger(name).addFilter(f)
        filters.append(f)
    return filters


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, log_level: str = "info") -> Any:
    """The uvicorn ``Config`` with every limit of :class:`Settings` applied."""
    import uvicorn

    protocol = type(
        "ArtjudgeH11Protocol",
        (GuardedH11Protocol,),
        {
            "header_timeout_s": settings.header_timeout_s,
            "max_connections": settings.max_connections,
        },
    )
    trusted = list(settings.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=protocol,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keep_alive_s,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        server_header=False,
    )


def run_server(app: Any, settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    """Serve ``app`` until interrupted, with the limits of :func:`uvicorn_config` and bounded logs."""
    import uvicorn

    config = uvicorn_config(app, settings, host, port, log_level)
    server = uvicorn.Server(config)
    # Worker threads (decode, hashing, pre-processing) hold the GIL in slices of this length;
    # a shorter slice lets the event loop answer /health and annotators between them.
    sys.setswitchinterval(settings.gil_switch_interval_s)
    config.load()  # configures uvicorn's loggers; the filters go on after so they stay
    limit_logs(settings.log_lines_per_second)
    server.run()
