"""The service under hostile load and careless use (issue 18): each guard, and a test that tries it.

Fast in-process checks with TestClient, plus two real uvicorn servers on 127.0.0.1 for what
only a socket shows (forwarded headers, slow headers, the connection cap). The numbers under
load (RSS, /health p99) are measured by benchmarks/service_load.py, not asserted here.
"""

from __future__ import annotations

import io
import logging
import math
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("serve")
import httpx  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from artjudge.serve import Settings  # noqa: E402
from artjudge.serve.admission import host_of  # noqa: E402
from artjudge.serve.exports import _csv_cell  # noqa: E402
from artjudge.serve.server import RateLimitedLog  # noqa: E402
from artjudge.store import open_store, repo  # noqa: E402
from test_serve_security import make_client as _security_client  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ORG = "organiser-hardening-token-0123456789abcdef"


def png(seed: int = 0, w: int = 48, h: int = 40) -> bytes:
    arr = (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def make_client(tmp_path: Path, **overrides: object) -> TestClient:
    """The security tests' client (an allowed folder, SQLite, no rate limit) with this module's organiser."""
    return _security_client(tmp_path, **{"organiser_token": ORG, **overrides})


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        yield c


def auth(token: str = ORG) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# ---------------------------------------------------------------- 1. bounded admission


def test_inference_past_the_waiting_cap_gets_503_with_retry_after(tmp_path: Path) -> None:
    """With the slot busy and the waiting room full, the next upload is refused before its body is read."""
    with make_client(tmp_path, max_waiting=1, inference_concurrency=1, retry_after_s=7) as client:
        app = client.app
        admission = app.middleware_stack  # type: ignore[attr-defined]
        while admission is not None and type(admission).__name__ != "InferenceAdmission":
            admission = getattr(admission, "app", None)
        assert admission is not None and admission.capacity == 2
        admission.in_flight = 2  # two requests already in flight: one running, one waiting
        r = client.post("/v1/assess", files={"file": ("a.png", png(), "image/png")})
        assert r.status_code == 503 and r.headers["retry-after"] == "7"
        assert "busy" in r.json()["detail"]
        assert client.get("/health").status_code == 200  # other endpoints are not held back
        admission.in_flight = 0
        r = client.post("/v1/assess", files={"file": ("a.png", png(), "image/png")})
        assert r.status_code != 503 and admission.in_flight == 0


def test_uploads_are_spooled_to_disk_not_held_in_memory(tmp_path: Path) -> None:
    from tempfile import SpooledTemporaryFile

    from artjudge.serve.uploads import PayloadTooLarge, spool_upload

    payload = os.urandom(300_000)
    with SpooledTemporaryFile(max_size=1024) as src:
        src.write(payload)
        up = spool_upload("big.jpg", src, tmp_path / "x.upload", max_bytes=1_000_000)
        assert up.path.read_bytes() == payload and up.size == len(payload)
        with pytest.raises(PayloadTooLarge, match="big.jpg: over the upload limit"):
            spool_upload("big.jpg", src, tmp_path / "y.upload", max_bytes=100_000)
    with make_client(tmp_path):
        from starlette.formparsers import MultiPartParser

        assert MultiPartParser.spool_max_size == Settings().upload_spool_bytes


# ---------------------------------------------------------------- 2. decode off the loop, cache first


def test_a_cache_hit_pays_no_decode(tmp_path: Path) -> None:
    """A server whose pixel limit refuses every image still answers a cache hit: the hash came first."""
    url = f"sqlite:///{tmp_path / 'cache.sqlite'}"
    with make_client(tmp_path, db_url=url) as client:
        first = client.post("/v1/assess", files={"file": ("a.png", png(3), "image/png")})
        if first.status_code == 503:
            pytest.skip(f"no scorer in this build: {first.json()['detail']}")
        assert first.status_code == 200
    with make_client(tmp_path, db_url=url, max_pixels=1000) as strict:
        again = strict.post("/v1/assess", files={"file": ("b.png", png(3), "image/png")})
        assert again.status_code == 200 and again.json()["overall"] == first.json()["overall"]
        assert again.json()["input"] == "b.png"
        other = strict.post("/v1/assess", files={"file": ("c.png", png(4), "image/png")})
        assert other.status_code == 413 and other.json()["detail"].startswith("c.png: image is 48x40")


# ---------------------------------------------------------------- 3. video limits


def _video(path: Path, seconds: float, fps: int = 10, size: int = 32) -> Path:
    av = pytest.importorskip("av", reason="PyAV (the process extra) is not installed")
    with av.open(str(path), "w") as out:
        st = out.add_stream("mjpeg", rate=fps)
        st.width = st.height = size
        st.pix_fmt = "yuvj420p"
        for i in range(int(seconds * fps)):
            arr = np.full((size, size, 3), (i * 7) % 255, np.uint8)
            for pkt in st.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def test_a_long_video_is_refused_from_its_header_without_a_server_path(tmp_path: Path) -> None:
    from artjudge.serve.uploads import PayloadTooLarge, StoredUpload, check_video_file

    path = _video(tmp_path / "long.avi", seconds=12)
    up = StoredUpload(name="holiday.avi", path=path, sha256="", size=path.stat().st_size)
    assert check_video_file(up, max_seconds=60, max_frames=1000) == ".avi"
    with pytest.raises(PayloadTooLarge) as err:
        check_video_file(up, max_seconds=5, max_frames=1000)
    assert str(err.value).startswith("holiday.avi: video is 12 s long") and str(tmp_path) not in str(
        err.value
    )
    with pytest.raises(PayloadTooLarge, match="120 frames, over the limit of 50"):
        check_video_file(up, max_seconds=60, max_frames=50)
    with make_client(tmp_path, max_video_seconds=5) as client:
        r = client.post("/v1/process", files={"video": ("holiday.avi", path.read_bytes(), "video/x-msvideo")})
        assert r.status_code in (413, 503), r.text  # 503 only when no process judge is in this build
        if r.status_code == 413:
            assert r.json()["detail"].startswith("holiday.avi: video is 12 s long")
            assert "artjudge-process-" not in r.text and "/tmp" not in r.text


def test_video_frames_obey_the_service_pixel_limit(tmp_path: Path) -> None:
    path = _video(tmp_path / "big.avi", seconds=0.5, size=96)  # 9,216-pixel frames
    with make_client(tmp_path, max_pixels=4000) as client:
        r = client.post("/v1/process", files={"video": ("big.avi", path.read_bytes(), "video/x-msvideo")})
        assert r.status_code in (400, 413, 503), r.text  # 503 only when no process judge is in this build
        if r.status_code != 503:
            assert "big.avi" in r.text and "/tmp" not in r.text and "pixel" in r.text.lower()
    (tmp_path / "ok").mkdir()
    with make_client(tmp_path / "ok", max_pixels=100_000) as client:
        r = client.post("/v1/process", files={"video": ("big.avi", path.read_bytes(), "video/x-msvideo")})
        assert r.status_code in (200, 503), r.text


def test_a_fake_video_names_the_upload_not_a_temp_file(client: TestClient) -> None:
    r = client.post(
        "/v1/process",
        files={"video": ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000), "video/mp4")},
    )
    if r.status_code == 503:
        pytest.skip(r.json()["detail"])
    assert r.status_code in (400, 415), r.text
    assert "clip.mp4" in r.json()["detail"] and "artjudge-process-" not in r.text


