"""The teacher's whole loop in a real browser: Chromium (Playwright) on a real uvicorn, real SQLite,
120 real AGIQA-3K images and a simulated teacher.

The teacher's grades come from AGIQA-3K's human scores: ``mos_quality`` -> "quality" and
``mos_align`` -> "prompt match", each cut into five equal-width bins of the dataset's range
(1-5). Through the page only (keyboard): a rubric is created with 120 uploaded works, 60 are
graded in the order the page offers them (accepting the model's proposal where it matches
the teacher, correcting it where not), and then the model's predictions for the 60 ungraded
works are read from the works table and must reach SRCC >= 0.6 against the simulated quality
grades. The class report must render its plots, and the CSV and JSON exports must carry the
grades exactly as given.

Screenshots of each step go to test-artifacts/; with ARTJUDGE_DOC_SCREENSHOTS=1 they go to
docs/images/grade-*.png (the ones docs/grading.md shows).
"""

from __future__ import annotations

import csv
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers_extras import require_extra

require_extra("serve")
pytest.importorskip("torch", reason="training the grading model needs the [torch] extra")
pytest.importorskip("sklearn", reason="training the grading model needs the [analysis] extra")
pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ORG = "organiser-token-grading-browser-0123456789"
N_WORKS, N_GRADED = 120, 60
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


def shots_dir() -> Path:
    if os.environ.get("ARTJUDGE_DOC_SCREENSHOTS") == "1":
        return ROOT / "docs" / "images"
    return ROOT / "test-artifacts"


