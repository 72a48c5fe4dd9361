"""Rubric-led critique on a rubric model folder the test builds itself.

A tiny head is trained with the real ``artjudge train`` on generated images graded on two
attributes (``colour`` follows saturation, ``tone`` follows brightness); the test then
writes ``rubric.json`` + ``exemplars.npy`` in the shape the rubric trainer writes, with the
explainers computed from the graded works' measured evidence.
"""

from __future__ import annotations

import csv
import json
import re
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
    # 12 graded works cannot establish skill; the critique's tests set it in the card themselves
    _write_model(model, None, {"overall": True, **{a: True for a in ATTRS}})
    plain = artjudge.load(str(model))
    feats = plain.embed([str(p) for p in paths]).astype(np.float32)
    np.save(model / "exemplars.npy", feats)
    predicted = {a: [plain.assess(str(p)).attributes[a].score for p in paths] for a in ATTRS}
    evs = [measure(Image.open(p)) for p in paths]
    attributes = {}
    for a in ATTRS:
        y = [(float(r[a]) - 1) * 25 for r in rows]
        ex = [
            {
                "evidence": k,
                "spearman": round(float(spearmanr([e[k].value for e in evs], y).statistic), 4),
                "n": len(y),
                "q": 0.001,
                "folds_held": 3,
                "folds": 3,
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
            "path": f"imgs/{r['file']}",  # relative to the grades file's folder, as training stores it
            "scores": {a: (float(r[a]) - 1) * 25 for a in ATTRS},
            "predicted": {a: round(predicted[a][i], 3) for a in ATTRS},
            "evidence": {k: evs[i][k].value for k in EXPLAIN_KEYS},
        }
        for i, r in enumerate(rows)
    ]
    rubric = {
        "version": 2,
        "attributes": attributes,
        "exemplars": exemplars,
        "exemplar_features": "exemplars.npy",
        "similarity_floor": {"value": -1.0, "quantile": 0.0},  # every graded work may be an exemplar
        "grades_root": {"absolute": str(root), "from_model": ".."},
    }
    _write_model(model, rubric, {"overall": True, **{a: True for a in ATTRS}})
    probe = root / "probe.png"
    _work(0.08, 0.3, 99).save(probe)  # dull and dark: weak on both attributes
    return {"root": root, "model": model, "rubric": rubric, "probe": probe, "feats": feats}


def _write_model(model: Path, rubric: dict[str, Any] | None, skilled: dict[str, bool]) -> None:
    """rubric.json (when given) and the card's skill block (the shared card format), then the seal."""
    from artjudge.models.weights import seal_folder

    if rubric is not None:
        (model / "rubric.json").write_text(json.dumps(rubric), encoding="utf-8")
    card = json.loads((model / "card.json").read_text(encoding="utf-8"))
    card["skill"] = {
        "rule": "set by the test",
        "heads": {
            a: {"cv_srcc": 0.62, "ci": [0.41, 0.79], "skilled": ok, "n": 14} for a, ok in skilled.items()
        },
    }
    (model / "card.json").write_text(json.dumps(card), encoding="utf-8")
    seal_folder(model)


def _grounded(crit: dict[str, Any], evidence: dict[str, Any]) -> None:
    sents = list(crit["overall"]) + [s for v in crit["attributes"].values() for s in v]
    sents += [s for v in crit["levels"].values() for s in v] + list(crit["limitations"])
    assert sents
    for s in sents:
        assert s["evidence_keys"] or "firmly enough to cite" in s["text"], s["text"]
        assert set(s["evidence_keys"]) <= set(evidence), s
        assert "{" not in s["text"]