# ---------------------------------------------------------------- 4. trusted proxies (real server)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        env = {**os.environ, "ARTJUDGE_ORGANISER_TOKEN": ORG, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "artjudge",
                "serve",
                "--port",
                str(self.port),
                "--db",
                f"sqlite:///{tmp / f'db{self.port}.sqlite'}",
                *extra,
            ],
            cwd=REPO,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def test_forwarded_for_is_ignored_unless_a_proxy_is_trusted(tmp_path: Path) -> None:
    server = _Server(tmp_path, "--rate", "0.1", "--burst", "3")
    try:
        codes = []
        for i in range(12):
            r = httpx.get(server.url + "/v1/models", headers={"X-Forwarded-For": f"10.9.{i}.{i}"}, timeout=5)
            codes.append(r.status_code)
        assert codes.count(429) >= 8  # one bucket: the real peer's, whatever the header claims
        assert "10.9." not in server.log.read_text()  # forged addresses never reach the log
    finally:
        server.stop()
    trusted = _Server(tmp_path, "--rate", "0.1", "--burst", "3", "--trusted-proxy", "127.0.0.1")
    try:
        codes = [
            httpx.get(
                trusted.url + "/v1/models", headers={"X-Forwarded-For": f"10.9.{i}.{i}"}, timeout=5
            ).status_code
            for i in range(8)
        ]
        assert 429 not in codes  # behind a trusted proxy each client has its own bucket
    finally:
        trusted.stop()


