"""What the grading page shows, from the store's rows and the learner's state: plain functions.

Proposals, per-work rows, the class report and the export share one rule: a model value
for an attribute without measured skill is never given as a grade (it is ``null`` with
``"skilled": false``), and every model value is marked as the model's, with its interval.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from artjudge.serve.exports import to_csv
from artjudge.serve.grade_model import skilled
from artjudge.store.grading import Grade, GradeRubric, GradeWork

EXEMPLARS = 3


def proposal(r: GradeRubric, work_id: int, state: dict[str, Any]) -> dict[str, Any] | None:
    """The model's proposal for one work, per attribute (None before the first training)."""
    pred = (state.get("predictions") or {}).get(str(work_id))
    if not pred:
        return None
    heads = (state.get("skill") or {}).get("heads") or {}
    out: dict[str, Any] = {}
    for a in r.attributes:
        h = heads.get(a) or {}
        base = {"skilled": skilled(state, a), "cv_srcc": h.get("cv_srcc"), "ci": h.get("ci")}
        if a not in pred or not base["skilled"]:
            out[a] = {**base, "grade": None, "proposed": None, "interval": None}
            continue
        g, lo, hi = pred[a][:3]
        proposed = int(min(r.scale_max, max(r.scale_min, math.floor(g + 0.5))))
        out[a] = {**base, "grade": g, "proposed": proposed, "interval": [lo, hi], "level": state.get("level")}
    return out


def work_row(r: GradeRubric, w: GradeWork, g: Grade | None, state: dict[str, Any]) -> dict[str, Any]:
    """One work as the works table and the export show it."""
    row: dict[str, Any] = {"id": w.id, "key": w.key, "sha256": w.sha256, "grade": None, "prediction": None}
    if g is not None:
        row["grade"] = {"scores": dict(g.scores), "source": g.source, "note": g.note}
    else:
        p = proposal(r, w.id, state)
        if p and any(v["skilled"] for v in p.values()):
            row["prediction"] = {
                a: {"grade": v["grade"], "interval": v["interval"]} for a, v in p.items() if v["skilled"]
            }
    return row


def feedback_for(
    settings: Any, worker: Any, s: Any, r: GradeRubric, w: GradeWork, state: dict[str, Any]
) -> dict[str, Any]:
    """The rubric critique of ``w`` (runs in a worker thread: decoding and measuring take a moment)."""
    from artjudge.io import load_image
    from artjudge.serve.grade_feedback import rubric_feedback
    from artjudge.serve.routes_grade import work_bytes
    from artjudge.store import grading_repo as repo

    works = repo.list_works(s, r.id)
    grades = repo.grades_of(s, r.id)
    feats = worker.features(works)
    evidence = {x.id: ev for x in works if x.id in grades and (ev := worker.evidence_of(x)) is not None}
    image = load_image(work_bytes(settings, w), name=w.key).image
    files = exemplar_files(settings, worker, r, [x for x in works if x.id in grades])
    return rubric_feedback(r, w, image, state, works, grades, feats, evidence, files)


def exemplar_files(settings: Any, worker: Any, r: GradeRubric, graded: list[GradeWork]) -> dict[int, str]:
    """Where the critique finds each graded work's image: a folder work's own file; an uploaded
    work's bytes written once, under its name, into ``<feature cache>/grade-works/rubric<id>/``."""
    from pathlib import Path

    from artjudge.features.cache import default_cache_dir
    from artjudge.io.files import atomic_write_bytes
    from artjudge.serve.routes_grade import work_bytes

    root = Path(worker.cache_dir or default_cache_dir()) / "grade-works" / f"rubric{r.id}"
    out: dict[int, str] = {}
    for w in graded:
        if w.data is None:
            out[w.id] = str(Path(w.path or ""))
            continue
        target = root / w.key
        if not target.is_file():
            root.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, work_bytes(settings, w))
        out[w.id] = str(target)
    return out


def _levels(r: GradeRubric) -> list[int]:
    return list(range(r.scale_min, r.scale_max + 1))