def test_rubric_critique_leads_with_the_users_rubric(rubric_model: dict[str, Any]) -> None:
    import artjudge
    from artjudge.critique.rubric import RubricCritic, cosine_similarity

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
        score = rec.attributes[a].score
        above = sum(e["predicted"][a] < score for e in exemplars)  # standing among predicted scores
        standing = (
            "above all 14" if above == 14 else ("below all 14" if above == 0 else f"above {above} of 14")
        )
        assert f"{score:.0f}/100" in lead and f"about {1 + 4 * score / 100:.1f} of 5" in lead, lead
        assert standing in lead and "percentile" not in lead and "±" not in lead, lead
        text = " ".join(s["text"] for s in crit["attributes"][a])
        assert "ρ = 0.62 [0.41, 0.79]" in text
        top = rubric_model["rubric"]["attributes"][a]["explainers"][0]
        # the stored explainer, with its correlation and the folds it held in
        assert f"Spearman {top['spearman']:+.2f} over 14 works, held in 3 of 3 folds" in text, text
    # the weakest attribute points at the most similar works graded high on it
    weakest = min(ATTRS, key=lambda a: sum(e["predicted"][a] < rec.attributes[a].score for e in exemplars))
    sims = cosine_similarity(scorer.embed([str(rubric_model["probe"])])[0], rubric_model["feats"])
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
        grade = 1 + 4 * scores[i] / 100
        shown = f"{grade:.0f} of 5" if abs(grade - round(grade)) < 0.05 else f"{grade:.1f} of 5"
        assert exemplars[i]["id"] in named and f"graded {shown}, similarity {sims[i]:.2f}" in named, named
        assert str(rubric_model["root"] / exemplars[i]["path"]) in named  # resolved, not as stored
    assert "/100" not in named
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
    out_bare = tmp_path / "c_bare.json"
    assert cli_main(["critique", probe, "--model", str(bare), "--json", str(out_bare)]) == 0
    assert "composition" in json.loads(out_bare.read_text())["critique"]["attributes"]


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


def _compose(rubric_model: dict[str, Any], folder: Path, record: dict[str, Any]) -> dict[str, Any]:
    """The rubric critique of the probe for a hand-made record, with the model's real features."""
    import artjudge
    from artjudge.critique.rubric import Rubric, compose_rubric
    from artjudge.features.evidence import measure

    probe = rubric_model["probe"]
    feats = artjudge.load(str(rubric_model["model"])).embed([str(probe)])[0]
    crit = compose_rubric(record, measure(Image.open(probe)), Rubric.load(folder), feats)
    return {"crit": crit, "texts": [s.text for s in crit.sentences()], "notes": crit.notes}


def _record(colour: float, tone: float, overall: float | None = 48.0) -> dict[str, Any]:
    rec: dict[str, Any] = {"attributes": {"colour": {"score": colour}, "tone": {"score": tone}}}
    if overall is not None:
        rec["overall"] = {"score": overall, "std": 17.0}
    return rec


def test_standings_come_from_predicted_scores_and_are_said_honestly(rubric_model: dict[str, Any]) -> None:
    pred = [e["predicted"]["colour"] for e in rubric_model["rubric"]["exemplars"]]
    top = _compose(rubric_model, rubric_model["model"], _record(max(pred) + 5, 50.0))
    lead = top["crit"].attributes["colour"][0].text
    assert "above all 14" in lead and "100th" not in lead and "percentile" not in lead, lead
    low = _compose(rubric_model, rubric_model["model"], _record(min(pred) - 5, 50.0))
    assert "below all 14" in low["crit"].attributes["colour"][0].text
    # two different scores between the same integer grades no longer tie: counts follow the predictions
    mid = sorted(pred)[6:8]
    a = _compose(rubric_model, rubric_model["model"], _record(mid[0] - 1e-3, 50.0))
    b = _compose(rubric_model, rubric_model["model"], _record(mid[1] + 1e-3, 50.0))
    assert "above 6 of 14" in a["crit"].attributes["colour"][0].text
    assert "above 8 of 14" in b["crit"].attributes["colour"][0].text
    # below the middle in both attributes: never "stands highest in" a lower-half attribute
    both_low = _compose(rubric_model, rubric_model["model"], _record(min(pred) - 5, -50.0))
    summary = both_low["crit"].overall[-1].text
    assert "lower half in every attribute" in summary and "highest" not in summary, summary


