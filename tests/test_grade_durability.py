"""A real `artjudge serve` process killed (SIGKILL) mid-grading loses no acknowledged grade."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from helpers_extras import require_extra

require_extra("serve")
from artjudge.store import grading_repo, open_store  # noqa: E402
from test_serve_durability import TOKEN, httpx, png, start  # noqa: E402


@pytest.mark.slow
def test_kill_mid_grading_keeps_every_acknowledged_grade(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1/grade"
    org = {"Authorization": f"Bearer {TOKEN}"}
    proc = start(db, port)
    try:
        body = {"name": "d", "attributes": ["colour", "form"], "scale_min": 1, "scale_max": 5}
        rid = httpx.post(url + "/rubrics", json=body, headers=org).json()["id"]
        works = httpx.post(
            f"{url}/rubrics/{rid}/works",
            headers=org,
            files=[("files", (f"w{i}.png", png(i), "image/png")) for i in range(6)],
        ).json()
        acked: dict[int, dict[str, int]] = {}
        for k, w in enumerate(works):
            if k == 3:  # kill hard right after an acknowledged grade, then start on the same database
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                proc = start(db, port)
            scores = {"colour": 1 + k % 5, "form": 5 - k % 5}
            r = httpx.put(f"{url}/rubrics/{rid}/works/{w['id']}/grade", json={"scores": scores}, headers=org)
            assert r.status_code == 200 and r.json()["graded"] == k + 1
            acked[w["id"]] = scores
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
    with open_store(db)() as s:
        stored = {wid: g.scores for wid, g in grading_repo.grades_of(s, rid).items()}
    assert stored == acked
