"""The application factory: one FastAPI app serving the API, the web page and campaigns."""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DatabaseError, OperationalError, SQLAlchemyError
from starlette.formparsers import MultiPartParser

from artjudge import __version__
from artjudge.errors import ArtjudgeError, InputError, ModelNotAvailable, Unsupported
from artjudge.serve.admission import BodyTimeout, HostOriginCheck, InferenceAdmission
from artjudge.serve.engines import Engines, Unavailable
from artjudge.serve.routes_campaign import Unauthorised
from artjudge.serve.security import (
    BodyLimitMiddleware,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
    TokenBucket,
)
from artjudge.serve.settings import Settings
from artjudge.serve.uploads import PayloadTooLarge, UnsupportedMedia
from artjudge.store import Conflict, NotFound, open_store
from artjudge.store import repo as store_repo

STATIC = Path(__file__).with_name("static")
log = logging.getLogger("artjudge.serve")

DESCRIPTION = """
Score artworks with calibrated error intervals, explain the score, judge painting processes, and run
annotation campaigns (ratings and pairwise preferences) for expert panels.
Every score is on 0-100, higher is better; every assessment body is the Assessment record
(docs/record.md). See docs/service.md for the security model.
"""


def _status_for(err: ArtjudgeError) -> int:
    if isinstance(err, PayloadTooLarge):
        return 413
    if isinstance(err, UnsupportedMedia):
        return 415
    if isinstance(err, Unauthorised):
        return 401
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, Unavailable | ModelNotAvailable):
        return 503
    if isinstance(err, Unsupported):  # a well-formed request this model cannot serve
        return 422
    if isinstance(err, InputError):
        return 400
    return 400


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as JSON ``{"detail": one line}`` with its status (``_status_for``); store outages are 503."""

    @app.exception_handler(ArtjudgeError)
    async def _artjudge_error(_request: Request, err: ArtjudgeError) -> JSONResponse:
        status = _status_for(err)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(err)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {"loc": ("body",), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "form"))
        return JSONResponse(
            {
                "detail": f"{where or 'request'}: {first.get('msg', 'invalid')}",
                "errors": jsonable(err.errors()),
            },
            status_code=422,
        )

    @app.exception_handler(OverflowError)
    async def _overflow(_request: Request, _err: OverflowError) -> JSONResponse:
        return JSONResponse({"detail": "request: a number is out of range"}, status_code=422)

    @app.exception_handler(SQLAlchemyError)
    async def _store_error(request: Request, err: SQLAlchemyError) -> JSONResponse:
        orig = getattr(err, "orig", None)
        if isinstance(orig, OverflowError):
            return JSONResponse({"detail": "request: a number is out of range"}, status_code=422)
        if isinstance(err, OperationalError | DatabaseError):
            reason = store_failure_reason(err)
            request.app.state.store_health.failed(reason)
            log.error("store: %s", reason)
            return JSONResponse(
                {"detail": f"store: {reason}; try again later"},
                status_code=503,
                headers={"Retry-After": "30"},
            )
        raise err


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app: open (and migrate) the store, register the organiser token, wire guards."""
    settings = settings or Settings()
    sessions = open_store(settings.db_url)
    if settings.organiser_token:
        with sessions() as s:  # the same organiser role; an earlier env token is revoked
            _, revoked = store_repo.adopt_env_token(s, settings.organiser_name, settings.organiser_token)
        if revoked:
            log.warning("ARTJUDGE_ORGANISER_TOKEN changed: the previous one is revoked (campaigns kept)")

    app = FastAPI(
        title="artjudge", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None
    )
    app.state.settings = settings
    app.state.sessions = sessions
    app.state.engines = Engines(
        settings.models,
        settings.process_models,
        settings.inference_concurrency,
        runtime=settings.runtime,
        threads=settings.threads,
    )
    app.state.decode_slots = threading.BoundedSemaphore(max(1, settings.decode_concurrency))
    app.state.store_health = StoreHealth()
    watch_store(sessions, app.state.store_health)
    # Upload parts above this size are spooled to disk by the multipart parser (a class setting).
    MultiPartParser.spool_max_size = settings.upload_spool_bytes

    _add_error_handlers(app)

    from artjudge.serve.routes_campaign import router as campaign_router
    from artjudge.serve.routes_grade import router as grade_router
    from artjudge.serve.routes_model import health_router
    from artjudge.serve.routes_model import router as model_router

    app.include_router(health_router)
    app.include_router(model_router)
    app.include_router(campaign_router)
    app.include_router(grade_router)  # the teacher's grading page's API (routes_grade)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(name: str) -> Any:
        async def handler() -> FileResponse:
            return FileResponse(STATIC / name, media_type="text/html")

        return handler

    app.add_api_route("/", page("index.html"), include_in_schema=False)
    app.add_api_route("/annotate", page("annotate.html"), include_in_schema=False)
    app.add_api_route("/organise", page("organise.html"), include_in_schema=False)
    app.add_api_route("/grade", page("grade.html"), include_in_schema=False)
    app.add_api_route("/docs", page("api.html"), include_in_schema=False)  # Swagger UI would need a CDN

    # Outermost first: headers on every answer, Host/Origin, then size, rate, admission, body deadline.
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_s)
    app.add_middleware(
        InferenceAdmission,
        capacity=settings.inference_concurrency + settings.max_waiting,
        retry_after_s=settings.retry_after_s,
    )
    app.add_middleware(RateLimitMiddleware, bucket=TokenBucket(settings.rate_per_second, settings.rate_burst))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(HostOriginCheck, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def jsonable(obj: Any) -> Any:
    """Validation details as JSON: bytes summarised, NaN and infinities as strings (JSON has neither)."""
    from fastapi.encoders import jsonable_encoder

    return _finite(jsonable_encoder(obj, custom_encoder={bytes: lambda b: f"<{len(b)} bytes>"}))


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


class StoreHealth:
    """The last failed database write, until a later commit succeeds: what ``/health`` reports."""

    def __init__(self) -> None:
        self.error: str | None = None

    def failed(self, reason: str) -> None:
        self.error = reason

    def ok(self, *_args: Any) -> None:
        self.error = None


def watch_store(sessions: Any, health: StoreHealth) -> None:
    """Clear the failure on the next successful commit (the disk was freed, permissions fixed)."""
    from sqlalchemy import event

    event.listen(sessions, "after_commit", health.ok)


def store_failure_reason(err: Exception) -> str:
    """One line for a database error a client can do nothing about (full disk, read-only file, locked)."""
    text = str(getattr(err, "orig", err)).lower()
    if "full" in text or "no space" in text:
        return "the database disk is full"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only"
    if "locked" in text or "busy" in text:
        return "the database is busy"
    return f"the database cannot be used ({type(getattr(err, 'orig', err)).__name__})"
