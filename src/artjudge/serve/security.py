"""The service's guards: rate limiting, request size, allowed folders, response headers.

Each guard is small and independent so that each has its own test that tries to break it
(tests/test_serve_security.py).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from artjudge.errors import InputError


class TokenBucket:
    """Per-client token buckets, in process: ``rate`` tokens a second, at most ``burst`` saved."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self.max_clients = max_clients
        self._state: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, client: str, now: float | None = None) -> float:
        """Spend one token; returns 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._state.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._state[client] = (tokens - 1.0, now)
                return 0.0
            self._state[client] = (tokens, now)
            if len(self._state) > self.max_clients:  # forget the idlest clients; memory stays bounded
                for key, _ in sorted(self._state.items(), key=lambda kv: kv[1][1])[: self.max_clients // 10]:
                    self._state.pop(key, None)
            return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf


async def _send_json(
    send: Send, status: int, detail: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimitMiddleware:
    """429 with Retry-After once a client (by peer address) exceeds its bucket on /v1/."""

    def __init__(self, app: ASGIApp, bucket: TokenBucket) -> None:
        self.app = app
        self.bucket = bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/v1/"):
            client = (scope.get("client") or ("unknown", 0))[0]
            wait = self.bucket.take(client)
            if wait > 0:
                await _send_json(
                    send,
                    429,
                    f"rate limit: too many requests from {client}; retry later",
                    [(b"retry-after", str(max(1, math.ceil(wait))).encode())],
                )
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """413 for a request body over ``max_bytes``, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, "content-length: not a number")
                    return
                if declared > self.max_bytes:
                    await _send_json(
                        send,
                        413,
                        f"request body: {declared} bytes is over the limit of {self.max_bytes} bytes",
                    )
                    return
        seen = 0
        too_large = False
        replaced = False

        async def limited_receive() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_large = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            # Frameworks turn a failed body read into their own 400; answer 413 instead.
            nonlocal replaced
            if too_large:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await _send_json(send, 413, f"request body: over the limit of {self.max_bytes} bytes")
                return
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)
        if too_large and not replaced:
            await _send_json(send, 413, f"request body: over the limit of {self.max_bytes} bytes")


class _TooLarge(Exception):
    pass


class SecurityHeadersMiddleware:
    """Headers that keep the page's own scripts the only scripts, and tokens out of referrers."""

    HEADERS = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (
            b"content-security-policy",
            b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
            b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    ]

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def resolve_allowed(path: str, allowed: Sequence[Path], what: str = "path") -> Path:
    """Resolve ``path`` (symlinks included) and insist it lies inside one of ``allowed``.

    Relative paths are read against the first allowed folder. The path is first normalised
    as text (``os.path.normpath``: ``..`` cancels the component before it, without looking at
    the disk) and checked against the allowed folders; only a path already inside one is
    resolved on disk, and the resolved path (symlinks followed) is checked again. Why text
    first: ``Path.resolve(strict=True)`` stats components that a later ``..`` cancels, so
    ``/etc/nonexistent/../../ALLOWED/x.jpg`` failing where ``/etc/ssl/../../ALLOWED/x.jpg``
    succeeded told anyone which server paths exist. ``~`` is not expanded (a user's home is
    not the caller's business).
    """
    if not allowed:
        raise InputError(what, "reading files by path is disabled on this server (no allowed folders)")
    if not path or "\x00" in path:
        raise InputError(what, "empty or malformed path")
    text = path if os.path.isabs(path) else os.path.join(allowed[0], path)
    normal = Path(os.path.normpath(text))
    if not _inside(normal, allowed):
        raise not_allowed(path, what)
    try:
        resolved = normal.resolve(strict=True)
    except (OSError, RuntimeError):
        raise not_allowed(path, what) from None
    if _inside(resolved, allowed):
        return resolved
    raise not_allowed(path, what)


def _inside(p: Path, allowed: Sequence[Path]) -> bool:
    return any(p == root or p.is_relative_to(root) for root in allowed)


def not_allowed(path: str, what: str = "path") -> InputError:
    """The one answer for a path that is missing, of the wrong kind, or outside the allowed folders.

    Distinct messages would let anyone probe which files exist on the server (an oracle).
    """
    return InputError(what, f"{path!r} is missing, of the wrong kind, or outside the allowed folders")
