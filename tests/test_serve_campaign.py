"""Annotation campaigns end to end through the HTTP API (real app, real SQLite, real fusion)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("serve")
from fastapi.testclient import TestClient  # noqa: E402

from artjudge.serve import Settings, create_app  # noqa: E402

ORG = "organiser-token-campaign-tests-xyz"


def img_bytes(seed: int) -> bytes:
    arr = (np.random.default_rng(seed).random((24, 24, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    folder = tmp_path / "pool"
    folder.mkdir()
    for i in range(4):
        (folder / f"p{i}.png").write_bytes(img_bytes(100 + i))
    (folder / "readme.txt").write_text("not an image")
    s = Settings(
        db_url=f"sqlite:///{tmp_path / 'c.sqlite'}",
        allowed_folders=(tmp_path,),
        organiser_token=ORG,
        rate_per_second=1000,
        rate_burst=1000,
    )
    with TestClient(create_app(s)) as c:
        yield c


def answer_all(client: TestClient, token: str, quality: dict[str, float], items: dict[int, str]) -> int:
    """An annotator who prefers the higher 'quality' and rates by it; returns judgments sent."""
    me = client.get("/v1/me", headers=auth(token)).json()
    sent = 0
    for t in me["tasks"]:
        if t["kind"] == "pair":
            qa, qb = quality[items[t["item_a"]]], quality[items[t["item_b"]]]
            body = {"task_id": t["id"], "winner": "a" if qa > qb else "b", "confidence": 0.8}
        else:
            body = {"task_id": t["id"], "score": int(round(1 + 6 * quality[items[t["item_a"]]]))}
        r = client.post(
            "/v1/me/judgments", json=body, headers={**auth(token), "Idempotency-Key": f"t{t['id']}"}
        )
        assert r.status_code == 201, r.text
        sent += 1
    return sent


def test_campaign_dual_protocol_end_to_end(client: TestClient) -> None:
    r = client.post(
        "/v1/campaigns",
        headers=auth(ORG),
        json={
            "name": "Panel",
            "dimensions": ["aesthetics"],
            "scale_min": 1,
            "scale_max": 7,
            "pair_design": "round_robin",
        },
    )
    assert r.status_code == 201
    cid = r.json()["id"]
    files = [("files", (f"img{i}.png", img_bytes(i), "image/png")) for i in range(5)]
    items = client.post(f"/v1/campaigns/{cid}/items", files=files, headers=auth(ORG)).json()
    assert [i["key"] for i in items] == [f"img{i}.png" for i in range(5)]
    id_to_key = {i["id"]: i["key"] for i in items}
    quality = {f"img{i}.png": i / 4 for i in range(5)}

    invites = [
        client.post(f"/v1/campaigns/{cid}/annotators", json={"name": n}, headers=auth(ORG)).json()
        for n in ("ann", "bob", "cy")
    ]
    assert all(inv["tasks"] == 15 for inv in invites)  # 10 pairs + 5 ratings
    assert invites[0]["link"].startswith("/annotate#token=")

    me = client.get("/v1/me", headers=auth(invites[0]["token"])).json()
    kinds = [t["kind"] for t in me["tasks"]]
    assert kinds.count("pair") == 10 and kinds.count("rating") == 5
    assert (
        client.get(
            f"/v1/me/items/{me['tasks'][0]['item_a']}/image", headers=auth(invites[0]["token"])
        ).headers["content-type"]
        == "image/png"
    )

    # Replays with one key are stored once; a new key on an answered task is a conflict.
    t0 = me["tasks"][0]
    body = {"task_id": t0["id"], "winner": "a"} if t0["kind"] == "pair" else {"task_id": t0["id"], "score": 4}
    h = {**auth(invites[0]["token"]), "Idempotency-Key": "replay-1"}
    first = client.post("/v1/me/judgments", json=body, headers=h)
    again = client.post("/v1/me/judgments", json=body, headers=h)
    assert first.status_code == 201 and again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert (
        client.post(
            "/v1/me/judgments", json=body, headers={**auth(invites[0]["token"]), "Idempotency-Key": "other"}
        ).status_code
        == 409
    )
    assert client.post("/v1/me/judgments", json=body, headers=auth(invites[0]["token"])).status_code == 400

    # Pause and resume: what was answered is still answered.
    resumed = client.get("/v1/me", headers=auth(invites[0]["token"])).json()
    assert resumed["done"] == 1 and resumed["tasks"][0]["answered"]

    # Everyone finishes (the first annotator's already-answered task conflicts, so skip it).
    for inv in invites[1:]:
        assert answer_all(client, inv["token"], quality, id_to_key) == 15
    prog = client.get(f"/v1/campaigns/{cid}/progress", headers=auth(ORG)).json()
    assert {p["name"]: p["done"] for p in prog["progress"]} == {"ann": 1, "bob": 15, "cy": 15}
    rel = prog["reliability"]["aesthetics"]
    assert rel["krippendorff_alpha_interval"] == pytest.approx(1.0)  # bob and cy rate identically

    # Exports in the formats artjudge.preference reads.
    jtext = client.get(f"/v1/campaigns/{cid}/export/judgments.csv", headers=auth(ORG)).text
    rows = list(csv.DictReader(io.StringIO(jtext)))
    assert list(rows[0].keys()) == [
        "annotator",
        "item_a",
        "item_b",
        "winner",
        "dimension",
        "confidence",
        "timestamp",
    ]
    assert len(rows) == 21 and {r["winner"] for r in rows} <= {"a", "b", "tie"}
    rtext = client.get(f"/v1/campaigns/{cid}/export/ratings.csv", headers=auth(ORG)).text
    ratings = list(csv.DictReader(io.StringIO(rtext)))
    assert list(ratings[0].keys()) == ["annotator", "item", "score", "dimension"] and len(ratings) == 10
    from artjudge.preference.formats import validate_judgments, validate_ratings

    validate_judgments(pd.read_csv(io.StringIO(jtext), dtype=str, keep_default_na=False))
    validate_ratings(pd.read_csv(io.StringIO(rtext), dtype=str, keep_default_na=False), scale=(1, 7))

    # Fused scores order the items as the panel did.
    fused = client.get(f"/v1/campaigns/{cid}/fused", headers=auth(ORG))
    assert fused.status_code == 200, fused.text
    scores = {r["item"]: r["fused"] for r in fused.json()["scores"]}
    assert sorted(scores, key=scores.__getitem__) == [f"img{i}.png" for i in range(5)]
    assert client.get(f"/v1/campaigns/{cid}/export/fused.csv", headers=auth(ORG)).status_code == 200


def test_items_from_an_allowed_folder(client: TestClient) -> None:
    cid = client.post(
        "/v1/campaigns", json={"name": "F", "pair_design": "locally_dense"}, headers=auth(ORG)
    ).json()["id"]
    r = client.post(f"/v1/campaigns/{cid}/items", data={"folder": "pool"}, headers=auth(ORG))
    assert r.status_code == 201, r.text
    assert [i["key"] for i in r.json()] == ["p0.png", "p1.png", "p2.png", "p3.png"]
    inv = client.post(f"/v1/campaigns/{cid}/annotators", json={"name": "a"}, headers=auth(ORG)).json()
    me = client.get("/v1/me", headers=auth(inv["token"])).json()
    img = client.get(f"/v1/me/items/{me['tasks'][0]['item_a']}/image", headers=auth(inv["token"]))
    assert img.status_code == 200 and img.content[:4] == b"\x89PNG"
    # Items are frozen once annotators have task lists.
    r2 = client.post(
        f"/v1/campaigns/{cid}/items",
        files=[("files", ("z.png", img_bytes(9), "image/png"))],
        headers=auth(ORG),
    )
    assert r2.status_code == 400 and "already invited" in r2.json()["detail"]


def test_fused_before_any_judgment_is_a_clear_503(client: TestClient) -> None:
    cid = client.post("/v1/campaigns", json={"name": "E"}, headers=auth(ORG)).json()["id"]
    r = client.get(f"/v1/campaigns/{cid}/fused", headers=auth(ORG))
    assert r.status_code == 503 and "no pairwise judgments" in r.json()["detail"]


def test_bad_campaign_input(client: TestClient) -> None:
    r = client.post("/v1/campaigns", json={"name": "x", "scale_min": 5, "scale_max": 3}, headers=auth(ORG))
    assert r.status_code == 400 and "scale" in r.json()["detail"]
    r = client.post("/v1/campaigns", json={"name": "x", "dimensions": ["a", "a"]}, headers=auth(ORG))
    assert r.status_code == 400 and "repeat" in r.json()["detail"]
    cid = client.post("/v1/campaigns", json={"name": "x"}, headers=auth(ORG)).json()["id"]
    r = client.post(f"/v1/campaigns/{cid}/annotators", json={"name": "a"}, headers=auth(ORG))
    assert r.status_code == 400 and "at least 2 items" in r.json()["detail"]
    files = [
        ("files", ("same.png", img_bytes(1), "image/png")),
        ("files", ("same.png", img_bytes(2), "image/png")),
    ]
    r = client.post(f"/v1/campaigns/{cid}/items", files=files, headers=auth(ORG))
    assert r.status_code == 409 and "nothing was added" in r.json()["detail"]
    assert client.get(f"/v1/campaigns/{cid}", headers=auth(ORG)).json()["items"] == []


def test_cli_export_matches_the_api(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from artjudge.cli import main as cli_main

    cid = client.post("/v1/campaigns", json={"name": "X"}, headers=auth(ORG)).json()["id"]
    files = [("files", (f"k{i}.png", img_bytes(i), "image/png")) for i in range(3)]
    items = client.post(f"/v1/campaigns/{cid}/items", files=files, headers=auth(ORG)).json()
    inv = client.post(f"/v1/campaigns/{cid}/annotators", json={"name": "z"}, headers=auth(ORG)).json()
    answer_all(
        client, inv["token"], {f"k{i}.png": i / 2 for i in range(3)}, {i["id"]: i["key"] for i in items}
    )
    out = tmp_path / "out"  # made by the export
    db = f"sqlite:///{tmp_path / 'c.sqlite'}"
    assert cli_main(["campaign", "export", str(cid), "--db", db, "--out", str(out)]) == 0
    api_text = client.get(f"/v1/campaigns/{cid}/export/judgments.csv", headers=auth(ORG)).text
    # the names the README's `artjudge fuse judgments.csv --ratings ratings.csv` reads
    assert (out / "judgments.csv").read_text() == api_text
    assert len((out / "ratings.csv").read_text().splitlines()) == 4
    assert cli_main(["campaign", "export", "999", "--db", db, "--out", str(out)]) == 2
    # a second export never replaces the first silently
    (out / "ratings.csv").write_text("keep me")
    capsys.readouterr()
    assert cli_main(["campaign", "export", str(cid), "--db", db, "--out", str(out)]) == 2
    assert "judgments.csv: already exists; use --force" in capsys.readouterr().err
    assert (out / "ratings.csv").read_text() == "keep me"
    assert cli_main(["campaign", "export", str(cid), "--db", db, "--out", str(out), "--force"]) == 0
    assert len((out / "ratings.csv").read_text().splitlines()) == 4
    # and the exported pair goes straight into `artjudge fuse`
    assert (
        cli_main(
            [
                "fuse",
                str(out / "judgments.csv"),
                "--ratings",
                str(out / "ratings.csv"),
                "--out",
                str(tmp_path / "fused.csv"),
            ]
        )
        == 0
    )
    assert (tmp_path / "fused.csv").is_file()