def test_overall_is_not_reported_unscored_under_a_score(rubric_model: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "M"
    shutil.copytree(rubric_model["model"], folder)
    data = json.loads(json.dumps(rubric_model["rubric"]))
    data["attributes"]["overall"] = dict(data["attributes"]["colour"])
    _write_model(folder, data, {"overall": True, "colour": True, "tone": True})
    got = _compose(rubric_model, folder, _record(40.0, 60.0, overall=48.0))
    assert any("48/100" in t for t in got["texts"])
    assert not any("Not scored by this record" in n and "overall" in n for n in got["notes"]), got["notes"]
    unscored = _compose(rubric_model, folder, _record(40.0, 60.0, overall=None))
    assert any(n == "Not scored by this record: overall." for n in unscored["notes"]), unscored["notes"]


def test_unskilled_or_unknown_attributes_get_no_advice(rubric_model: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "M"
    shutil.copytree(rubric_model["model"], folder)
    _write_model(folder, rubric_model["rubric"], {"overall": True, "colour": False, "tone": True})
    got = _compose(rubric_model, folder, _record(10.0, 10.0))
    colour = [s.text for s in got["crit"].attributes["colour"]]
    assert any("not a grade to rely on" in t for t in colour), colour
    assert not any("pattern in your grades" in t or "graded high" in t for t in colour), colour
    assert all("colour" not in s.text for s in got["crit"].overall[1:]), "summary must skip unskilled"
    # a card without a skill block: unknown skill, no advice on any attribute
    card = json.loads((folder / "card.json").read_text())
    del card["skill"]
    (folder / "card.json").write_text(json.dumps(card))
    from artjudge.models.weights import seal_folder

    seal_folder(folder)
    unknown = _compose(rubric_model, folder, _record(10.0, 10.0))
    for a in ATTRS:
        texts = [s.text for s in unknown["crit"].attributes[a]]
        assert any("does not record whether it learned" in t for t in texts), texts
        assert not any("pattern in your grades" in t or "graded high" in t for t in texts), texts


def test_exemplars_need_the_calibrated_similarity_and_missing_ones_are_reported(
    rubric_model: dict[str, Any], tmp_path: Path
) -> None:
    from artjudge.train.rubric_data import similarity_floor

    # the whole class folder moved elsewhere: paths resolve through the model folder
    moved = tmp_path / "class"
    shutil.copytree(rubric_model["root"] / "imgs", moved / "imgs")
    shutil.copytree(rubric_model["model"], moved / "M")
    data = json.loads(json.dumps(rubric_model["rubric"]))
    data["grades_root"] = {"absolute": "/nonexistent/grades", "from_model": ".."}
    _write_model(moved / "M", data, {"overall": True, **{a: True for a in ATTRS}})
    got = _compose(rubric_model, moved / "M", _record(5.0, 5.0))
    named = [t for t in got["texts"] if "graded high" in t]
    assert named and str(moved / "imgs") in named[0] and "not found" not in named[0], named
    # an exemplar image that is gone is named as missing, never silently dropped
    for p in (moved / "imgs").iterdir():
        p.unlink()
    gone = _compose(rubric_model, moved / "M", _record(5.0, 5.0))
    assert any("image not found at" in t for t in gone["texts"]), gone["texts"]
    assert any(n.startswith("Exemplar images not found") for n in gone["notes"]), gone["notes"]
    # with the floor calibrated on the graded works, every exemplar shown clears it
    floor = similarity_floor(rubric_model["feats"])
    data["similarity_floor"] = {"value": floor, "quantile": 0.95}
    _write_model(moved / "M", data, {"overall": True, **{a: True for a in ATTRS}})
    calibrated = _compose(rubric_model, moved / "M", _record(5.0, 5.0))
    for t in calibrated["texts"]:
        for sim in re.findall(r"similarity (-?\d\.\d\d)\)", t):
            assert float(sim) >= floor - 0.005, t
    assert any("graded high" in t or "similarity floor" in t for t in calibrated["texts"])
