"""Model endpoints: assess, compare, process, models, health.

Uploads are checked by content before any model sees them; inference runs in a worker
thread so the event loop keeps serving annotators while a model works; records are cached
in the store by (content hash, model id).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from artjudge import __version__
from artjudge.errors import ArtjudgeError, InputError
from artjudge.models.base import check_request
from artjudge.record import Assessment
from artjudge.serve.schemas import AssessmentOut, CompareOut, HealthOut, ModelsOut, ProcessOut
from artjudge.serve.security import not_allowed, resolve_allowed
from artjudge.serve.uploads import (
    StoredUpload,
    check_image_file,
    check_video_file,
    hash_file,
    image_suffix,
    spool_upload,
)
from artjudge.store import repo

router = APIRouter(prefix="/v1", tags=["models"])
log = logging.getLogger("artjudge.serve")

#: Longest wait added to a cache hit (a miss that took longer is not matched beyond this).
MAX_HIT_PAD_S = 10.0

#: Longest prompt /v1/assess takes: prompts are a sentence or two, not documents.
MAX_PROMPT_CHARS = 2000


def _stored_input(
    request: Request, file: UploadFile | None, path: str | None, what: str, tmpdir: Path
) -> StoredUpload:
    """The image given as an upload or as a path inside an allowed folder, on disk and hashed (no decode).

    Runs in a worker thread. The upload was spooled by the multipart parser; it is copied in
    chunks to ``tmpdir`` with the size limit applied, so no request holds its bytes in memory.
    """
    st = request.app.state.settings
    if file is not None and path:
        raise InputError(what, "give an upload or a path, not both")
    if file is not None:
        name = Path(file.filename or what).name or what
        return spool_upload(name, file.file, tmpdir / f"{what}.upload", st.max_upload_bytes)
    if path:
        # One answer for missing, unreadable and outside paths: no file-existence oracle.
        resolved = resolve_allowed(path, st.allowed_folders, what)
        if not resolved.is_file():
            raise not_allowed(path, what)
        return hash_file(path, resolved, st.max_upload_bytes)
    raise InputError(
        what, "give an image upload (multipart field 'file') or a 'path' inside an allowed folder"
    )


def _cache_key(model_id: str, prompt: str | None, reference: StoredUpload | None) -> str:
    """The cache's model key: the model id, plus a hash of the prompt and reference when given.

    A record with consistency depends on what it was checked against, so the same image
    with another prompt (or none) must not be served this one.
    """
    if not prompt and reference is None:
        return model_id
    h = hashlib.sha256(
        json.dumps([prompt or "", reference.sha256 if reference else ""]).encode("utf-8")
    ).hexdigest()
    return f"{model_id}|consistency:{h[:32]}"


def _assess_sync(
    request: Request,
    up: StoredUpload,
    model: str,
    critique: bool,
    prompt: str | None = None,
    reference: StoredUpload | None = None,
) -> tuple[dict[str, Any], bool]:
    """Score one stored image: cache lookup by content hash first, then decode and check, then the model.

    A cache hit pays neither the decode nor the model; decodes are bounded by
    ``decode_concurrency`` so waiting requests cannot decode many large images at once.
    ``prompt`` or ``reference`` add the record's ``consistency`` entry and are part of the cache key.
    """
    app = request.app
    st = app.state.settings
    scorer = app.state.engines.scorer(model)
    started = time.perf_counter()  # after the model is loaded: a first request's load is not the image's cost
    # The one capability check: a prompt for a model that cannot use one is a 422 naming what it lacks.
    check_request(scorer.info(), prompt=bool(prompt), reference=reference is not None, critique=critique)
    key = _cache_key(scorer.model_id, prompt, reference)
    with app.state.sessions() as s:
        cached = repo.get_cached_assessment(s, up.sha256, key, critique, version=scorer.version)
    if cached is not None:  # through the record: a cached 1.0 record is served in today's shape
        cached = Assessment.from_dict(cached).to_dict()
        cached["input"] = up.name
        if reference is not None and cached.get("consistency"):
            cached["consistency"]["reference"] = reference.name
        return cached, True
    ref_path: str | None = None
    with app.state.decode_slots:
        check_image_file(up, st.max_pixels)
        if reference is not None:
            check_image_file(reference, st.max_pixels)
            ref_path = str(reference.path)
    t0 = time.perf_counter()
    with app.state.engines.slot(scorer):
        record = scorer.assess(str(up.path), critique=critique, prompt=prompt or None, reference=ref_path)
    elapsed = time.perf_counter() - t0
    d: dict[str, Any] = record.to_dict()
    d["input"] = up.name
    d["sha256"] = up.sha256
    if reference is not None and d.get("consistency"):  # the client's name, never a server temp path
        d["consistency"]["reference"] = reference.name
    d.setdefault("timings", {})["model_s"] = round(elapsed, 4)
    # the whole miss (checks, decode, model): what a later hit of this record is padded to
    d["timings"]["service_s"] = round(time.perf_counter() - started, 4)
    if critique and not d.get("critique"):
        d.setdefault("notes", []).append("critique requested but this model returned none")
    try:
        t_put = time.perf_counter()
        with app.state.sessions() as s:
            repo.put_assessment(s, d, critique, max_entries=st.cache_max_entries, model_key=key)
        # the cache write is part of a miss's time: a hit is padded by it too (see _answer)
        put_s = time.perf_counter() - t_put
        last = getattr(app.state, "cache_put_s", None)  # the first write seeds the average
        app.state.cache_put_s = put_s if last is None else 0.8 * last + 0.2 * put_s
    except Exception as err:  # a full disk or a read-only store must not cost the client its answer
        log.warning("assessment cache: could not store %s (%s: %s)", up.sha256[:12], type(err).__name__, err)
    return d, False


async def _answer(
    request: Request,
    file: UploadFile | None,
    path: str | None,
    what: str,
    model: str,
    critique: bool,
    prompt: str | None = None,
    reference: UploadFile | None = None,
) -> dict[str, Any]:
    """One image's record, with this request's own timing, a cache hit answering no faster than a miss.

    Why: a hit used to answer in 10 ms instead of 500-900 ms and carried the first requester's
    timings, so anyone could learn whether an image (with a prompt) had been assessed before.
    A hit now waits, without holding a worker thread, until the time its miss took; the
    answer's ``timings`` hold only ``service_s``, this request's own seconds, on hits and misses alike.
    """
    t0 = time.perf_counter()
    record, hit = await run_in_threadpool(
        _assess_one, request, file, path, what, model, critique, prompt, reference
    )
    if hit:
        stored = float((record.get("timings") or {}).get("service_s") or 0.0)
        stored += float(getattr(request.app.state, "cache_put_s", 0.0))
        pad = min(stored, MAX_HIT_PAD_S) - (time.perf_counter() - t0)
        if pad > 0:
            await asyncio.sleep(pad)
    record["timings"] = {"service_s": round(time.perf_counter() - t0, 4)}
    return record


def _assess_one(
    request: Request,
    file: UploadFile | None,
    path: str | None,
    what: str,
    model: str,
    critique: bool,
    prompt: str | None = None,
    reference: UploadFile | None = None,
) -> tuple[dict[str, Any], bool]:
    """Spool, hash, look up, decode and score one image, all in this worker thread."""
    with tempfile.TemporaryDirectory(prefix="artjudge-serve-") as tmp:
        up = _stored_input(request, file, path, what, Path(tmp))
        ref = None
        if reference is not None:
            ref = _stored_input(request, reference, None, "reference", Path(tmp))
        return _assess_sync(request, up, model, critique, prompt, ref)


@router.post("/assess", response_model=AssessmentOut, summary="Score one image (upload or allowed path)")
async def assess(
    request: Request,
    file: UploadFile | None = File(None, description="the image; its type is read from its content"),
    path: str | None = Form(None, description="a file inside one of the server's allowed folders"),
    critique: bool = Form(False, description="add the per-attribute and per-level critique"),
    model: str | None = Form(None, description="a model name from GET /v1/models"),
    prompt: str | None = Form(
        None, description="the text the image was made from: adds 'consistency' (docs/consistency.md)"
    ),
    reference: UploadFile | None = File(
        None, description="an image it should match: adds 'consistency' (instead of a prompt)"
    ),
) -> Any:
    model = model or request.app.state.settings.default_model
    prompt = (prompt or "").strip() or None
    if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
        raise InputError("prompt", f"{len(prompt)} characters is over the limit of {MAX_PROMPT_CHARS}")
    if prompt is not None and reference is not None:
        raise InputError("prompt", "give a prompt or a reference, not both")
    # No X-Artjudge-Cache header and no faster answer: a hit must not tell anyone that someone
    # assessed this image before.
    return await _answer(request, file, path, "file", model, critique, prompt, reference)


def _p_greater(a: dict[str, Any], b: dict[str, Any]) -> float:
    """P(a's overall score beats b's): the one formula (artjudge.scoring.compare)."""
    from artjudge.scoring.compare import p_a_better

    oa, ob = a["overall"], b["overall"]
    return p_a_better(
        float(oa["score"]), float(oa.get("std") or 0.0), float(ob["score"]), float(ob.get("std") or 0.0)
    )


@router.post("/compare", response_model=CompareOut, summary="Score two images and say which is better")
async def compare(
    request: Request,
    file_a: UploadFile | None = File(None),
    file_b: UploadFile | None = File(None),
    path_a: str | None = Form(None),
    path_b: str | None = Form(None),
    critique: bool = Form(False),
    model: str | None = Form(None),
) -> Any:
    model = model or request.app.state.settings.default_model
    rec_a = await _answer(request, file_a, path_a, "file_a", model, critique)
    rec_b = await _answer(request, file_b, path_b, "file_b", model, critique)
    p = _p_greater(rec_a, rec_b)
    better = "tie" if abs(p - 0.5) < 1e-9 else ("a" if p > 0.5 else "b")
    return {"a": rec_a, "b": rec_b, "better": better, "p_a_better": p}


@router.post(
    "/process",
    response_model=ProcessOut,
    summary="Judge a painting process from a video or frames (+ reference): 0-100 with std",
)
async def process(
    request: Request,
    video: UploadFile | None = File(None, description="a video of the painting being made"),
    frames: list[UploadFile] | None = File(None, description="frames in time order (instead of a video)"),
    reference: UploadFile | None = File(None, description="the finished painting (optional)"),
    model: str | None = Form(None),
) -> Any:
    st = request.app.state.settings
    if (video is None) == (not frames):
        raise InputError("video", "give a video or frames, not both and not neither")
    if frames and len(frames) > st.max_frames:
        raise InputError("frames", f"{len(frames)} frames is over the limit of {st.max_frames}")
    model = model or "default"
    judge = await run_in_threadpool(request.app.state.engines.process_judge, model)
    return await run_in_threadpool(_process_sync, request, judge, video, frames, reference)


def _process_sync(
    request: Request,
    judge: Any,
    video: UploadFile | None,
    frames: list[UploadFile] | None,
    reference: UploadFile | None,
) -> Any:
    """Spool, check (headers, limits) and judge, in a worker thread; errors name uploads, never temp paths."""
    from artjudge.io.images import ImageTooLarge, NotAnImage, image_size
    from artjudge.serve.process_adapter import run_process_judge
    from artjudge.serve.uploads import PayloadTooLarge, UnsupportedMedia

    st = request.app.state.settings
    with tempfile.TemporaryDirectory(prefix="artjudge-process-") as tmp:
        tmpdir = Path(tmp)
        names: dict[str, str] = {}
        try:
            ref_path: Path | None = None
            if reference is not None:
                ref = spool_upload(
                    Path(reference.filename or "reference").name or "reference",
                    reference.file,
                    tmpdir / "reference.upload",
                    st.max_upload_bytes,
                )
                with request.app.state.decode_slots:
                    suffix = check_image_file(ref, st.max_pixels)
                ref_path = ref.path.rename(tmpdir / f"reference{suffix}")
                names[str(ref_path)] = ref.name
            if video is not None:
                up = spool_upload(
                    Path(video.filename or "video").name or "video",
                    video.file,
                    tmpdir / "video.upload",
                    st.max_video_bytes,
                    "video",
                )
                suffix = check_video_file(up, st.max_video_seconds, st.max_video_frames)
                src: Any = up.path.rename(tmpdir / f"video{suffix}")
                names[str(src)] = up.name
                shown = up.name
            else:
                assert frames is not None
                # The frames become a folder, which the key-frame pass streams (one full-size
                # frame in memory at a time); a list of 64 frames of 40 MP would be decoded all at once.
                src = tmpdir / "frames"
                src.mkdir()
                for i, f in enumerate(frames):
                    up = spool_upload(
                        Path(f.filename or f"frame{i}").name or f"frame{i}",
                        f.file,
                        src / f"frame{i:04d}.upload",
                        st.max_upload_bytes,
                    )
                    try:  # header only: the key-frame passes decode each frame, in the model slot
                        image_size(up.path, max_pixels=st.max_pixels)
                    except ImageTooLarge as err:
                        raise PayloadTooLarge(up.name, err.reason) from None
                    except NotAnImage as err:
                        raise UnsupportedMedia(up.name, err.reason) from None
                    named = up.path.rename(src / f"frame{i:04d}{image_suffix(up.path, up.name)}")
                    names[str(named)] = up.name
                shown = f"<{len(frames)} frames>"
            with request.app.state.engines.slot(judge, stateful=True):
                out = run_process_judge(judge, src, ref_path, max_pixels=st.max_pixels)
        except InputError as err:
            raise type(err)(_scrub(err.source, tmpdir, names), _scrub(err.reason, tmpdir, names)) from None
        except ArtjudgeError as err:
            raise type(err)(_scrub(str(err), tmpdir, names)) from None
    if isinstance(out, dict):  # name inputs as the client gave them, never by server temp paths
        out["source"] = shown
        if out.get("reference"):
            out["reference"] = Path(reference.filename or "reference").name if reference else None
    return out


def _scrub(text: str, tmpdir: Path, names: dict[str, str]) -> str:
    """``text`` with server temp paths replaced by the uploads' own file names."""
    for path, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(path, name)
    return text.replace(str(tmpdir) + "/", "").replace(str(tmpdir), "<upload>")


@router.get("/models", response_model=ModelsOut, summary="The models this server offers and their state")
def models(request: Request) -> Any:
    return {"default": request.app.state.settings.default_model, "models": request.app.state.engines.status()}


health_router = APIRouter(tags=["health"])


@health_router.get("/health", response_model=HealthOut, summary="Liveness and database reachability")
def health(request: Request) -> Any:
    from sqlalchemy import text

    try:
        with request.app.state.sessions() as s:
            s.execute(text("SELECT 1"))
        db = "ok"
    except Exception as err:  # report, do not crash the probe
        db = f"error: {err.__class__.__name__}"
    failing = getattr(request.app.state, "store_health", None)
    if db == "ok" and failing is not None and failing.error:  # reads work, the last write did not
        db = f"error: {failing.error}"
    return {"status": "ok" if db == "ok" else "degraded", "version": __version__, "database": db}
