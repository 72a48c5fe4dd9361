"""Each security rule of the service, and a test that tries to break it (docs/service.md)."""

from __future__ import annotations

import hashlib
import io
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("serve")
from fastapi.testclient import TestClient  # noqa: E402

from artjudge.serve import Settings, create_app  # noqa: E402
from artjudge.serve.security import TokenBucket  # noqa: E402

ORG = "organiser-one-token-abcdefghijklmnop"


def img_bytes(w: int = 32, h: int = 32, fmt: str = "PNG", seed: int = 0) -> bytes:
    arr = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def make_client(tmp_path: Path, **overrides: object) -> TestClient:
    allowed = tmp_path / "allowed"
    allowed.mkdir(exist_ok=True)
    (allowed / "ok.png").write_bytes(img_bytes())
    kw: dict[str, object] = {
        "db_url": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "allowed_folders": (allowed,),
        "organiser_token": ORG,
        "rate_per_second": 1000,
        "rate_burst": 1000,
    }
    kw.update(overrides)
    return TestClient(create_app(Settings(**kw)))  # type: ignore[arg-type]


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def campaign_with_annotators(client: TestClient, token: str = ORG, n_ann: int = 2) -> tuple[int, list[dict]]:
    c = client.post("/v1/campaigns", json={"name": "sec", "dimensions": ["aesthetics"]}, headers=auth(token))
    assert c.status_code == 201, c.text
    cid = c.json()["id"]
    files = [("files", (f"i{i}.png", img_bytes(seed=i), "image/png")) for i in range(3)]
    assert client.post(f"/v1/campaigns/{cid}/items", files=files, headers=auth(token)).status_code == 201
    invites = [
        client.post(f"/v1/campaigns/{cid}/annotators", json={"name": f"ann{k}"}, headers=auth(token)).json()
        for k in range(n_ann)
    ]
    return cid, invites


# ---------------------------------------------------------------- roles


