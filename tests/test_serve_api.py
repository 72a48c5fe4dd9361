"""API tests on a real app and a real SQLite store (FastAPI TestClient), no mocks."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import missing_modules, require_extra  # noqa: E402

require_extra("serve")
from fastapi.testclient import TestClient  # noqa: E402

from artjudge.serve import Settings, create_app  # noqa: E402


@functools.cache
def scorer_problem() -> str | None:
    """None when the default scorer loads in this build, else the reason it does not."""
    import artjudge
    from artjudge.errors import ArtjudgeError

    try:
        artjudge.load("default")
    except (ArtjudgeError, ImportError, OSError) as err:
        return str(err)
    return None


ORG = "organiser-token-for-tests-0123456789"


def png_bytes(w: int = 64, h: int = 48, seed: int = 0, fmt: str = "PNG") -> bytes:
    rng = np.random.default_rng(seed)
    arr = (rng.random((h, w, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "a.png").write_bytes(png_bytes(seed=1))
    settings = Settings(
        db_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        allowed_folders=(allowed,),
        organiser_token=ORG,
        rate_per_second=1000,
        rate_burst=1000,
    )
    with TestClient(create_app(settings)) as c:
        yield c


def test_health_and_openapi(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/assess",
        "/v1/compare",
        "/v1/process",
        "/v1/models",
        "/health",
        "/v1/campaigns",
        "/v1/me/judgments",
    ):
        assert path in spec["paths"], path
    assert {"Assessment", "ProcessAssessment"} <= set(spec["components"]["schemas"])  # the record dataclasses


def test_models_lists_configured_names(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["default"] == "default"
    assert {m["name"] for m in body["models"] if m["kind"] == "scorer"} == {"default"}


def test_page_is_served_with_local_assets(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "http://" not in r.text and "https://" not in r.text  # no CDN
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for page in ("/annotate", "/organise", "/docs"):
        r = client.get(page)
        assert r.status_code == 200 and "cdn" not in r.text.lower() and "https://" not in r.text
    for asset in ("style.css", "common.js", "charts.js", "app.js", "annotate.js", "organise.js", "api.js"):
        assert client.get(f"/static/{asset}").status_code == 200, asset


def test_assess_needs_an_input(client: TestClient) -> None:
    r = client.post("/v1/assess", data={"critique": "false"})
    assert r.status_code == 400 and "give an image upload" in r.json()["detail"]


def test_assess_upload_path_and_cache(client: TestClient) -> None:
    data = png_bytes(seed=3)
    r = client.post("/v1/assess", files={"file": ("mine.png", data, "application/octet-stream")})
    if scorer_problem() is not None:  # this build has no scorer: the answer must say so, as a 503
        assert r.status_code == 503 and "model 'default'" in r.json()["detail"]
        return
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["input"] == "mine.png" and 0 <= rec["overall"]["score"] <= 100 and rec["overall"]["std"] >= 0
    assert "x-artjudge-cache" not in r.headers  # would tell anyone the image was assessed before
    r2 = client.post("/v1/assess", files={"file": ("again.png", data, "image/png")})
    # a hit serves the stored record with this request's own timing, in the same shape as a miss
    assert r2.json()["overall"] == rec["overall"] and r2.json()["timings"].keys() == rec[
        "timings"
    ].keys() == {"service_s"}
    assert r2.json()["input"] == "again.png"
    r3 = client.post("/v1/assess", data={"path": "a.png"})
    assert r3.status_code == 200 and r3.json()["input"] == "a.png"
    c = client.post(
        "/v1/compare",
        files={"file_a": ("a.png", data, "image/png"), "file_b": ("b.png", png_bytes(seed=4), "image/png")},
    )
    assert c.status_code == 200
    body = c.json()
    assert 0.0 <= body["p_a_better"] <= 1.0 and body["better"] in ("a", "b", "tie")
    assert (body["p_a_better"] > 0.5) == (body["a"]["overall"]["score"] > body["b"]["overall"]["score"])


def test_assess_with_critique(client: TestClient) -> None:
    r = client.post(
        "/v1/assess",
        files={"file": ("c.png", png_bytes(128, 128, seed=5), "image/png")},
        data={"critique": "true"},
    )
    if scorer_problem() is not None:
        assert r.status_code == 503
        return
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["critique"] or any("critique" in n for n in rec["notes"])


def test_unknown_model_name_is_refused(client: TestClient) -> None:
    r = client.post(
        "/v1/assess",
        files={"file": ("x.png", png_bytes(), "image/png")},
        data={"model": "../../../etc/passwd"},
    )
    assert r.status_code == 400 and "not served here" in r.json()["detail"]


def test_process_needs_video_or_frames(client: TestClient) -> None:
    r = client.post("/v1/process")
    assert r.status_code == 400 and "video or frames" in r.json()["detail"]


def test_process_frames_with_reference(client: TestClient) -> None:
    files = [("frames", (f"f{i}.png", png_bytes(64, 64, seed=10 + i), "image/png")) for i in range(3)]
    files.append(("reference", ("final.png", png_bytes(64, 64, seed=20), "image/png")))
    r = client.post("/v1/process", files=files)
    if r.status_code == 503:  # no process judge weights in this build: the reason is given
        assert "process judge 'default'" in r.json()["detail"]
        return
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        len(body["timeline"]) == 3
        and {k: v["score"] for k, v in body["attributes"].items()} == body["timeline"][-1]
    )
    assert body["source"] == "<3 frames>" and "/tmp" not in r.text  # no server paths leak
    assert all(
        10.0 <= v["score"] <= 100.0 and v["std"] > 0 for v in body["attributes"].values()
    )  # 0-100 with std
    assert body["reference"] == "final.png" and len(body["frame_sha256"]) == 3


def test_assess_with_prompt_and_reference(client: TestClient) -> None:
    """A prompt (or reference) adds 'consistency'; the cache keys on it, so no other prompt's record is served."""
    data = png_bytes(96, 96, seed=7)
    plain = client.post("/v1/assess", files={"file": ("p.png", data, "image/png")})
    if scorer_problem() is not None:
        assert plain.status_code == 503
        return
    assert plain.status_code == 200 and plain.json().get("consistency") is None
    r = client.post("/v1/assess", files={"file": ("p.png", data, "image/png")}, data={"prompt": "a red car"})
    if missing_modules("text"):
        # without [text] a prompt is refused with the install line; references still work below
        assert r.status_code == 503 and "artjudge[text]" in r.json()["detail"], r.text
    else:
        assert r.status_code == 200, r.text
        c = r.json()["consistency"]
        assert (
            c["source"] == "prompt"
            and c["prompt"] == "a red car"
            and 0 <= c["score"] <= 100
            and c["std"] >= 0
        )
        assert any(e["element"] == "car" and e["kind"] == "object" for e in c["elements"])
        assert r.json()["overall"] == plain.json()["overall"]  # the quality score does not read the prompt
        other = client.post(
            "/v1/assess", files={"file": ("p.png", data, "image/png")}, data={"prompt": "two blue birds"}
        )
        assert other.status_code == 200 and other.json()["consistency"]["prompt"] == "two blue birds"
        again = client.post("/v1/assess", files={"file": ("p.png", data, "image/png")})
        assert again.json().get("consistency") is None  # the plain record, not a prompted one
    ref = client.post(
        "/v1/assess",
        files={
            "file": ("p.png", data, "image/png"),
            "reference": ("target.png", png_bytes(96, 96, seed=8), "image/png"),
        },
    )
    assert ref.status_code == 200, ref.text
    rc = ref.json()["consistency"]
    assert rc["source"] == "reference" and rc["reference"] == "target.png" and "/tmp" not in ref.text
    both = client.post(
        "/v1/assess",
        files={"file": ("p.png", data, "image/png"), "reference": ("t.png", data, "image/png")},
        data={"prompt": "a car"},
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"]
