"""Feedback on one work: the rubric critique grounded in this teacher's grades (critique/rubric.py).

The rubric is the one a trained rubric model carries in ``rubric.json`` (version 2), built
here with the same functions the training writer uses (``artjudge.train.rubric_data``:
explainers that survive the held-out-fold and Benjamini-Hochberg rule, the calibrated
similarity floor for exemplars) and read with the critique's own reader
(``Rubric.from_dict``), so the page's feedback follows exactly the rules of ``artjudge
assess`` on an exported model. Only attributes with measured skill are scored in the
record: the critique never advises on the others and its note says why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from artjudge.features.extract import FeatureBatch
from artjudge.serve.grade_model import Scale, skilled
from artjudge.store.grading import Grade, GradeRubric, GradeWork

if TYPE_CHECKING:
    from artjudge.critique.rubric import Rubric


def _rubric_book(
    rubric: GradeRubric,
    state: dict[str, Any],
    heads: dict[str, Any],
    works: list[GradeWork],
    grades: dict[int, Grade],
    feats: FeatureBatch,
    evidence: dict[int, dict[str, float]],
    files: dict[int, str],
) -> tuple[Rubric, np.ndarray, np.ndarray]:
    """The teacher's rubric as the critique reads a rubric model folder's, built from the store's
    rows (targets with their skill, robust explainers, exemplars), and the features' standardisation."""
    from artjudge.critique.rubric import Rubric
    from artjudge.train.cv import cv_folds, standardise
    from artjudge.train.rubric_data import RubricTarget, robust_explainers, similarity_floor

    scale = Scale(rubric.scale_min, rubric.scale_max)
    rows = [i for i, w in enumerate(works) if w.id in grades and w.id in evidence]
    ids = [works[i].id for i in rows]
    scores = {a: scale.to100(np.array([grades[w].scores[a] for w in ids], dtype=np.float64)) for a in heads}
    evs = [evidence[w] for w in ids]
    folds = cv_folds(len(ids), None, k=5, seed=0)
    explain, tested = robust_explainers(evs, scores, folds)
    x, mean, std = standardise(feats.take(np.array(rows)))
    oof = state.get("oof") or {}
    data = {
        "version": 2,
        "attributes": {
            a: RubricTarget(
                (float(rubric.scale_min), float(rubric.scale_max)),
                int(h["n"]),
                float(h["cv_srcc"]),
                (float(h["ci"][0]), float(h["ci"][1])),
                str((state.get("families") or {}).get(a, "ridge")),
                explain[a],
            ).to_dict()
            for a, h in heads.items()
        },
        "exemplars": [
            {
                "id": works[i].key,
                "path": files.get(works[i].id, ""),
                "scores": {a: float(scores[a][r]) for a in heads},
                "predicted": {
                    a: float(scale.to100(oof[str(works[i].id)][a])) for a in heads if str(works[i].id) in oof
                },
                "evidence": evs[r],
            }
            for r, i in enumerate(rows)
        ],
        "pairs_tested": tested,
        "similarity_floor": {"value": similarity_floor(x)},
    }
    book = Rubric.from_dict(data, Path(rubric.name), skill={a: skilled(state, a) for a in heads})
    book.features = x.astype(np.float32)
    return book, mean, std


def rubric_feedback(
    rubric: GradeRubric,
    work: GradeWork,
    image: Any,
    state: dict[str, Any],
    works: list[GradeWork],
    grades: dict[int, Grade],
    feats: FeatureBatch,
    evidence: dict[int, dict[str, float]],
    files: dict[int, str],
) -> dict[str, Any]:
    """The critique of ``work`` as JSON: paragraphs per attribute, the overall lines and notes.

    ``feats``: the frozen features of ``works`` (row order); ``evidence``: measured evidence
    per graded work id (the worker measures it from the copy it encoded); ``files``: each graded
    work's image file, where the critique looks for exemplars.
    """
    from artjudge.critique.rubric import compose_rubric
    from artjudge.features.evidence import measure

    pred = (state.get("predictions") or {}).get(str(work.id))
    heads = (state.get("skill") or {}).get("heads") or {}
    if pred is None or not heads:
        return {"work_id": work.id, "attributes": {}, "overall": "", "notes": [NOT_YET]}
    scale = Scale(rubric.scale_min, rubric.scale_max)
    book, mean, std = _rubric_book(rubric, state, heads, works, grades, feats, evidence, files)
    row = next(i for i, w in enumerate(works) if w.id == work.id)
    raw = np.concatenate([feats.pooled[row], feats.handcrafted[row]])
    this = ((raw - mean) / std).astype(np.float32)
    record = {
        "sha256": work.sha256,
        "attributes": {
            a: {"score": p[3], "std": p[4], "interval": [float(scale.to100(p[1])), float(scale.to100(p[2]))]}
            for a, p in pred.items()
            if skilled(state, a)
        },
    }
    if not record["attributes"]:
        return {"work_id": work.id, "attributes": {}, "overall": "", "notes": [NO_SKILL]}
    crit = compose_rubric(record, measure(image), book, this)
    return {
        "work_id": work.id,
        "attributes": {a: crit.paragraph(s) for a, s in crit.attributes.items()},
        # the generic verdict line (about the overall score a teacher's rubric does not have) is left out
        "overall": crit.paragraph(crit.overall[1:]),
        "notes": list(crit.notes),
    }


NOT_YET = (
    "No feedback yet: the model trains once enough works are graded, and speaks only where it has skill."
)
NO_SKILL = (
    "No advice yet: on no attribute has the model measured skill (its cross-validated agreement "
    "with your grades is not clearly above chance)."
)