# ---------------------------------------------------------------- 5. slowloris (real server)


def test_slow_headers_are_cut_off_and_connections_are_capped(tmp_path: Path) -> None:
    from artjudge.serve.server import GuardedH11Protocol

    assert GuardedH11Protocol.header_timeout_s > 0
    # A short header deadline through the settings (the CLI keeps the 10 s default).
    code = (
        "import sys; from artjudge.serve import Settings, create_app; from artjudge.serve.server import run_server;"
        f"s=Settings(db_url='sqlite:///{tmp_path / 'slow.sqlite'}', header_timeout_s=1.0, max_connections=20);"
        f"run_server(create_app(s), s, '127.0.0.1', int(sys.argv[1]), 'warning')"
    )
    port = _free_port()
    log = tmp_path / "slow.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(port)], cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                httpx.get(url + "/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        slow = []
        for _ in range(40):  # twice the cap, each sending one header line and then nothing
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(s)
        time.sleep(1.6)
        closed = 0
        for s in slow:
            s.settimeout(2)
            try:
                closed += s.recv(100) == b""
            except OSError:
                closed += 1
        assert closed == len(slow)  # every slow client was cut off (past the cap at once, the rest at 1 s)
        t0 = time.perf_counter()
        assert httpx.get(url + "/health", timeout=5).status_code == 200
        assert time.perf_counter() - t0 < 2
        for s in slow:
            s.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert log.stat().st_size < 20_000


def test_log_lines_are_rate_limited_and_drops_are_counted() -> None:
    f = RateLimitedLog(per_second=5, burst=5)
    records = [
        logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "refused", None, None)
        for _ in range(1000)
    ]
    passed = [r for r in records if f.filter(r)]
    assert len(passed) == 5 and f.dropped == 995
    time.sleep(0.25)
    late = logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, "refused", None, None)
    assert f.filter(late) and "995 log lines dropped" in late.getMessage()


def test_a_stalled_body_gets_408(tmp_path: Path) -> None:
    import anyio

    from artjudge.serve.admission import BodyTimeout

    sent: list[dict] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        msg = await receive()
        if msg["type"] == "http.disconnect":
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"bad"})

    async def receive():  # type: ignore[no-untyped-def]
        await anyio.sleep(5)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(m):  # type: ignore[no-untyped-def]
        sent.append(m)

    async def main() -> None:
        await BodyTimeout(app, 0.2)(
            {"type": "http", "method": "POST", "path": "/v1/assess", "headers": []}, receive, send
        )

    t0 = time.perf_counter()
    anyio.run(main)
    assert time.perf_counter() - t0 < 3
    assert sent[0]["status"] == 408


# ---------------------------------------------------------------- 6. organiser tokens


def test_organiser_tokens_are_revocable_strong_and_one_role(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'org.sqlite'}"
    with make_client(tmp_path, db_url=url) as client:
        cid = client.post("/v1/campaigns", json={"name": "c", "dimensions": ["x"]}, headers=auth()).json()[
            "id"
        ]
    new = "a-new-organiser-token-after-restart-0123456789"
    with make_client(tmp_path, db_url=url, organiser_token=new) as client:
        # the new token is the same organiser: it sees the campaign; the old env token is revoked
        assert [c["id"] for c in client.get("/v1/campaigns", headers=auth(new)).json()] == [cid]
        assert client.get("/v1/campaigns", headers=auth(ORG)).status_code == 401
    with open_store(url)() as s:
        rows = repo.list_organiser_tokens(s)
        states = [(t.source, t.revoked_at is None) for t, _ in rows]
        assert states == [("env", False), ("env", True)]  # the first env token revoked, the new one active
        assert len({o.id for _, o in rows}) == 1
        assert all(len(t.token_hash) == 64 and new not in t.token_hash for t, _ in rows)
    for weak in ("x", "short-token", "a" * 40, "ab" * 20):
        with pytest.raises(Exception, match="organiser token: "):
            make_client(tmp_path, db_url=url, organiser_token=weak)
    from artjudge.cli import main

    assert main(["organiser", "list", "--db", url]) == 0
    active = [t.id for t, _ in repo.list_organiser_tokens(open_store(url)()) if t.revoked_at is None]
    assert main(["organiser", "revoke", str(active[0]), "--db", url]) == 0
    with make_client(tmp_path, db_url=url, organiser_token=None) as client:
        assert client.get("/v1/campaigns", headers=auth(new)).status_code == 401


