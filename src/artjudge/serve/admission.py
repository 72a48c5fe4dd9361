"""Admission guards in front of the app: bounded waiting for inference, body deadlines, Host/Origin.

Why: each upload used to wait for the one model slot with its bytes in memory and no bound
on waiters (100 uploads of 20 MB took the server to 3.27 GB). Now an inference request is
admitted only while fewer than ``slots + max_waiting`` are in flight; the rest get 503 with
``Retry-After`` before their body is read. Admitted bodies are parsed by Starlette into
spooled temporary files (on disk past ``upload_spool_bytes``), and the routes stream them
to disk and hash them there, so a waiting request holds a file, not its bytes.
"""

from __future__ import annotations

import math
import threading

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from artjudge.serve.security import _send_json

#: Paths whose requests run a model (and so wait for a model slot).
INFERENCE_PATHS = ("/v1/assess", "/v1/compare", "/v1/process")


class InferenceAdmission:
    """503 + ``Retry-After`` once ``capacity`` inference requests are already in flight."""

    def __init__(self, app: ASGIApp, capacity: int, retry_after_s: int) -> None:
        self.app = app
        self.capacity = max(1, capacity)
        self.retry_after_s = max(1, retry_after_s)
        self.in_flight = 0
        self.refused = 0
        self._lock = threading.Lock()

    def _is_inference(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http" and scope.get("method") == "POST" and scope.get("path") in INFERENCE_PATHS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._is_inference(scope):
            await self.app(scope, receive, send)
            return
        with self._lock:
            admitted = self.in_flight < self.capacity
            if admitted:
                self.in_flight += 1
            else:
                self.refused += 1
        if not admitted:
            await _send_json(
                send,
                503,
                f"{scope['path']}: the model is busy ({self.capacity} requests in flight); "
                f"retry after {self.retry_after_s} s",
                [(b"retry-after", str(self.retry_after_s).encode()), (b"connection", b"close")],
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self.in_flight -= 1


class BodyTimeout:
    """408 when a client sends nothing of its request body for ``seconds`` (a slow-body attack)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not math.isfinite(self.seconds) or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        timed_out = False
        started = False

        async def timed_receive() -> Message:
            nonlocal timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            with anyio.move_on_after(self.seconds) as scope_:
                message = await receive()
            if scope_.cancelled_caught:
                timed_out = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out and not started:
                if message["type"] == "http.response.start":
                    started = True
                    await _send_json(
                        send,
                        408,
                        f"request body: nothing received for {self.seconds:g} s",
                        [(b"connection", b"close")],
                    )
                return
            if message["type"] == "http.response.start":
                started = True
            if timed_out and started and message["type"] == "http.response.body":
                return
            await send(message)

        await self.app(scope, timed_receive, guarded_send)
        if timed_out and not started:
            await _send_json(
                send,
                408,
                f"request body: nothing received for {self.seconds:g} s",
                [(b"connection", b"close")],
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return v.decode("latin-1")
    return None


def host_of(value: str) -> str:
    """The host part of a ``Host`` header or an origin URL, lower case, without the port."""
    v = value.strip().lower()
    if "://" in v:
        v = v.split("://", 1)[1]
    v = v.split("/", 1)[0]
    if v.startswith("["):
        return v.split("]", 1)[0] + "]"
    return v.rsplit(":", 1)[0] if v.count(":") == 1 else v


class HostOriginCheck:
    """Refuse requests whose ``Host`` is not ours (DNS rebinding) and cross-site POSTs (by ``Origin``).

    A page on another site can make a browser POST to 127.0.0.1, and a rebound domain can
    make it read the answers; both carry a foreign Host or Origin, which are refused with 421
    / 403. Clients without an ``Origin`` (curl, scripts) are not browsers and pass.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {host_of(h) for h in allowed_hosts}
        self.any_host = "*" in allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.any_host:
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host")
        if host is not None and host_of(host) not in self.allowed:
            await _send_json(
                send, 421, "host: this server does not answer for that name (allowed hosts setting)"
            )
            return
        origin = _header(scope, b"origin")
        if (
            origin is not None
            and scope.get("method") not in ("GET", "HEAD", "OPTIONS")
            and origin != "null"
            and host_of(origin) not in self.allowed
        ):
            await _send_json(send, 403, "origin: cross-site requests are refused")
            return
        if origin == "null" and scope.get("method") not in ("GET", "HEAD", "OPTIONS"):
            await _send_json(send, 403, "origin: cross-site requests are refused")
            return
        await self.app(scope, receive, send)