def class_report(
    r: GradeRubric, works: list[GradeWork], grades: dict[int, Grade], state: dict[str, Any]
) -> dict[str, Any]:
    """Per attribute: the grade distribution (teacher's; model's for ungraded works), exemplars;
    the works where the model and the teacher disagree most; how the proposals fared."""
    keys = {w.id: w.key for w in works}
    levels = _levels(r)
    dist: dict[str, Any] = {}
    exemplars: dict[str, list[dict[str, Any]]] = {}
    oof = state.get("oof") or {}
    for a in r.attributes:
        teacher = Counter(g.scores[a] for g in grades.values())
        model: Counter[int] = Counter()
        if skilled(state, a):
            for w in works:
                p = proposal(r, w.id, state) if w.id not in grades else None
                if p and p[a]["proposed"] is not None:
                    model[p[a]["proposed"]] += 1
        dist[a] = {
            "levels": levels,
            "teacher": [teacher[v] for v in levels],
            "model": [model[v] for v in levels],
        }
        ranked = sorted(
            grades.values(), key=lambda g: (-g.scores[a], -(oof.get(str(g.work_id), {}).get(a) or 0.0))
        )
        exemplars[a] = [
            {"work_id": g.work_id, "key": keys[g.work_id], "grade": g.scores[a]} for g in ranked[:EXEMPLARS]
        ]
    disagree = [
        {**d, "key": keys.get(d["work_id"], "")}
        for d in state.get("disagreements") or []
        if d["work_id"] in grades and d["work_id"] in keys
    ]
    return {
        "rubric": {
            "id": r.id,
            "name": r.name,
            "attributes": list(r.attributes),
            "scale": [r.scale_min, r.scale_max],
        },
        "works": len(works),
        "graded": len(grades),
        "sources": dict(Counter(g.source for g in grades.values())),
        "distributions": dist,
        "exemplars": exemplars,
        "disagreements": disagree,
        "proposals": proposals_so_far(r, grades),
        "skill": state.get("skill"),
        "calibration": state.get("calibration"),
    }


def proposals_so_far(r: GradeRubric, grades: dict[int, Grade]) -> dict[str, Any]:
    """How the proposals the teacher saw compare with the grades then given: a truly held-out check."""
    out: dict[str, Any] = {}
    for a in r.attributes:
        rows = [
            (g.scores[a], g.proposal[a])
            for g in grades.values()
            if g.proposal and (g.proposal.get(a) or {}).get("proposed") is not None
        ]
        if not rows:
            continue
        exact = sum(1 for y, p in rows if y == p["proposed"])
        inside = sum(1 for y, p in rows if p["interval"][0] <= y <= p["interval"][1])
        out[a] = {
            "n": len(rows),
            "exact": exact,
            "within_interval": inside,
            "coverage": round(inside / len(rows), 3),
        }
    return out


def export(
    r: GradeRubric, works: list[GradeWork], grades: dict[int, Grade], state: dict[str, Any]
) -> dict[str, Any]:
    """Grades (teacher's and model's, marked), notes and generated feedback for every work."""
    rows = []
    for w in works:
        row = work_row(r, w, grades.get(w.id), state)
        fb = w.feedback or None
        row["feedback"] = _feedback_text(fb) if fb else None
        rows.append(row)
    return {
        "rubric": {
            "id": r.id,
            "name": r.name,
            "attributes": list(r.attributes),
            "scale": [r.scale_min, r.scale_max],
            "descriptors": dict(r.descriptors or {}),
        },
        "level": state.get("level"),
        "skill": state.get("skill"),
        "calibration": state.get("calibration"),
        "works": rows,
    }


def _feedback_text(fb: dict[str, Any]) -> str:
    parts = [fb.get("overall") or ""]
    parts += [f"{a}: {t}" for a, t in (fb.get("attributes") or {}).items()]
    parts += list(fb.get("notes") or [])
    return "\n".join(p for p in parts if p)


def export_csv(r: GradeRubric, data: dict[str, Any]) -> str:
    """One row per work: ``source`` says whose grade it is (teacher, accepted, corrected, model)."""
    header = ["work_id", "key", "sha256", "source"]
    for a in r.attributes:
        header += [a, f"{a}_lo", f"{a}_hi"]
    header += ["note", "feedback"]
    rows = []
    for w in data["works"]:
        g, p = w["grade"], w["prediction"]
        row: list[Any] = [w["id"], w["key"], w["sha256"]]
        if g is not None:
            row.append(g["source"])
            for a in r.attributes:
                row += [g["scores"][a], None, None]
            row.append(g["note"])
        else:
            row.append("model" if p else "")
            for a in r.attributes:
                v = (p or {}).get(a)
                row += [v["grade"], v["interval"][0], v["interval"][1]] if v else [None, None, None]
            row.append(None)
        row.append(w["feedback"])
        rows.append(row)
    return to_csv(header, rows)