def test_migration_0002_keeps_tokens_valid_from_0001(tmp_path: Path) -> None:
    from sqlalchemy import text

    from artjudge.store import make_engine, migrate
    from artjudge.store.tokens import hash_token

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = make_engine(url)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO organisers (name, token_hash, created_at) VALUES ('o', :h, '2026-01-01')"),
            {"h": hash_token(ORG)},
        )
    migrate(engine)
    with open_store(url)() as s:
        assert repo.organiser_by_token(s, ORG) is not None


def test_migration_on_postgresql_when_configured() -> None:
    pg = os.environ.get("ARTJUDGE_TEST_PG_URL")
    if not pg:
        pytest.skip("ARTJUDGE_TEST_PG_URL is not set (start a server with scripts/start_postgres.sh)")
    from artjudge.store import make_engine, migrate

    migrate(make_engine(pg))
    with open_store(pg)() as s:
        org, tok = repo.create_organiser(s, "pg-hardening")
        assert repo.organiser_by_token(s, tok) is not None


def test_two_servers_racing_the_first_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.sqlite'}"
    code = f"from artjudge.store import open_store; open_store({url!r}); print('ok')"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]


# ---------------------------------------------------------------- 9. the lower items


def test_item_import_is_all_or_nothing_retryable_and_deletable(client: TestClient) -> None:
    cid = client.post("/v1/campaigns", json={"name": "c", "dimensions": ["x"]}, headers=auth()).json()["id"]
    files = [("files", (f"i{i}.png", png(i), "image/png")) for i in range(4)]
    files.append(("files", ("bad.png", b"not an image at all", "image/png")))
    r = client.post(f"/v1/campaigns/{cid}/items", files=files, headers=auth())
    assert r.status_code == 415
    assert client.get(f"/v1/campaigns/{cid}", headers=auth()).json()["items"] == []  # nothing kept
    r = client.post(f"/v1/campaigns/{cid}/items", files=files[:4], headers=auth())  # the retry works
    assert r.status_code == 201 and len(r.json()) == 4
    item = r.json()[0]["id"]
    assert client.delete(f"/v1/campaigns/{cid}/items/{item}", headers=auth()).status_code == 204
    assert len(client.get(f"/v1/campaigns/{cid}", headers=auth()).json()["items"]) == 3
    assert client.delete(f"/v1/campaigns/{cid}/items/{item}", headers=auth()).status_code == 404


def test_annotator_names_unique_and_plain(client: TestClient) -> None:
    cid = client.post("/v1/campaigns", json={"name": "c", "dimensions": ["x"]}, headers=auth()).json()["id"]
    client.post(
        f"/v1/campaigns/{cid}/items",
        files=[("files", (f"i{i}.png", png(i), "image/png")) for i in range(3)],
        headers=auth(),
    )
    assert (
        client.post(f"/v1/campaigns/{cid}/annotators", json={"name": "Ann"}, headers=auth()).status_code
        == 201
    )
    r = client.post(f"/v1/campaigns/{cid}/annotators", json={"name": "ann "}, headers=auth())
    assert r.status_code == 409 and "already in campaign" in r.json()["detail"]
    r = client.post(f"/v1/campaigns/{cid}/annotators", json={"name": "Bob\u202egnp.exe"}, headers=auth())
    assert r.status_code == 400 and "U+202E" in r.json()["detail"]
    for dims in (["d" * 65], [f"d{i}" for i in range(33)], ["tab\there"]):
        r = client.post("/v1/campaigns", json={"name": "c2", "dimensions": dims}, headers=auth())
        assert r.status_code in (400, 422), (dims[:1], r.text)


def _read_only(client: TestClient) -> None:
    """Every new connection of the app's engine refuses writes, as a read-only or full database does."""
    from sqlalchemy import event

    engine = client.app.state.sessions.kw["bind"]  # type: ignore[attr-defined]
    event.listen(engine, "connect", lambda conn, _rec: conn.execute("PRAGMA query_only=ON"))
    engine.dispose()


