"""The grading page's API (/v1/grade) end to end: real app, real SQLite, real encoder and training.

Works are small synthetic paintings whose brightness the simulated teacher grades, so the
closed-form heads have something real to learn; every route is checked for its auth, its
validation and its escaping.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("serve")
pytest.importorskip("torch", reason="training the grading model needs the [torch] extra")
pytest.importorskip("sklearn", reason="training the grading model needs the [analysis] extra")
from fastapi.testclient import TestClient  # noqa: E402

from artjudge.serve import Settings, create_app  # noqa: E402

ORG = "organiser-token-grading-tests-0123456789"
OTHER = "another-organiser-token-grading-98765xyz"
N_WORKS = 26


def painting(seed: int, size: int = 64) -> tuple[bytes, float]:
    """A small picture and its brightness (what the simulated teacher grades)."""
    rng = np.random.default_rng(seed)
    level = 0.15 + 0.7 * (seed % 13) / 12
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([level * (0.8 + 0.2 * y), level * (0.7 + 0.3 * x), level * np.ones_like(x)], -1)
    img += rng.normal(0, 0.05, img.shape)
    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue(), level


def grade_of(level: float) -> int:
    return int(np.clip(1 + np.floor((level - 0.15) / 0.7 * 5), 1, 5))


def auth(token: str = ORG) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def settings(tmp: Path) -> Settings:
    return Settings(
        db_url=f"sqlite:///{tmp / 'g.sqlite'}",
        allowed_folders=(tmp,),
        organiser_token=ORG,
        rate_per_second=2000,
        rate_burst=2000,
        extra={"grade_cache_dir": str(tmp / "cache")},
    )


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(tmp_path))) as c:
        yield c


def make_rubric(c: TestClient, **over: object) -> dict:
    body = {
        "name": "Year 9 still life",
        "attributes": ["light", "craft"],
        "scale_min": 1,
        "scale_max": 5,
        "descriptors": {"light": {"1": "flat", "5": "luminous"}},
        **over,
    }
    r = c.post("/v1/grade/rubrics", json=body, headers=auth())
    assert r.status_code == 201, r.text
    return r.json()


def upload(c: TestClient, rid: int, n: int = N_WORKS) -> dict[str, float]:
    files, levels = [], {}
    for i in range(n):
        data, level = painting(i)
        files.append(("files", (f"work{i:02d}.png", data, "image/png")))
        levels[f"work{i:02d}.png"] = level
    r = c.post(f"/v1/grade/rubrics/{rid}/works", files=files, headers=auth())
    assert r.status_code == 201, r.text
    assert len(r.json()) == n
    return levels


def wait(c: TestClient) -> None:
    assert c.app.state.grade_worker.idle(timeout=240)  # type: ignore[attr-defined]


def test_every_route_needs_the_organiser_token_and_hides_other_rubrics(client: TestClient) -> None:
    rid = make_rubric(client)["id"]
    routes = [
        ("get", "/v1/grade/rubrics"),
        ("get", f"/v1/grade/rubrics/{rid}"),
        ("get", f"/v1/grade/rubrics/{rid}/works"),
        ("get", f"/v1/grade/rubrics/{rid}/next"),
        ("get", f"/v1/grade/rubrics/{rid}/model"),
        ("post", f"/v1/grade/rubrics/{rid}/train"),
        ("get", f"/v1/grade/rubrics/{rid}/report"),
        ("get", f"/v1/grade/rubrics/{rid}/export.json"),
        ("get", f"/v1/grade/rubrics/{rid}/export.csv"),
        ("get", f"/v1/grade/rubrics/{rid}/works/1/image"),
        ("get", f"/v1/grade/rubrics/{rid}/works/1/feedback"),
        ("get", f"/v1/grade/rubrics/{rid}/works/1/proposal"),
        ("post", f"/v1/grade/rubrics/{rid}/import"),
    ]
    for method, path in routes:
        kw = {"json": {"works": []}} if method == "post" else {}
        assert getattr(client, method)(path, **kw).status_code == 401, path
        assert getattr(client, method)(path, headers=auth("not-a-token"), **kw).status_code == 401, path
    assert client.put(f"/v1/grade/rubrics/{rid}/works/1/grade", json={"scores": {}}).status_code == 401
    # a second organiser role sees nothing of the first one's rubric: 404, as if it did not exist
    from artjudge.store import repo

    with client.app.state.sessions() as s:  # type: ignore[attr-defined]
        repo.create_organiser(s, "other teacher", OTHER, new_role=True)
    assert client.get("/v1/grade/rubrics", headers=auth(OTHER)).json() == []
    for method, path in routes[1:]:
        kw = {"json": {"works": []}} if method == "post" else {}
        assert getattr(client, method)(path, headers=auth(OTHER), **kw).status_code == 404, path


def test_rubric_validation(client: TestClient) -> None:
    bad = [
        {"attributes": []},
        {"attributes": ["a", "a"]},
        {"scale_min": 1, "scale_max": 1},
        {"scale_min": 0, "scale_max": 20},
        {"attributes": ["li\u202eght"]},
        {"descriptors": {"unknown": {"1": "x"}}},
        {"descriptors": {"light": {"9": "off the scale"}}},
    ]
    for over in bad:
        body = {"name": "r", "attributes": ["light"], "scale_min": 1, "scale_max": 5, **over}
        r = client.post("/v1/grade/rubrics", json=body, headers=auth())
        assert r.status_code in (400, 422), (over, r.text)
        assert r.json()["detail"]


@pytest.mark.slow
def test_the_teachers_loop_grades_trains_proposes_reports_and_exports(client: TestClient) -> None:
    rubric = make_rubric(client, name='<b>"=1+1"</b>', attributes=["light", "craft", "noise"])
    rid = rubric["id"]
    assert rubric["name"] == '<b>"=1+1"</b>'  # stored verbatim; the page renders it as text
    levels = upload(client, rid)
    wait(client)
    # before 20 grades: works come in the planned coverage order, without proposals
    seen = []
    noise = np.random.default_rng(7).integers(1, 6, size=20)  # graded by pure chance: never trusted
    for k in range(20):
        nxt = client.get(f"/v1/grade/rubrics/{rid}/next", headers=auth()).json()
        assert nxt["proposal"] is None and nxt["model"]["status"] == "collecting"
        w = nxt["work"]
        seen.append(w["id"])
        g = grade_of(levels[w["key"]])
        scores = {"light": g, "craft": min(5, g + 1), "noise": int(noise[k])}
        body = {"scores": scores, "note": '=HYPERLINK("x")' if k == 0 else ""}
        r = client.put(f"/v1/grade/rubrics/{rid}/works/{w['id']}/grade", json=body, headers=auth())
        assert r.status_code == 200, r.text
        assert r.json()["created"] and r.json()["graded"] == k + 1 and r.json()["source"] == "teacher"
    assert len(set(seen)) == 20
    # invalid grades are refused with a reason and change nothing
    for bad in (
        {"light": 6, "craft": 1, "noise": 1},
        {"light": 2},
        {"light": 2, "craft": 2, "noise": 1, "extra": 1},
        {"light": 2.5, "craft": 1, "noise": 1},
    ):
        r = client.put(f"/v1/grade/rubrics/{rid}/works/{seen[0]}/grade", json={"scores": bad}, headers=auth())
        assert r.status_code in (400, 422), bad
    assert (
        client.put(
            f"/v1/grade/rubrics/{rid}/works/999999/grade",
            json={"scores": {"light": 1, "craft": 1, "noise": 1}},
            headers=auth(),
        ).status_code
        == 404
    )
    wait(client)
    status = client.get(f"/v1/grade/rubrics/{rid}/model", headers=auth()).json()
    assert status["model"]["status"] == "trained", status
    assert status["model"]["trained_on"] == 20
    light = status["model"]["skill"]["heads"]["light"]
    assert set(light) >= {"cv_srcc", "ci", "skilled", "n"} and light["n"] == 20
    assert light["ci"][0] <= light["cv_srcc"] <= light["ci"][1]
    assert status["model"]["calibration"]["level"] == 0.9
    assert light["skilled"] and not status["model"]["skill"]["heads"]["noise"]["skilled"]
    # from now on the next work comes with a proposal and its interval (skilled attributes only)
    nxt = client.get(f"/v1/grade/rubrics/{rid}/next", headers=auth()).json()
    prop = nxt["proposal"]
    assert prop is not None and set(prop) == {"light", "craft", "noise"}
    assert prop["light"]["proposed"] is not None and prop["noise"]["proposed"] is None
    one = client.get(f"/v1/grade/rubrics/{rid}/works/{nxt['work']['id']}/proposal", headers=auth()).json()
    assert one == {"work_id": nxt["work"]["id"], "proposal": prop}
    for a, p in prop.items():
        if p["skilled"]:
            assert 1 <= p["proposed"] <= 5 and p["interval"][0] <= p["grade"] <= p["interval"][1]
        else:
            assert p["grade"] is None and p["proposed"] is None, a
    offered = {a: p["proposed"] if p["skilled"] else 3 for a, p in prop.items()}
    r = client.put(
        f"/v1/grade/rubrics/{rid}/works/{nxt['work']['id']}/grade", json={"scores": offered}, headers=auth()
    )
    any_skilled = any(p["skilled"] for p in prop.values())
    assert r.json()["source"] == ("accepted" if any_skilled else "teacher")
    # the works list marks predictions apart from grades
    works = client.get(f"/v1/grade/rubrics/{rid}/works", headers=auth()).json()
    assert len(works) == N_WORKS
    assert sum(w["grade"] is not None for w in works) == 21
    for w in works:
        assert w["grade"] is None or w["prediction"] is None
    # the report: distributions on the scale, exemplars, the proposals' held-out record
    rep = client.get(f"/v1/grade/rubrics/{rid}/report", headers=auth()).json()
    assert rep["graded"] == 21 and rep["distributions"]["light"]["levels"] == [1, 2, 3, 4, 5]
    assert sum(rep["distributions"]["light"]["teacher"]) == 21
    assert len(rep["exemplars"]["light"]) == 3
    assert rep["exemplars"]["light"][0]["grade"] == max(
        w["grade"]["scores"]["light"] for w in works if w["grade"]
    )
    # feedback on a work: the rubric critique, stored and exported
    fb = client.get(f"/v1/grade/rubrics/{rid}/works/{seen[1]}/feedback", headers=auth())
    assert fb.status_code == 200, fb.text
    trusted = {a for a, h in status["model"]["skill"]["heads"].items() if h["skilled"]}
    assert set(fb.json()["attributes"]) <= trusted  # never advice on an attribute without skill
    assert fb.json()["notes"]
    # export: JSON and CSV say the same, the teacher's and the model's marked, formulas escaped
    data = client.get(f"/v1/grade/rubrics/{rid}/export.json", headers=auth()).json()
    text = client.get(f"/v1/grade/rubrics/{rid}/export.csv", headers=auth()).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(data["works"]) == N_WORKS
    by_id = {int(r["work_id"]): r for r in rows}
    for w in data["works"]:
        row = by_id[w["id"]]
        if w["grade"] is not None:
            assert row["source"] in ("teacher", "accepted", "corrected")
            assert int(row["light"]) == w["grade"]["scores"]["light"] and row["light_lo"] == ""
        elif w["prediction"] is not None:
            assert row["source"] == "model"
            p = w["prediction"]["light"]
            assert float(row["light"]) == pytest.approx(p["grade"])
            assert float(row["light_lo"]) <= float(row["light"]) <= float(row["light_hi"])
    notes = [r["note"] for r in rows if r["note"]]
    assert notes == ['\'=HYPERLINK("x")']
    assert any(r["feedback"] for r in rows)
    json.dumps(data, allow_nan=False)  # strict JSON
    # the export round-trips: a second rubric with the same works takes the teacher's grades back
    rid2 = make_rubric(client, attributes=["light", "craft", "noise"])["id"]
    upload(client, rid2)
    r = client.post(f"/v1/grade/rubrics/{rid2}/import", json={"works": data["works"]}, headers=auth())
    assert r.status_code == 200, r.text
    assert r.json() == {"imported": 21, "unknown_works": []}
    again = client.get(f"/v1/grade/rubrics/{rid2}/export.json", headers=auth()).json()
    mine = {w["key"]: w["grade"] for w in data["works"] if w["grade"]}
    theirs = {w["key"]: w["grade"] for w in again["works"] if w["grade"]}
    assert theirs == mine


def test_an_acknowledged_grade_survives_a_restart(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path))) as c:
        rid = make_rubric(c)["id"]
        upload(c, rid, 3)
        w = c.get(f"/v1/grade/rubrics/{rid}/next", headers=auth()).json()["work"]
        r = c.put(
            f"/v1/grade/rubrics/{rid}/works/{w['id']}/grade",
            json={"scores": {"light": 4, "craft": 2}, "note": "ok"},
            headers=auth(),
        )
        assert r.status_code == 200
        wait(c)
    with TestClient(create_app(settings(tmp_path))) as c2:  # a new process on the same database
        works = c2.get(f"/v1/grade/rubrics/{rid}/works", headers=auth()).json()
        graded = [x for x in works if x["grade"]]
        assert [(x["id"], x["grade"]["scores"], x["grade"]["note"]) for x in graded] == [
            (w["id"], {"light": 4, "craft": 2}, "ok")
        ]
        # re-grading replaces the grade (one per work), never duplicates it
        r = c2.put(
            f"/v1/grade/rubrics/{rid}/works/{w['id']}/grade",
            json={"scores": {"light": 3, "craft": 2}},
            headers=auth(),
        )
        assert r.json()["created"] is False and r.json()["graded"] == 1


def test_works_from_an_allowed_folder_only(client: TestClient, tmp_path: Path) -> None:
    rid = make_rubric(client)["id"]
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(3):
        (folder / f"w{i}.png").write_bytes(painting(i)[0])
    r = client.post(f"/v1/grade/rubrics/{rid}/works", data={"folder": str(folder)}, headers=auth())
    assert r.status_code == 201 and len(r.json()) == 3
    img = client.get(f"/v1/grade/rubrics/{rid}/works/{r.json()[0]['id']}/image", headers=auth())
    assert img.status_code == 200 and img.headers["content-type"] == "image/png"
    r = client.post(f"/v1/grade/rubrics/{rid}/works", data={"folder": "/etc"}, headers=auth())
    assert r.status_code == 400 and "allowed folders" in r.json()["detail"]
    # the same names again: a conflict, and nothing half-added
    r = client.post(f"/v1/grade/rubrics/{rid}/works", data={"folder": str(folder)}, headers=auth())
    assert r.status_code == 409
    assert len(client.get(f"/v1/grade/rubrics/{rid}/works", headers=auth()).json()) == 3
    # bytes that are not an image are refused by content
    r = client.post(
        f"/v1/grade/rubrics/{rid}/works",
        files=[("files", ("x.png", b"not an image", "image/png"))],
        headers=auth(),
    )
    assert r.status_code == 415


def test_the_grading_page_is_served() -> None:
    from artjudge.serve.app import STATIC

    html = (STATIC / "grade.html").read_text(encoding="utf-8")
    assert "/static/grade.js" in html and "http" not in html.replace("http-equiv", "")  # no CDN
