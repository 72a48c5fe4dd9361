"""Browser tests: Playwright driving Debian's Chromium against a real uvicorn on 127.0.0.1.

Screenshots go to test-artifacts/ (gitignored). Skips with a reason when Chromium or
Playwright is missing (scripts/install_browser.sh installs Chromium).
"""

from __future__ import annotations

import csv
import functools
import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import needs_extra, require_extra

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
ORG = "organiser-token-browser-tests-000111"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@functools.cache
def scorer_problem() -> str | None:
    import artjudge
    from artjudge.errors import ArtjudgeError

    try:
        artjudge.load("default")
    except (ArtjudgeError, ImportError, OSError) as err:
        return str(err)
    return None


def painting(seed: int, size: int = 160) -> bytes:
    """A small synthetic 'painting': a gradient sky, a sun and noise, so features are non-trivial."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = np.stack([0.3 + 0.6 * y, 0.4 + 0.3 * x, 0.9 - 0.5 * y], -1)
    cx, cy = rng.uniform(0.2, 0.8, 2)
    sun = ((x - cx) ** 2 + (y - cy) ** 2) < 0.02
    img[sun] = [1.0, 0.8, 0.2]
    img += rng.normal(0, 0.04 + 0.02 * seed, img.shape)
    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not found at /usr/bin/chromium (run scripts/install_browser.sh)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")
    require_extra("serve")
    import uvicorn

    from artjudge.serve import Settings, create_app

    tmp = tmp_path_factory.mktemp("browser")
    app = create_app(
        Settings(
            db_url=f"sqlite:///{tmp / 'b.sqlite'}", organiser_token=ORG, rate_per_second=500, rate_burst=500
        )
    )
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(timeout=10)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[object]:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a loaded 2-core machine: wait for the answer, never flake
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        yield b
        b.close()


def test_assess_an_image_and_see_the_critique(server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    img = tmp_path / "sunset.png"
    img.write_bytes(painting(1, 256))
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(server + "/")
    expect(page.locator("h1")).to_have_text("Judge an artwork")
    page.set_input_files("#file", str(img))
    problem = scorer_problem()
    if problem is not None:  # no scorer in this build: the page must say why, clearly
        expect(page.locator("#assess-status")).to_contain_text("Could not judge sunset.png", timeout=60_000)
        expect(page.locator("#assess-status")).to_contain_text("model 'default'")
        page.screenshot(path=str(ARTIFACTS / "assess-unavailable.png"), full_page=True)
        return
    expect(page.locator("#assess-status")).to_contain_text("Judged sunset.png", timeout=90_000)
    score = float(page.locator("#score").inner_text().split("±")[0])
    assert 0 <= score <= 100
    # two spreads, named apart: the error interval and the raters' spread (issue 25.1)
    expect(page.locator("#score-spread")).to_contain_text("(90% interval); raters would spread ±")
    expect(page.locator("#band-help")).to_contain_text("error interval")
    expect(page.locator("#critique-panel")).to_be_visible()
    assert page.locator("#crit-attr .sentences li").count() > 0
    assert page.locator("#crit-attr .chip").count() > 0  # evidence behind the sentences
    page.keyboard.press("Tab")
    page.click("#tab-level")
    expect(page.locator("#crit-level")).to_be_visible()
    assert page.locator("#crit-level .sentences li").count() > 0
    page.screenshot(path=str(ARTIFACTS / "assess-critique.png"), full_page=True)
    narrow = browser.new_page(viewport={"width": 390, "height": 844})  # type: ignore[attr-defined]
    narrow.goto(server + "/")
    narrow.set_input_files("#file", str(img))
    expect(narrow.locator("#assess-status")).to_contain_text("Judged", timeout=90_000)
    width = narrow.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"page scrolls sideways on a phone ({width}px)"
    narrow.screenshot(path=str(ARTIFACTS / "assess-narrow.png"), full_page=True)


def _campaign(server: str) -> tuple[int, str]:
    import httpx

    h = {"Authorization": f"Bearer {ORG}"}
    with httpx.Client(base_url=server, headers=h) as c:
        cid = c.post(
            "/v1/campaigns",
            json={
                "name": "Browser panel",
                "dimensions": ["aesthetics"],
                "instructions": "Compare, then rate.",
            },
        ).json()["id"]
        files = [("files", (f"work{i}.png", painting(i), "image/png")) for i in range(5)]
        assert c.post(f"/v1/campaigns/{cid}/items", files=files).status_code == 201
        inv = c.post(f"/v1/campaigns/{cid}/annotators", json={"name": "Ada"}).json()
    assert inv["tasks"] == 15
    return cid, inv["link"]


@needs_extra("text")
def test_assess_with_a_prompt_shows_consistency_escaped(server: str, browser: object, tmp_path: Path) -> None:
    """A prompt typed next to the upload gives the consistency panel; markup in it stays text."""
    from playwright.sync_api import expect

    if scorer_problem() is not None:
        pytest.skip("no scorer in this build")
    img = tmp_path / "car.png"
    img.write_bytes(painting(2, 128))
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.uncheck("#critique")
    page.fill("#prompt", "a red car <img src=x onerror=alert(1)>")
    page.set_input_files("#file", str(img))
    expect(page.locator("#assess-status")).to_contain_text("Judged car.png", timeout=90_000)
    expect(page.locator("#consistency-panel")).to_be_visible()
    score = float(page.locator("#cons-score").inner_text().split("±")[0])
    assert 0 <= score <= 100
    expect(page.locator("#cons-spread")).to_contain_text("(90% interval)")  # its error interval
    expect(page.locator("#cons-line")).to_contain_text("<img src=x onerror=alert(1)>")  # shown as text
    assert page.locator("#consistency-panel img").count() == 0
    assert page.locator("#cons-table tr").count() >= 2  # header + the 'car' element at least
    expect(page.locator("#cons-table")).to_contain_text("red on")  # the colour bound to its object


def test_annotator_completes_10_pairs_and_5_ratings_by_keyboard(server: str, browser: object) -> None:
    from playwright.sync_api import expect

    cid, link = _campaign(server)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(server + link)
    expect(page.locator("#progress-text")).to_have_text("0 of 15 done")
    assert "token" not in page.url  # the token leaves the address bar at once
    keys = ["a", "b", "t", "ArrowLeft", "ArrowRight"]
    for k in range(10):
        expect(page.locator("#question")).to_contain_text("Which is better")
        expect(page.locator("#task img").first).to_have_attribute("src", __import__("re").compile("^blob:"))
        if k == 0:
            page.screenshot(path=str(ARTIFACTS / "annotate-pair.png"))
        if k == 4:  # pause and resume mid-way
            page.keyboard.press("p")
            expect(page.locator("#paused")).to_be_visible()
            page.keyboard.press("p")
        page.keyboard.press(keys[k % len(keys)])
        expect(page.locator("#progress-text")).to_have_text(f"{k + 1} of 15 done")
    for k in range(5):
        expect(page.locator("#question")).to_contain_text("Rate aesthetics")
        if k == 0:
            page.screenshot(path=str(ARTIFACTS / "annotate-rating.png"))
        page.keyboard.press(str(k + 2))
        expect(page.locator("#progress-text")).to_have_text(f"{11 + k} of 15 done")
    expect(page.locator("#done")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "annotate-done.png"))

    import httpx

    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ORG}"}) as c:
        rows = list(csv.DictReader(io.StringIO(c.get(f"/v1/campaigns/{cid}/export/judgments.csv").text)))
        ratings = list(csv.DictReader(io.StringIO(c.get(f"/v1/campaigns/{cid}/export/ratings.csv").text)))
    assert len(rows) == 10 and sorted(r["winner"] for r in rows) == sorted(["a", "b", "tie", "a", "b"] * 2)
    assert sorted(float(r["score"]) for r in ratings) == [2, 3, 4, 5, 6]


def test_organiser_exports(server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    cid, link = _campaign(server)
    ann = browser.new_page()  # type: ignore[attr-defined]
    ann.goto(server + link)
    for k in range(10):
        expect(ann.locator("#progress-text")).to_have_text(f"{k} of 15 done")
        ann.keyboard.press("a")
    for k in range(5):
        expect(ann.locator("#progress-text")).to_have_text(f"{10 + k} of 15 done")
        ann.keyboard.press(str(k + 1))
    expect(ann.locator("#done")).to_be_visible()

    page = browser.new_page(viewport={"width": 1280, "height": 1000}, accept_downloads=True)  # type: ignore[attr-defined]
    page.goto(server + "/organise")
    page.fill("#org-token", ORG)
    page.keyboard.press("Enter")
    expect(page.locator("#workspace")).to_be_visible()
    page.locator(f"#campaign-list a[data-id='{cid}']").click()
    expect(page.locator("#progress")).to_contain_text("15 / 15")
    with page.expect_download() as dl:
        page.click("#exp-judgments")
    path = tmp_path / "judgments.csv"
    dl.value.save_as(path)
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == [
        "annotator",
        "item_a",
        "item_b",
        "winner",
        "dimension",
        "confidence",
        "timestamp",
    ]
    assert len(rows) == 10 and all(r["annotator"] == "Ada" for r in rows)
    with page.expect_download() as dl2:
        page.click("#exp-ratings")
    rpath = tmp_path / "ratings.csv"
    dl2.value.save_as(rpath)
    assert len(list(csv.DictReader(rpath.open()))) == 5
    page.click("#show-fused")
    expect(page.locator("#fused table")).to_contain_text("work0.png")
    page.fill("#inv-name", "Bea")
    page.click("#invite-form button")
    expect(page.locator("#invite-link")).to_contain_text("/annotate#token=")
    page.screenshot(path=str(ARTIFACTS / "organise-export.png"), full_page=True)


def test_judge_a_painting_process_from_frames(server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    frames = []
    for i in range(4):  # a painting filling in from the top, one band per frame
        arr = np.full((96, 96, 3), 245, np.uint8)
        arr[: (i + 1) * 24] = (180 - 30 * i, 90 + 20 * i, 60)
        p = tmp_path / f"frame{i}.png"
        Image.fromarray(arr).save(p)
        frames.append(str(p))
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.keyboard.press("Tab")  # skip link
    page.click("#tab-process")
    expect(page.locator("#panel-process")).to_be_visible()
    page.set_input_files("#process-files", frames)
    expect(page.locator("#process-status")).to_contain_text("4 frames")
    page.click("#process-go")
    expect(page.locator("#process-status")).not_to_contain_text("Judging", timeout=120_000)
    text = page.locator("#process-status").inner_text()
    if "Could not" in text:  # no process judge in this build: the page says why
        assert "process judge" in text
        return
    # no reference: consistency is not judged, and the page says so (issue 16)
    expect(page.locator("#process-table")).to_contain_text("Process stability")
    expect(page.locator("#process-table")).not_to_contain_text("Consistency")
    expect(page.locator("#process-notes")).to_contain_text("Consistency is not judged")
    expect(page.locator("#process-signals")).to_contain_text("coverage")  # measured canvas signals
    expect(page.locator("#process-table")).to_contain_text("Final score (0-100)")  # the record's scale
    expect(page.locator("#process-table")).to_contain_text("PPJudge (1-10)")  # and score / 10 beside it
    assert page.locator("#timeline svg circle").count() == 4
    page.screenshot(path=str(ARTIFACTS / "process-timeline.png"), full_page=True)
