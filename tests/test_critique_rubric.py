"""Rubric-led critique on a rubric model folder the test builds itself.

A tiny head is trained with the real ``artjudge train`` on generated images graded on two
attributes (``colour`` follows saturation, ``tone`` follows brightness); the test then
writes ``rubric.json`` + ``exemplars.npy`` in the shape the rubric trainer writes, with the
explainers computed from the graded works' measured evidence.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from artjudge.errors import ArtjudgeError

ATTRS = ("colour", "tone")
EXPLAIN_KEYS = ("saturation_mean", "colourfulness", "brightness_mean", "contrast_rms")


def _work(sat: float, bright: float, seed: int, size: int = 64) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    grey = np.full(3, bright * 255)
    hue = rng.uniform(0, 255, 3)
    arr = grey * (1 - sat) + sat * hue * bright + np.zeros((size, size, 3))
    arr[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.04] = rng.uniform(0, 255, 3)
    arr += rng.normal(0, 4, arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.fixture(scope="module")
def rubric_model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    import artjudge
    from artjudge.cli import main as cli_main
    from artjudge.features.evidence import measure

    root = tmp_path_factory.mktemp("rubric")
    imgs = root / "imgs"
    imgs.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(14):
        sat, bright = rng.uniform(0.05, 1.0), rng.uniform(0.25, 0.95)
        _work(sat, bright, i).save(imgs / f"w{i:02d}.png")
        rows.append(
            {
                "file": f"w{i:02d}.png",
                "overall": round(1 + 2 * sat + 2 * bright, 2),
                "colour": round(1 + 4 * sat, 2),
                "tone": round(1 + 4 * bright, 2),
                "part": "train" if i < 10 else ("val" if i < 12 else "test"),
            }
        )
    with open(root / "grades.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    model = root / "M"
    assert (
        cli_main(
            [
                "train",
                "--dataset",
                "csv",
                "--labels",
                str(root / "grades.csv"),
                "--images",
                str(imgs),
                "--score-col",
                "overall",
                "--scale",
                "1,5",
                "--image-col",
                "file",
                "--attr-cols",
                "colour,tone",
                "--split-col",
                "part",
                "--out",
                str(model),
                "--set",
                'head.targets=["overall","colour","tone"]',
                "--set",
                "epochs=1",
                "--set",
                "min_labels=5",
                "--set",
                'small_families=["ridge"]',
                "--set",
                "cv_folds=3",
            ]
        )
        == 0
    )
    paths = [imgs / r["file"] for r in rows]
    plain = artjudge.load(str(model))
    np.save(model / "exemplars.npy", plain.embed([str(p) for p in paths]).astype(np.float32))
    evs = [measure(Image.open(p)) for p in paths]
    attributes = {}
    for a in ATTRS:
        y = [(float(r[a]) - 1) * 25 for r in rows]
        ex = [
            {
                "evidence": k,
                "spearman": round(float(spearmanr([e[k].value for e in evs], y).statistic), 4),
                "n": len(y),
            }
            for k in EXPLAIN_KEYS
        ]
        attributes[a] = {
            "scale": [1, 5],
            "n_labelled": len(y),
            "cv_srcc": 0.62,
            "cv_srcc_ci": [0.41, 0.79],
            "head": "ridge",
            "explainers": sorted(ex, key=lambda x: -abs(x["spearman"]))[:3],
        }
    exemplars = [
        {
            "id": r["file"][:-4],
            "path": f"../imgs/{r['file']}",
            "scores": {a: (float(r[a]) - 1) * 25 for a in ATTRS},
        }
        for r in rows
    ]
    rubric = {
        "version": 1,
        "attributes": attributes,
        "exemplars": exemplars,
        "exemplar_features": "exemplars.npy",
    }
    (model / "rubric.json").write_text(json.dumps(rubric), encoding="utf-8")
    probe = root / "probe.png"
    _work(0.08, 0.3, 99).save(probe)  # dull and dark: weak on both attributes
    return {"root": root, "model": model, "rubric": rubric, "probe": probe}


def _grounded(crit: dict[str, Any], evidence: dict[str, Any]) -> None:
    sents = list(crit["overall"]) + [s for v in crit["attributes"].values() for s in v]
    sents += [s for v in crit["levels"].values() for s in v] + list(crit["limitations"])
    assert sents
    for s in sents:
        assert s["evidence_keys"], s["text"]
        assert set(s["evidence_keys"]) <= set(evidence), s
        assert "{" not in s["text"]


def test_rubric_critique_leads_with_the_users_rubric(rubric_model: dict[str, Any]) -> None:
    import artjudge
    from artjudge.critique.rubric import RubricCritic, cosine_similarity, standing

    scorer = artjudge.load(str(rubric_model["model"]))
    assert isinstance(scorer.critic, RubricCritic)  # type: ignore[attr-defined]
    rec = scorer.assess(str(rubric_model["probe"]), critique=True)
    assert rec.critique is not None and rec.critique.critic == "rubric" and rec.critique.scored_attributes
    crit = rec.to_dict()["critique"]
    assert list(crit["attributes"]) == list(ATTRS)
    _grounded(crit, rec.to_dict()["evidence"])
    exemplars = rubric_model["rubric"]["exemplars"]
    for a in ATTRS:
        lead = crit["attributes"][a][0]["text"]
        score, std = rec.attributes[a].score, rec.attributes[a].std
        pct = standing(score, [e["scores"][a] for e in exemplars])
        assert f"{score:.0f}/100" in lead and f"± {std:.0f}" in lead, lead
        assert f"{round(pct)}" in lead and "14" in lead, lead  # standing among the 14 graded works
        text = " ".join(s["text"] for s in crit["attributes"][a])
        assert "ρ = 0.62 [0.41, 0.79]" in text
        top = rubric_model["rubric"]["attributes"][a]["explainers"][0]
        assert f"ρ = {top['spearman']:+.2f}" in text  # the stored explainer, with its correlation
    # the weakest attribute points at the most similar works graded high on it
    weakest = min(
        ATTRS, key=lambda a: standing(rec.attributes[a].score, [e["scores"][a] for e in exemplars]) or 0
    )
    feats = np.load(rubric_model["model"] / "exemplars.npy")
    sims = cosine_similarity(scorer.embed([str(rubric_model["probe"])])[0], feats)
    scores = np.array([e["scores"][weakest] for e in exemplars])
    high = [
        i
        for i in range(len(exemplars))
        if scores[i] >= np.percentile(scores, 75) and scores[i] > rec.attributes[weakest].score
    ]
    expected = sorted(high, key=lambda i: -sims[i])[:3]
    para = crit["attributes"][weakest]
    named = next(s["text"] for s in para if "graded high" in s["text"])
    for i in expected:
        assert exemplars[i]["id"] in named and f"similarity {sims[i]:.2f}" in named, named
    differs = [
        s["text"] for s in para if s["text"].startswith(("What measurably differs", "Against those works"))
    ]
    assert differs and " here against " in differs[0], para


def test_cli_critique_and_assess_use_the_rubric(
    rubric_model: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from artjudge.cli import main as cli_main

    model, probe = str(rubric_model["model"]), str(rubric_model["probe"])
    out = tmp_path / "c.json"
    assert cli_main(["critique", probe, "--model", model, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Colour" in printed and "works you graded" in printed
    data = json.loads(out.read_text())
    assert list(data["critique"]["attributes"]) == list(ATTRS) and data["critique"]["critic"] == "rubric"
    res = tmp_path / "a.jsonl"
    assert cli_main(["assess", probe, "--model", model, "--critique", "--output", str(res), "-q"]) == 0
    rec = json.loads(res.read_text().splitlines()[0])
    assert list(rec["critique"]["attributes"]) == list(ATTRS)
    # the same model without rubric.json keeps the evidence critique
    bare = tmp_path / "bare"
    shutil.copytree(model, bare)
    (bare / "rubric.json").unlink()
    assert cli_main(["critique", probe, "--model", str(bare), "--json", str(out)]) == 0
    assert "composition" in json.loads(out.read_text())["critique"]["attributes"]


def test_bad_rubric_files_are_one_line_errors(rubric_model: dict[str, Any], tmp_path: Path) -> None:
    from artjudge.critique.rubric import Rubric

    good = rubric_model["rubric"]
    cases = {
        "version": {**good, "version": 7},
        "attributes": {**good, "attributes": {}},
        "shape": {**good, "exemplars": good["exemplars"][:3]},
        "scale": {**good, "attributes": {"colour": {"cv_srcc": 0.5}}},
    }
    for name, data in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(rubric_model["model"] / "exemplars.npy", folder / "exemplars.npy")
        (folder / "rubric.json").write_text(json.dumps(data))
        with pytest.raises(ArtjudgeError) as err:
            Rubric.load(folder)
        msg = str(err.value)
        assert "\n" not in msg and str(folder) in msg, msg
    with pytest.raises(ArtjudgeError, match="no rubric file"):
        Rubric.load(tmp_path)
