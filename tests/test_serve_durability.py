"""A real `artjudge serve` process killed mid-campaign loses no acknowledged judgment."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("serve")
import httpx as _httpx  # noqa: E402

from artjudge.cli import main as cli_main  # noqa: E402
from artjudge.store import open_store, repo  # noqa: E402

httpx = _httpx.Client(timeout=60)  # a loaded 2-core machine can be slow; never a flaky timeout
HTTPError = _httpx.HTTPError
TOKEN = "durability-organiser-token-0123456789"


def png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(seed).random((16, 16, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def start(db: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ARTJUDGE_ORGANISER_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "artjudge",
            "serve",
            "--port",
            str(port),
            "--db",
            db,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(600):
        try:
            if _httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except HTTPError:
            time.sleep(0.1)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    raise AssertionError("server did not start")


@pytest.mark.slow
def test_kill_and_restart_keeps_every_acknowledged_judgment(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.sqlite'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    proc = start(db, port)
    try:
        org = {"Authorization": f"Bearer {TOKEN}"}
        cid = httpx.post(url + "/v1/campaigns", json={"name": "d"}, headers=org).json()["id"]
        httpx.post(
            f"{url}/v1/campaigns/{cid}/items",
            headers=org,
            files=[("files", (f"{i}.png", png(i), "image/png")) for i in range(4)],
        ).raise_for_status()
        tok = httpx.post(f"{url}/v1/campaigns/{cid}/annotators", json={"name": "a"}, headers=org).json()[
            "token"
        ]
        ann = {"Authorization": f"Bearer {tok}"}
        tasks = httpx.get(url + "/v1/me", headers=ann).json()["tasks"]
        acked: set[int] = set()
        for k, t in enumerate(tasks):
            if k == len(tasks) // 2:  # kill hard mid-campaign, then start again on the same database
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc = start(db, port)
            body = (
                {"task_id": t["id"], "winner": "b"}
                if t["kind"] == "pair"
                else {"task_id": t["id"], "score": 5}
            )
            r = httpx.post(
                url + "/v1/me/judgments", json=body, headers={**ann, "Idempotency-Key": f"k{t['id']}"}
            )
            assert r.status_code == 201
            acked.add(t["id"])
        # A replay of an acknowledged judgment after the restart is recognised, not stored again.
        first = tasks[0]
        body = (
            {"task_id": first["id"], "winner": "b"}
            if first["kind"] == "pair"
            else {"task_id": first["id"], "score": 5}
        )
        r = httpx.post(
            url + "/v1/me/judgments", json=body, headers={**ann, "Idempotency-Key": f"k{first['id']}"}
        )
        assert r.status_code == 200 and not r.json()["created"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    with open_store(db)() as s:
        assert repo.count_judgments(s, cid) == len(acked) == len(tasks)


def test_organiser_token_command_prints_a_working_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = f"sqlite:///{tmp_path / 'o.sqlite'}"
    assert cli_main(["organiser-token", "--db", db, "--name", "Kim"]) == 0
    token = capsys.readouterr().out.strip()
    with open_store(db)() as s:
        org = repo.organiser_by_token(s, token)
        assert org is not None and org.name == "Kim"
