"""Annotation campaigns (PPaint's dual protocol): organiser and annotator endpoints.

Two roles, two kinds of bearer token. The organiser token opens the organiser's own
campaigns only; an annotator token opens that annotator's own tasks only. Anything outside
a caller's reach answers 404, exactly as if it did not exist, so ids cannot be probed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Header, Request, Response, UploadFile
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from artjudge.errors import ArtjudgeError, InputError
from artjudge.serve import analysis, planning
from artjudge.serve.exports import PAIR_HEADER, RATING_HEADER, _csv, pair_rows, rating_rows
from artjudge.serve.schemas import (
    AnnotatorIn,
    CampaignIn,
    CampaignOut,
    InviteOut,
    ItemOut,
    JudgmentIn,
    JudgmentOut,
    MeOut,
    ProgressRow,
)
from artjudge.serve.security import not_allowed, resolve_allowed
from artjudge.serve.uploads import check_image
from artjudge.store import repo
from artjudge.store.models import Annotator, Campaign, Item, Organiser

bearer = HTTPBearer(auto_error=False, description="organiser or annotator token")
router = APIRouter(prefix="/v1", tags=["campaigns"])


class Unauthorised(ArtjudgeError):
    """Missing or unknown bearer token (HTTP 401)."""


def db(request: Request) -> Any:
    with request.app.state.sessions() as s:
        yield s


def organiser(
    creds: HTTPAuthorizationCredentials | None = Depends(bearer), s: Session = Depends(db)
) -> Organiser:
    if creds is None or not creds.credentials:
        raise Unauthorised("authorization: an organiser token is required (Authorization: Bearer TOKEN)")
    org = repo.organiser_by_token(s, creds.credentials)
    if org is None:
        raise Unauthorised("authorization: not a valid organiser token")
    return org


def annotator(
    creds: HTTPAuthorizationCredentials | None = Depends(bearer), s: Session = Depends(db)
) -> Annotator:
    if creds is None or not creds.credentials:
        raise Unauthorised("authorization: an annotator token is required (Authorization: Bearer TOKEN)")
    ann = repo.annotator_by_token(s, creds.credentials)
    if ann is None:
        raise Unauthorised("authorization: not a valid annotator token")
    return ann


def _campaign_out(c: Campaign) -> dict[str, Any]:
    return {
        k: getattr(c, k)
        for k in (
            "id",
            "name",
            "dimensions",
            "scale_min",
            "scale_max",
            "pair_design",
            "pairs_per_annotator",
            "with_ratings",
            "instructions",
            "design_note",
        )
    }


def _item_out(i: Item) -> dict[str, Any]:
    return {"id": i.id, "key": i.key, "sha256": i.sha256, "media_type": i.media_type}


_SAFE_KEY = re.compile(r"[^\w.\- ]+")


def safe_key(name: str) -> str:
    """An item key from a file name: no folders, no control or formula characters."""
    key = _SAFE_KEY.sub("_", Path(name.replace("\\", "/")).name).strip().lstrip("=+-@ ")
    return key[:200] or "item"


# ------------------------------------------------------------------ organiser


@router.post("/campaigns", response_model=CampaignOut, status_code=201, summary="Create a campaign")
def create_campaign(body: CampaignIn, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    c = repo.create_campaign(
        s,
        org.id,
        body.name,
        body.dimensions,
        body.scale_min,
        body.scale_max,
        body.pair_design,
        body.pairs_per_annotator,
        body.instructions,
        body.ratings,
    )
    return _campaign_out(c)


@router.get("/campaigns", response_model=list[CampaignOut], summary="The caller's campaigns")
def list_campaigns(org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    return [_campaign_out(c) for c in repo.list_campaigns(s, org.id)]


@router.get("/campaigns/{campaign_id}", summary="A campaign with its items, annotators and progress")
def get_campaign(campaign_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    return {
        "campaign": _campaign_out(c),
        "items": [_item_out(i) for i in repo.list_items(s, c.id)],
        "progress": repo.progress(s, c.id),
    }


@router.post(
    "/campaigns/{campaign_id}/items",
    response_model=list[ItemOut],
    status_code=201,
    summary="Add items: uploads, or every image of a folder inside the allowed folders",
)
async def add_items(
    request: Request,
    campaign_id: int,
    files: list[UploadFile] | None = File(None),
    folder: str | None = Form(None),
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    st = request.app.state.settings
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    if repo.list_annotators(s, c.id):
        raise InputError("items", "annotators are already invited; add items before inviting")
    # Every image is checked (decoded) in a worker thread, before any is stored; then all are
    # stored in one transaction, so an import is all or nothing and a retry starts clean.
    staged = await run_in_threadpool(_stage_items, st, files or [], folder)
    if not staged:
        raise InputError("items", "no images given (multipart 'files' or a 'folder' with images)")
    added = repo.add_items(s, c.id, staged)
    return [_item_out(i) for i in added]


def _stage_items(st: Any, files: list[UploadFile], folder: str | None) -> list[dict[str, Any]]:
    staged: list[dict[str, Any]] = []
    for f in files:
        name = f.filename or "item"
        img = check_image(name, f.file.read(st.max_upload_bytes + 1), st.max_upload_bytes, st.max_pixels)
        staged.append(
            {"key": safe_key(name), "sha256": img.sha256, "media_type": img.media_type, "data": img.data}
        )
    if folder:
        root = resolve_allowed(folder, st.allowed_folders, "folder")
        if not root.is_dir():
            raise not_allowed(folder, "folder")
        for p in sorted(root.iterdir()):
            if not p.is_file() or p.suffix.lower() not in {
                ".jpg",
                ".jpeg",
                ".png",
                ".webp",
                ".bmp",
                ".gif",
                ".tif",
                ".tiff",
            }:
                continue
            inside = resolve_allowed(str(p), st.allowed_folders, "folder")  # a symlink may point outside
            img = check_image(p.name, inside.read_bytes(), st.max_upload_bytes, st.max_pixels)
            staged.append(
                {
                    "key": safe_key(p.name),
                    "sha256": img.sha256,
                    "media_type": img.media_type,
                    "data": None,
                    "path": str(inside),
                }
            )
    return staged


@router.delete(
    "/campaigns/{campaign_id}/items/{item_id}",
    status_code=204,
    summary="Remove an item (only while no annotator has a task on it)",
)
def delete_item(
    campaign_id: int, item_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Response:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    repo.delete_item(s, c.id, item_id)
    return Response(status_code=204)


@router.post(
    "/campaigns/{campaign_id}/annotators",
    response_model=InviteOut,
    status_code=201,
    summary="Invite an annotator: plans their tasks and returns their personal link (once)",
)
def invite(
    campaign_id: int,
    body: AnnotatorIn,
    request: Request,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    item_ids = [i.id for i in repo.list_items(s, c.id)]
    if len(item_ids) < 2:
        raise InputError("items", f"campaign {c.id} needs at least 2 items before inviting annotators")
    seed = len(repo.list_annotators(s, c.id))
    pairs, note = planning.plan_pairs(item_ids, c.pair_design, c.pairs_per_annotator, seed=c.id)
    tasks = planning.plan_tasks(item_ids, c.dimensions, pairs, ratings=c.with_ratings, seed=seed)
    ann, token = repo.add_annotator(s, c, body.name, tasks)
    if note and note not in c.design_note:
        c.design_note = f"{c.design_note}; {note}".strip("; ")
        s.commit()
    return {
        "annotator_id": ann.id,
        "name": ann.name,
        "token": token,
        "link": f"/annotate#token={token}",
        "tasks": len(tasks),
    }


@router.get("/campaigns/{campaign_id}/progress", summary="Progress per annotator and live reliability")
def campaign_progress(campaign_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    prog = [ProgressRow(**p).model_dump() for p in repo.progress(s, c.id)]
    rows = repo.judgment_rows(s, c.id)
    return {
        "campaign": _campaign_out(c),
        "progress": prog,
        "judgments": len(rows),
        "reliability": analysis.reliability(pair_rows(rows), rating_rows(rows), list(c.dimensions)),
    }


def _download(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/campaigns/{campaign_id}/export/judgments.csv", summary="Pairwise judgments as CSV")
def export_judgments(
    campaign_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Response:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    return _download(
        _csv(PAIR_HEADER, pair_rows(repo.judgment_rows(s, c.id))), f"campaign{c.id}-judgments.csv"
    )


@router.get("/campaigns/{campaign_id}/export/ratings.csv", summary="Ratings as CSV")
def export_ratings(
    campaign_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Response:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    return _download(
        _csv(RATING_HEADER, rating_rows(repo.judgment_rows(s, c.id))), f"campaign{c.id}-ratings.csv"
    )


@router.get(
    "/campaigns/{campaign_id}/fused", summary="Fused scores (artjudge.preference) from the judgments so far"
)
def fused(campaign_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    rows = repo.judgment_rows(s, c.id)
    out = analysis.fused_scores(pair_rows(rows), rating_rows(rows), (float(c.scale_min), float(c.scale_max)))
    return {"campaign": c.id, **out}


@router.get("/campaigns/{campaign_id}/export/fused.csv", summary="Fused scores as CSV")
def export_fused(campaign_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Response:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    rows = repo.judgment_rows(s, c.id)
    out = analysis.fused_scores(pair_rows(rows), rating_rows(rows), (float(c.scale_min), float(c.scale_max)))
    scores = out["scores"]
    header = list(scores[0].keys()) if scores else ["dimension", "item", "fused"]
    return _download(_csv(header, [[r.get(h) for h in header] for r in scores]), f"campaign{c.id}-fused.csv")


def _item_bytes(request: Request, it: Item) -> Response:
    if it.data is not None:
        data = it.data
    else:
        assert it.path is not None
        p = resolve_allowed(it.path, request.app.state.settings.allowed_folders, f"item {it.id}")
        data = p.read_bytes()
    return Response(data, media_type=it.media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/campaigns/{campaign_id}/items/{item_id}/image", summary="An item's image (organiser)")
def organiser_item(
    request: Request,
    campaign_id: int,
    item_id: int,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Response:
    c = repo.campaign_for_organiser(s, campaign_id, org.id)
    it = s.get(Item, item_id)
    if it is None or it.campaign_id != c.id:
        raise repo.NotFound(f"item {item_id}: not found")
    return _item_bytes(request, it)


# ------------------------------------------------------------------ annotator


@router.get("/me", response_model=MeOut, summary="The calling annotator's campaign, tasks and progress")
def me(ann: Annotator = Depends(annotator), s: Session = Depends(db)) -> Any:
    c = s.get(Campaign, ann.campaign_id)
    assert c is not None
    tasks = repo.tasks_with_answers(s, ann.id)
    out = [
        {
            "id": t.id,
            "kind": t.kind,
            "dimension": t.dimension,
            "item_a": t.item_a_id,
            "item_b": t.item_b_id,
            "answered": j is not None,
            "winner": j.winner if j else None,
            "score": j.score if j else None,
        }
        for t, j in tasks
    ]
    return {
        "annotator": ann.name,
        "campaign": c.name,
        "instructions": c.instructions,
        "dimensions": c.dimensions,
        "scale_min": c.scale_min,
        "scale_max": c.scale_max,
        "done": sum(1 for _, j in tasks if j is not None),
        "total": len(tasks),
        "tasks": out,
    }


@router.get("/me/items/{item_id}/image", summary="An item of one of the caller's tasks")
def annotator_item(
    request: Request, item_id: int, ann: Annotator = Depends(annotator), s: Session = Depends(db)
) -> Response:
    return _item_bytes(request, repo.item_for_annotator(s, item_id, ann))


@router.post(
    "/me/judgments",
    response_model=JudgmentOut,
    summary="Answer a task (stored once per idempotency key)",
    responses={200: {"description": "a replay: already stored"}, 201: {"description": "stored"}},
)
def submit(
    body: JudgmentIn,
    response: Response,
    ann: Annotator = Depends(annotator),
    s: Session = Depends(db),
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Any:
    key = idempotency_key or body.idempotency_key
    if not key:
        raise InputError("idempotency_key", "give an Idempotency-Key header (or idempotency_key in the body)")
    j, created = repo.submit_judgment(
        s, ann, body.task_id, key, winner=body.winner, score=body.score, confidence=body.confidence
    )
    response.status_code = 201 if created else 200
    done, total = repo.annotator_progress(s, ann.id)
    return {"id": j.id, "task_id": j.task_id, "created": created, "done": done, "total": total}
