"""The grading page's API (``/v1/grade``): a teacher's rubric, works, grades, proposals, report, export.

Organiser-token protected like campaigns (the same ``organiser`` dependency): a rubric,
its works and grades are reachable only by their organiser, anything else answers 404.
A grade is committed before the 200 that acknowledges it; training never runs on a
request: requests poke :class:`~artjudge.serve.grade_worker.GradeWorker` and answer.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from artjudge.errors import InputError
from artjudge.serve import grade_report
from artjudge.serve.grade_worker import GradeWorker
from artjudge.serve.routes_campaign import _stage_items, db, organiser
from artjudge.serve.security import resolve_allowed
from artjudge.store import grading_repo as repo
from artjudge.store.grading import GradeRubric, GradeWork
from artjudge.store.models import Organiser

router = APIRouter(prefix="/v1/grade", tags=["grading"])
_worker_lock = threading.Lock()


class RubricIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    attributes: list[str] = Field(min_length=1, max_length=32)
    scale_min: int = Field(default=1, ge=-100, le=100)
    scale_max: int = Field(default=5, ge=-100, le=100)
    descriptors: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="optional words per level: {attribute: {level: text}}"
    )


class GradeIn(BaseModel):
    scores: dict[str, int] = Field(description="one integer on the rubric's scale per attribute")
    note: str = Field(default="", max_length=4000)


def worker(request: Request) -> GradeWorker:
    """The app's one grading worker, made on first use (apps that never grade never start it)."""
    st = request.app.state
    with _worker_lock:
        if getattr(st, "grade_worker", None) is None:
            settings = st.settings
            st.grade_worker = GradeWorker(
                st.sessions, lambda w: work_bytes(settings, w), settings.extra.get("grade_cache_dir")
            )
    gw: GradeWorker = st.grade_worker
    return gw


def work_bytes(settings: Any, w: GradeWork) -> bytes:
    """A work's bytes: stored upload, or its file re-checked against the allowed folders."""
    if w.data is not None:
        return w.data
    assert w.path is not None
    return resolve_allowed(w.path, settings.allowed_folders, f"work {w.id}").read_bytes()


def rubric_out(r: GradeRubric) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "attributes": list(r.attributes),
        "scale_min": r.scale_min,
        "scale_max": r.scale_max,
        "descriptors": dict(r.descriptors or {}),
    }


def _rubric(s: Session, rubric_id: int, org: Organiser) -> GradeRubric:
    return repo.rubric_for_organiser(s, rubric_id, org.id)


def _state(s: Session, rubric_id: int) -> tuple[str, int, dict[str, Any], str]:
    row = repo.model_state(s, rubric_id)
    if row is None:
        return "collecting", 0, {}, ""
    return row.status, row.n_graded, dict(row.state or {}), row.error


# ------------------------------------------------------------------ rubrics and works