def teacher_grades(agiqa_dir: Path) -> tuple[list[Path], dict[str, dict[str, int]]]:
    """120 works (fixed sample) and the simulated teacher's grades by file name."""
    import pandas as pd

    full = pd.read_csv(agiqa_dir / "data.csv")
    sample = full.sample(N_WORKS, random_state=0)
    grades: dict[str, dict[str, int]] = {}
    cols = {"quality": "mos_quality", "prompt match": "mos_align"}
    for name, row in zip(sample["name"], sample.itertuples(), strict=True):
        grades[name] = {}
        for attr, col in cols.items():
            lo, hi = float(full[col].min()), float(full[col].max())
            grades[name][attr] = int(np.clip(1 + np.floor(5 * (getattr(row, col) - lo) / (hi - lo)), 1, 5))
    return [agiqa_dir / "images" / n for n in sample["name"]], grades


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium not found at /usr/bin/chromium (run scripts/install_browser.sh)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import socket

    import uvicorn

    from artjudge.serve import Settings, create_app

    tmp = tmp_path_factory.mktemp("grade")
    app = create_app(
        Settings(
            db_url=f"sqlite:///{tmp / 'grade.sqlite'}",
            organiser_token=ORG,
            rate_per_second=1000,
            rate_burst=1000,
            extra={"grade_cache_dir": str(tmp / "features")},  # cold: every work is encoded once, here
        )
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    th.join(timeout=10)


def grade_one(page: object, grades: dict[str, dict[str, int]], attrs: list[str]) -> str:
    """The simulated teacher grades the work on screen by keyboard; returns "accepted" or "keyed"."""
    fig = page.locator("#grade-figure")  # type: ignore[attr-defined]
    key = fig.get_attribute("data-key")
    want = grades[key]
    proposed = {}
    for a in attrs:
        p = page.locator(f'.attr-row[data-attr="{a}"] .proposal')  # type: ignore[attr-defined]
        proposed[a] = int(p.get_attribute("data-proposed")) if p.count() else None
    how = "keyed"
    offered = [a for a in attrs if proposed[a] is not None]
    if offered and all(proposed[a] == want[a] for a in offered):
        page.keyboard.press("a")  # type: ignore[attr-defined]  # takes the proposal; the rest stays to key
        how = "accepted"
    for a in attrs:  # each digit grades the highlighted attribute and moves to the next ungraded one
        if how == "keyed" or a not in offered:
            page.keyboard.press(str(want[a]))  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    return how


def test_a_teacher_grades_60_works_and_the_model_predicts_the_other_60(
    server: tuple[str, object], agiqa_dir: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from artjudge.eval import metrics

    url, app = server
    paths, grades = teacher_grades(agiqa_dir)
    attrs = ["quality", "prompt match"]
    shots = shots_dir()
    shots.mkdir(parents=True, exist_ok=True)
    expect.set_options(timeout=60_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        page.goto(url + "/grade")
        page.fill("#org-token", ORG)
        page.click("#login-form button[type=submit]")
        expect(page.locator("#home")).to_be_visible()
        # 1. a rubric: two attributes on 1-5, words for two levels, 120 uploaded works
        page.fill("#r-name", "AGIQA class <demo>")
        page.fill("#r-attrs", ", ".join(attrs))
        page.fill("#r-desc", "quality 1: broken, artefacts everywhere\nquality 5: clean and convincing")
        page.set_input_files("#r-files", [str(x) for x in paths])
        page.screenshot(path=str(shots / "grade-1-new-rubric.png"))
        page.click("#r-create")
        expect(page.locator("#rubric")).to_be_visible()
        expect(page.locator("#page-title")).to_have_text("AGIQA class <demo>")  # text, never markup
        # 2. grade 60 works by keyboard in the order the page offers them
        taken: list[str] = []
        how: dict[str, str] = {}
        for i in range(N_GRADED):
            expect(page.locator("#grade-key")).to_contain_text(f"{i} of {N_WORKS} graded")
            if i == 5:
                page.screenshot(path=str(shots / "grade-2-grading.png"))
            if i == 20:  # the model trains in the background; a fast simulated teacher waits for it once
                expect(page.locator("#model-line")).to_have_attribute(
                    "data-status", "trained", timeout=150_000
                )
            if i == 30:  # from the first training on, the page proposes (skilled attributes only)
                expect(page.locator(".attr-row .proposal").first).to_be_visible()
                page.screenshot(path=str(shots / "grade-3-proposal.png"))
                page.keyboard.press("f")
                expect(page.locator("#feedback-body p").first).not_to_have_text("Writing feedback…")
                page.locator("#feedback").scroll_into_view_if_needed()
                page.screenshot(path=str(shots / "grade-4-feedback.png"), full_page=True)
            key = page.locator("#grade-figure").get_attribute("data-key")
            assert key is not None and key not in taken
            how[key] = grade_one(page, grades, attrs)
            taken.append(key)
        expect(page.locator("#grade-key")).to_contain_text(f"{N_GRADED} of {N_WORKS} graded")
        assert "accepted" in how.values()  # proposals matched the teacher at least sometimes
        # 3. the model settles on all 60 grades; the skill table shows each attribute's CI
        expect(page.locator("#model-line")).to_have_attribute(
            "data-trained-on", str(N_GRADED), timeout=180_000
        )
        expect(page.locator('#skill-table tr[data-attr="quality"] td').nth(3)).to_contain_text("yes")
        # 4. the works table: predictions (marked) for the 60 ungraded works
        page.click("#tab-works")
        rows = page.locator("#works-table tr[data-key]")
        expect(rows).to_have_count(N_WORKS)
        pred, truth = [], []
        for r in range(N_WORKS):
            row = rows.nth(r)
            key = row.get_attribute("data-key")
            if key in taken:
                continue
            cell = row.locator("td.pred").first  # the quality column comes first
            pred.append(float(cell.get_attribute("data-grade")))
            truth.append(grades[key]["quality"])
        assert len(pred) == N_WORKS - N_GRADED
        srcc = metrics.srcc(np.array(pred), np.array(truth))
        print(
            f"\nSRCC of the predictions for the {len(pred)} ungraded works vs the simulated quality grades: {srcc:.3f}"
        )
        assert srcc >= 0.6, srcc
        page.locator("#works-table td.pred").first.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "grade-5-works.png"))
        # 5. the class report: a plot per attribute, disagreements, exemplars; printable
        page.click("#tab-report")
        expect(page.locator("svg.dist")).to_have_count(len(attrs))
        expect(page.locator("svg.dist rect.bar-teacher")).to_have_count(5 * len(attrs))
        expect(page.locator("#disagreements tr")).not_to_have_count(1)
        expect(page.locator(".exemplars .thumb-fig")).to_have_count(3 * len(attrs))
        page.wait_for_function(
            "[...document.querySelectorAll('.exemplars img')].every(i => i.complete && i.naturalWidth > 0)"
        )
        page.screenshot(path=str(shots / "grade-6-report.png"), full_page=True)
        for line in (
            page.locator(".chart figcaption").all_inner_texts()
            + page.locator("#report ul li").all_inner_texts()
        ):
            print(line)
        page.emulate_media(media="print")
        expect(page.locator("header.top")).to_be_hidden()
        expect(page.locator("#tab-grade")).to_be_hidden()
        page.pdf(path=str(tmp_path / "report.pdf"))
        assert (tmp_path / "report.pdf").stat().st_size > 10_000
        page.emulate_media(media="screen")
        # 6. exports round-trip: the grades exactly as given, the model's marked apart
        with page.expect_download() as dl:
            page.click("#export-csv")
        rows_csv = list(csv.DictReader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
        with page.expect_download() as dl:
            page.click("#export-json")
        data = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
        assert len(rows_csv) == len(data["works"]) == N_WORKS
        by_key = {r["key"]: r for r in rows_csv}
        for w in data["works"]:
            r = by_key[w["key"]]
            if w["key"] in taken:
                assert w["grade"]["scores"] == grades[w["key"]]
                assert {a: int(r[a]) for a in attrs} == grades[w["key"]]
                assert r["source"] in ("teacher", "accepted", "corrected")
            else:
                assert w["grade"] is None and r["source"] == "model"
                assert float(r["quality"]) == pytest.approx(w["prediction"]["quality"]["grade"])
        # 7. narrow screens: the grading view stacks and stays usable
        page.set_viewport_size({"width": 390, "height": 844})
        page.click("#tab-grade")
        expect(page.locator("#grade-save")).to_be_visible()
        page.screenshot(path=str(shots / "grade-7-narrow.png"), full_page=True)
        browser.close()
    assert app.state.grade_worker.idle(timeout=60)  # type: ignore[attr-defined]