def test_store_failure_is_503_and_health_says_so(tmp_path: Path) -> None:
    with make_client(tmp_path) as client:
        assert client.get("/health").json()["database"] == "ok"
        _read_only(client)
        r = client.post("/v1/campaigns", json={"name": "c", "dimensions": ["x"]}, headers=auth())
        assert r.status_code == 503 and r.json()["detail"].startswith("store: the database is read-only")
        assert "retry-after" in r.headers
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["database"] == "error: the database is read-only"
        # the assessment is still answered: only its cache write failed (and was logged)
        a = client.post("/v1/assess", files={"file": ("a.png", png(9), "image/png")})
        assert a.status_code == 200 or "model" in a.json()["detail"], a.text


def test_store_failure_messages() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from artjudge.serve.app import store_failure_reason

    full = OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))
    assert store_failure_reason(full) == "the database disk is full"
    ro = OperationalError("INSERT", {}, sqlite3.OperationalError("attempt to write a readonly database"))
    assert store_failure_reason(ro) == "the database is read-only"


def test_no_file_existence_oracle_through_path(client: TestClient) -> None:
    answers = {
        p: client.post("/v1/assess", data={"path": p}).json()["detail"].replace(repr(p), "PATH")
        for p in ("no-such.png", "/etc/hostname", ".", "ok.png/x")
    }
    assert len(set(answers.values())) == 1, answers  # the path itself is echoed back, nothing else differs


def test_host_and_origin_checks(client: TestClient) -> None:
    assert client.get("/health", headers={"Host": "evil.example:8000"}).status_code == 421
    assert client.get("/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/health", headers={"Host": "localhost"}).status_code == 200
    r = client.post(
        "/v1/campaigns",
        json={"name": "c", "dimensions": ["x"]},
        headers={**auth(), "Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    r = client.post(
        "/v1/campaigns",
        json={"name": "c", "dimensions": ["x"]},
        headers={**auth(), "Origin": "http://127.0.0.1:8000"},
    )
    assert r.status_code == 201
    assert host_of("[::1]:8000") == "[::1]" and host_of("http://LOCALHOST:1/x") == "localhost"


def test_overflow_and_nan_are_422_not_500(client: TestClient) -> None:
    big = 2**70
    assert client.get(f"/v1/campaigns/{big}", headers=auth()).status_code in (404, 422)
    r = client.post(
        "/v1/campaigns",
        json={"name": "c", "dimensions": ["x"], "scale_min": -big, "scale_max": 5},
        headers=auth(),
    )
    assert r.status_code in (400, 422), r.text
    r = client.post(
        "/v1/campaigns",
        content=b'{"name": "c", "dimensions": ["x"], "scale_min": NaN}',
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and r.json()["detail"]


def test_csv_escaping_leaves_numbers_alone() -> None:
    assert _csv_cell(-2.71) == "-2.71" and _csv_cell("-2.71") == "-2.71" and _csv_cell("+3") == "+3"
    assert _csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _csv_cell("-cmd") == "'-cmd"
    assert _csv_cell("@SUM(A1)") == "'@SUM(A1)" and _csv_cell("-nan") == "'-nan"
    assert _csv_cell(None) == "" and _csv_cell(3) == "3" and not math.isnan(float(_csv_cell(1.5)))


def test_the_assessment_cache_is_bounded_lru(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lru.sqlite'}"
    with open_store(url)() as s:
        for i in range(5):
            rec = {"sha256": f"{i:064d}", "model": {"id": "m", "version": "1"}, "overall": {"score": i}}
            repo.put_assessment(s, rec, False, max_entries=3)
            if i == 2:
                # 0 is used again
                assert repo.get_cached_assessment(s, f"{0:064d}", "m", False, version="1") is not None
        assert repo.count_assessments(s) == 3
        kept = {
            i
            for i in range(5)
            if repo.get_cached_assessment(s, f"{i:064d}", "m", False, version="1") is not None
        }
        assert kept == {0, 3, 4}


def test_no_cache_header(client: TestClient) -> None:
    r = client.post("/v1/assess", files={"file": ("a.png", png(1), "image/png")})
    assert "x-artjudge-cache" not in r.headers


def test_concurrent_waiters_do_not_block_health(tmp_path: Path) -> None:
    """While uploads queue for the model, /health answers (the queue lives in worker threads)."""
    with make_client(tmp_path, max_waiting=4) as client:
        results: list[int] = []

        def post(i: int) -> None:
            results.append(
                client.post("/v1/assess", files={"file": (f"{i}.png", png(100 + i), "image/png")}).status_code
            )

        threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        assert client.get("/health").status_code == 200
        for t in threads:
            t.join(120)
        assert set(results) <= {200, 503} and len(results) == 8