@router.post("/rubrics", status_code=201, summary="Create a rubric (attributes, scale, words per level)")
def create_rubric(body: RubricIn, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    r = repo.create_rubric(
        s, org.id, body.name, body.attributes, body.scale_min, body.scale_max, body.descriptors
    )
    return rubric_out(r)


@router.get("/rubrics", summary="The caller's rubrics")
def list_rubrics(org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    return [rubric_out(r) for r in repo.list_rubrics(s, org.id)]


@router.get("/rubrics/{rubric_id}", summary="A rubric with its counts and the model's status and skill")
def get_rubric(
    request: Request, rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Any:
    r = _rubric(s, rubric_id, org)
    return {"rubric": rubric_out(r), **_status(request, s, r)}


def _status(
    request: Request, s: Session, r: GradeRubric, snap: tuple[str, int, dict[str, Any], str] | None = None
) -> dict[str, Any]:
    """Counts and the model's status; ``snap``: the state already read for this answer (one snapshot,
    so a training that lands meanwhile cannot make the status and the proposal disagree)."""
    status, n_trained, state, error = snap or _state(s, r.id)
    gw = getattr(request.app.state, "grade_worker", None)
    return {
        "works": len(repo.list_works(s, r.id)),
        "graded": repo.count_grades(s, r.id),
        "model": {
            "status": status,
            "trained_on": n_trained if status == "trained" else 0,
            "working": gw.phase.get(r.id) if gw is not None else None,
            "skill": state.get("skill"),
            "calibration": state.get("calibration"),
            "error": error or None,
        },
    }


@router.post("/rubrics/{rubric_id}/works", status_code=201, summary="Add works: uploads or an allowed folder")
async def add_works(
    request: Request,
    rubric_id: int,
    files: list[UploadFile] | None = File(None),
    folder: str | None = Form(None),
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    r = _rubric(s, rubric_id, org)
    staged = await run_in_threadpool(_stage_items, request.app.state.settings, files or [], folder)
    if not staged:
        raise InputError("works", "no images given (multipart 'files' or a 'folder' with images)")
    added = repo.add_works(s, r.id, staged)
    worker(request).poke(r.id)
    return [{"id": w.id, "key": w.key, "sha256": w.sha256} for w in added]


@router.get("/rubrics/{rubric_id}/works", summary="Every work with its grade or the model's prediction")
def list_works(rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    r = _rubric(s, rubric_id, org)
    _, _, state, _ = _state(s, r.id)
    grades = repo.grades_of(s, r.id)
    return [grade_report.work_row(r, w, grades.get(w.id), state) for w in repo.list_works(s, r.id)]


@router.get("/rubrics/{rubric_id}/works/{work_id}/image", summary="A work's image")
def work_image(
    request: Request,
    rubric_id: int,
    work_id: int,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Response:
    r = _rubric(s, rubric_id, org)
    w = repo.work_in_rubric(s, r.id, work_id)
    data = work_bytes(request.app.state.settings, w)
    return Response(data, media_type=w.media_type, headers={"Cache-Control": "private, max-age=3600"})


# ------------------------------------------------------------------ grading


@router.get("/rubrics/{rubric_id}/next", summary="The next work to grade, with the model's proposal")
def next_work(
    request: Request,
    rubric_id: int,
    after: int | None = None,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    """The first ungraded work in the planned order (``after``: skip that one, e.g. "later")."""
    r = _rubric(s, rubric_id, org)
    snap = _state(s, r.id)
    state = snap[2]
    grades = repo.grades_of(s, r.id)
    works = {w.id: w for w in repo.list_works(s, r.id)}
    planned = [w for w in state.get("order") or [] if w in works]
    rest = [w for w in works if w not in planned]  # added since the last plan: after the planned ones
    todo = [w for w in planned + rest if w not in grades]
    if after is not None and after in todo and len(todo) > 1:
        todo.remove(after)
        todo.append(after)
    base = {**_status(request, s, r, snap), "graded": len(grades), "works": len(works)}
    if not todo:
        return {**base, "work": None, "proposal": None}
    w = works[todo[0]]
    return {**base, "work": {"id": w.id, "key": w.key}, "proposal": grade_report.proposal(r, w.id, state)}


@router.get(
    "/rubrics/{rubric_id}/works/{work_id}/proposal", summary="The model's current proposal for one work"
)
def work_proposal(
    rubric_id: int, work_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Any:
    r = _rubric(s, rubric_id, org)
    repo.work_in_rubric(s, r.id, work_id)
    _, _, state, _ = _state(s, r.id)
    return {"work_id": work_id, "proposal": grade_report.proposal(r, work_id, state)}


@router.put(
    "/rubrics/{rubric_id}/works/{work_id}/grade", summary="Store the teacher's grade (committed first)"
)
def put_grade(
    request: Request,
    rubric_id: int,
    work_id: int,
    body: GradeIn,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    r = _rubric(s, rubric_id, org)
    _, _, state, _ = _state(s, r.id)
    prop = grade_report.proposal(r, work_id, state)
    offered = {a: p["proposed"] for a, p in (prop or {}).items() if p.get("skilled")}
    if not offered:
        source = "teacher"
    else:
        source = "accepted" if all(body.scores.get(a) == v for a, v in offered.items()) else "corrected"
    g, created = repo.put_grade(s, r, work_id, body.scores, body.note, source, prop)
    n = repo.count_grades(s, r.id)
    worker(request).poke(r.id)
    return {"work_id": work_id, "created": created, "source": g.source, "graded": n}


@router.get("/rubrics/{rubric_id}/model", summary="The model's status, skill per attribute and calibration")
def model_status(
    request: Request, rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Any:
    r = _rubric(s, rubric_id, org)
    return _status(request, s, r)


@router.post("/rubrics/{rubric_id}/train", status_code=202, summary="Retrain now (in the background)")
def train_now(
    request: Request, rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)
) -> Any:
    r = _rubric(s, rubric_id, org)
    worker(request).poke(r.id, force=True)
    return {"queued": True}


# ------------------------------------------------------------------ feedback, report, export


@router.get("/rubrics/{rubric_id}/works/{work_id}/feedback", summary="The rubric critique of one work")
async def feedback(
    request: Request,
    rubric_id: int,
    work_id: int,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    r = _rubric(s, rubric_id, org)
    w = repo.work_in_rubric(s, r.id, work_id)
    _, _, state, _ = _state(s, r.id)
    out = await run_in_threadpool(
        grade_report.feedback_for, request.app.state.settings, worker(request), s, r, w, state
    )
    repo.save_feedback(s, w, out)
    return out


@router.get(
    "/rubrics/{rubric_id}/report", summary="The class report: distributions, disagreements, exemplars"
)
def report(rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    r = _rubric(s, rubric_id, org)
    _, _, state, _ = _state(s, r.id)
    return grade_report.class_report(r, repo.list_works(s, r.id), repo.grades_of(s, r.id), state)


@router.get("/rubrics/{rubric_id}/export.json", summary="Grades (teacher's and model's, marked) and feedback")
def export_json(rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Any:
    r = _rubric(s, rubric_id, org)
    _, _, state, _ = _state(s, r.id)
    return grade_report.export(r, repo.list_works(s, r.id), repo.grades_of(s, r.id), state)


class ImportIn(BaseModel):
    works: list[dict[str, Any]] = Field(max_length=100_000, description="the 'works' of an export.json")


@router.post(
    "/rubrics/{rubric_id}/import", summary="Take the teacher's grades from an export.json, by work name"
)
def import_grades(
    request: Request,
    rubric_id: int,
    body: ImportIn,
    org: Organiser = Depends(organiser),
    s: Session = Depends(db),
) -> Any:
    """The export's round trip: every teacher's grade whose work name is in this rubric is stored
    (each committed as it goes); the model's predictions are never taken as grades."""
    r = _rubric(s, rubric_id, org)
    by_key = {w.key: w for w in repo.list_works(s, r.id)}
    done, unknown = 0, []
    for row in body.works:
        g = row.get("grade")
        if not isinstance(g, dict):
            continue
        w = by_key.get(str(row.get("key", "")))
        if w is None:
            unknown.append(str(row.get("key", ""))[:200])
            continue
        scores = g.get("scores")
        if not isinstance(scores, dict):
            raise InputError(f"works.{w.key}.grade.scores", "expected an object of attribute grades")
        source = g.get("source") if g.get("source") in repo.SOURCES else "teacher"
        repo.put_grade(s, r, w.id, scores, str(g.get("note") or ""), str(source))
        done += 1
    if done:
        worker(request).poke(r.id)
    return {"imported": done, "unknown_works": unknown}


@router.get("/rubrics/{rubric_id}/export.csv", summary="The same as CSV (formula-escaped)")
def export_csv(rubric_id: int, org: Organiser = Depends(organiser), s: Session = Depends(db)) -> Response:
    r = _rubric(s, rubric_id, org)
    _, _, state, _ = _state(s, r.id)
    data = grade_report.export(r, repo.list_works(s, r.id), repo.grades_of(s, r.id), state)
    return Response(
        grade_report.export_csv(r, data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="rubric{r.id}-grades.csv"'},
    )