def test_organiser_endpoints_refuse_missing_wrong_and_annotator_tokens(client: TestClient) -> None:
    cid, inv = campaign_with_annotators(client)
    for headers in ({}, auth("wrong"), auth(inv[0]["token"])):
        r = client.get(f"/v1/campaigns/{cid}/export/judgments.csv", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.post("/v1/campaigns", json={"name": "x"}, headers=auth(inv[0]["token"])).status_code == 401


def test_an_organiser_sees_only_their_own_campaigns(tmp_path: Path) -> None:
    from artjudge.store import open_store, repo

    with make_client(tmp_path) as client:
        cid, _ = campaign_with_annotators(client)
        with open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")() as s:
            _, other = repo.create_organiser(s, "someone else")
        assert client.get(f"/v1/campaigns/{cid}", headers=auth(other)).status_code == 404
        assert client.get(f"/v1/campaigns/{cid}/export/ratings.csv", headers=auth(other)).status_code == 404
        assert (
            client.post(
                f"/v1/campaigns/{cid}/annotators", json={"name": "spy"}, headers=auth(other)
            ).status_code
            == 404
        )
        assert client.get("/v1/campaigns", headers=auth(other)).json() == []


def test_an_annotator_sees_and_writes_only_their_own_tasks(client: TestClient) -> None:
    _, inv = campaign_with_annotators(client)
    me0 = client.get("/v1/me", headers=auth(inv[0]["token"])).json()
    me1 = client.get("/v1/me", headers=auth(inv[1]["token"])).json()
    theirs = me1["tasks"][0]
    assert theirs["id"] not in {t["id"] for t in me0["tasks"]}
    body = {"task_id": theirs["id"], "winner": "a", "score": 3}
    r = client.post("/v1/me/judgments", json=body, headers={**auth(inv[0]["token"]), "Idempotency-Key": "x1"})
    assert r.status_code == 404
    assert client.get("/v1/me", headers=auth(inv[1]["token"])).json()["done"] == 0
    # An item of another campaign is not reachable with this token.
    other_cid, other_inv = campaign_with_annotators(client, n_ann=1)
    foreign = client.get("/v1/me", headers=auth(other_inv[0]["token"])).json()["tasks"][0]["item_a"]
    assert client.get(f"/v1/me/items/{foreign}/image", headers=auth(inv[0]["token"])).status_code == 404
    assert (
        client.get(
            f"/v1/me/items/{me0['tasks'][0]['item_a']}/image", headers=auth(inv[0]["token"])
        ).status_code
        == 200
    )


# ---------------------------------------------------------------- tokens at rest


def test_no_clear_token_is_stored(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        _, inv = campaign_with_annotators(client)
    raw = b""
    for f in tmp_path.glob("db.sqlite*"):
        raw += f.read_bytes()
    con = sqlite3.connect(tmp_path / "db.sqlite")
    dump = "\n".join(con.iterdump()).encode()
    con.close()
    for token in (ORG, inv[0]["token"], inv[1]["token"]):
        assert token.encode() not in raw and token.encode() not in dump
        assert hashlib.sha256(token.encode()).hexdigest().encode() in dump


# ---------------------------------------------------------------- uploads


def test_upload_over_the_size_limit_is_413(tmp_path: Path) -> None:
    with make_client(tmp_path, max_upload_bytes=2000) as client:
        big = img_bytes(100, 100)
        assert len(big) > 2000
        r = client.post("/v1/assess", files={"file": ("big.png", big, "image/png")})
        assert r.status_code == 413 and "upload limit" in r.json()["detail"]


def test_request_over_the_body_limit_is_413_by_header_and_by_stream(tmp_path: Path) -> None:
    with make_client(tmp_path, max_request_bytes=10_000) as client:
        r = client.post(
            "/v1/assess", content=b"x" * 20_000, headers={"content-type": "application/octet-stream"}
        )
        assert r.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
            for _ in range(10):
                yield b"y" * 4000

        r2 = client.post(
            "/v1/assess", content=chunks(), headers={"content-type": "multipart/form-data; boundary=zz"}
        )
        assert r2.status_code == 413


def test_pixel_limit_catches_a_small_file_with_many_pixels(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (3000, 3000), (10, 10, 10)).save(buf, format="PNG")  # ~30 kB, 9 Mpx
    with make_client(tmp_path, max_pixels=1_000_000) as client:
        r = client.post("/v1/assess", files={"file": ("bomb.png", buf.getvalue(), "image/png")})
        assert r.status_code == 413 and "pixels" in r.json()["detail"]


def test_content_type_is_read_from_content_not_name(client: TestClient) -> None:
    html = b"<html><script>alert(1)</script></html>"
    r = client.post("/v1/assess", files={"file": ("evil.png", html, "image/png")})
    assert r.status_code == 415 and "not an image" in r.json()["detail"]
    # A real JPEG under a misleading name and type gets past the check (then 200 or a 503 without a model).
    r2 = client.post("/v1/assess", files={"file": ("notes.txt", img_bytes(fmt="JPEG"), "text/plain")})
    assert r2.status_code in (200, 503), r2.text
    # A truncated JPEG is refused before any model sees it.
    jpeg = img_bytes(64, 64, fmt="JPEG")
    r3 = client.post("/v1/assess", files={"file": ("cut.jpg", jpeg[: len(jpeg) // 2], "image/jpeg")})
    assert r3.status_code == 400 and "truncated" in r3.json()["detail"]
    assert client.post("/v1/assess", files={"file": ("e.png", b"", "image/png")}).status_code == 400
    # Campaign items get the same check.
    cid = client.post("/v1/campaigns", json={"name": "x"}, headers=auth(ORG)).json()["id"]
    r4 = client.post(
        f"/v1/campaigns/{cid}/items", files=[("files", ("a.jpg", html, "image/jpeg"))], headers=auth(ORG)
    )
    assert r4.status_code == 415


def test_video_is_checked_by_magic_bytes(client: TestClient) -> None:
    r = client.post("/v1/process", files={"video": ("clip.mp4", b"not a video at all", "video/mp4")})
    assert r.status_code in (415, 503)  # 503 only when no process judge is in this build
    if r.status_code == 415:
        assert "not a supported video" in r.json()["detail"]


# ---------------------------------------------------------------- rate limiting


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    with make_client(tmp_path, rate_per_second=0.5, rate_burst=3) as client:
        codes = [client.get("/v1/models").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        r = client.get("/v1/models")
        assert int(r.headers["retry-after"]) >= 1
        assert client.get("/health").status_code == 200  # the probe is not limited


def test_token_bucket_refills_and_separates_clients() -> None:
    b = TokenBucket(rate=2.0, burst=2)
    assert b.take("a", now=0.0) == 0.0 and b.take("a", now=0.0) == 0.0
    assert b.take("a", now=0.0) == pytest.approx(0.5)
    assert b.take("b", now=0.0) == 0.0  # another client has its own bucket
    assert b.take("a", now=0.6) == 0.0  # refilled


# ---------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path",
    [
        "../db.sqlite",
        "/etc/passwd",
        "ok.png/../../db.sqlite",
        "..%2Fdb.sqlite",
        "sub/../../db.sqlite",
        "/",
        "ok.png\x00.png",
        "",
    ],
)
def test_no_path_traversal_through_assess(client: TestClient, path: str) -> None:
    r = client.post("/v1/assess", data={"path": path})
    assert r.status_code == 400, (path, r.text)


def test_symlink_out_of_an_allowed_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.png"
    outside.write_bytes(img_bytes())
    with make_client(tmp_path) as client:
        os.symlink(outside, tmp_path / "allowed" / "link.png")
        r = client.post("/v1/assess", data={"path": "link.png"})
        assert r.status_code == 400 and "outside the allowed folders" in r.json()["detail"]
        cid = client.post("/v1/campaigns", json={"name": "x"}, headers=auth(ORG)).json()["id"]
        r2 = client.post(f"/v1/campaigns/{cid}/items", data={"folder": "."}, headers=auth(ORG))
        assert r2.status_code == 400 and "outside" in r2.json()["detail"]
        for folder in ("..", "/etc", "../.."):
            r3 = client.post(f"/v1/campaigns/{cid}/items", data={"folder": folder}, headers=auth(ORG))
            assert r3.status_code == 400, folder


def test_path_inputs_are_off_without_allowed_folders(tmp_path: Path) -> None:
    with make_client(tmp_path, allowed_folders=()) as client:
        r = client.post("/v1/assess", data={"path": str(tmp_path / "allowed" / "ok.png")})
        assert r.status_code == 400 and "disabled" in r.json()["detail"]


@pytest.mark.parametrize(
    "url",
    ["/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/%2e%2e/errors.py", "/static//etc/passwd"],
)
def test_no_path_traversal_through_static_files(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code == 404 or "def create_app" not in r.text
    assert "root:" not in r.text and "def create_app" not in r.text


def test_model_names_cannot_name_paths(client: TestClient) -> None:
    for model in ("/etc/passwd", "../weights", "vlm:/tmp/x"):
        r = client.post(
            "/v1/assess", files={"file": ("a.png", img_bytes(), "image/png")}, data={"model": model}
        )
        assert r.status_code == 400 and "not served here" in r.json()["detail"]


def test_exported_csv_cells_cannot_run_formulas(client: TestClient) -> None:
    cid = client.post("/v1/campaigns", json={"name": "x"}, headers=auth(ORG)).json()["id"]
    files = [
        ("files", ("=cmd|calc.png", img_bytes(seed=1), "image/png")),
        ("files", ("b.png", img_bytes(seed=2), "image/png")),
    ]
    items = client.post(f"/v1/campaigns/{cid}/items", files=files, headers=auth(ORG)).json()
    assert not items[0]["key"].startswith("=")
    inv = client.post(
        f"/v1/campaigns/{cid}/annotators", json={"name": "=HYPERLINK(1)"}, headers=auth(ORG)
    ).json()
    t = client.get("/v1/me", headers=auth(inv["token"])).json()["tasks"][0]
    body = {"task_id": t["id"], "winner": "a"} if t["kind"] == "pair" else {"task_id": t["id"], "score": 3}
    client.post("/v1/me/judgments", json=body, headers={**auth(inv["token"]), "Idempotency-Key": "k"})
    text = client.get(f"/v1/campaigns/{cid}/export/judgments.csv", headers=auth(ORG)).text
    text += client.get(f"/v1/campaigns/{cid}/export/ratings.csv", headers=auth(ORG)).text
    assert "\n=" not in text and ",=" not in text and "'=HYPERLINK(1)" in text
