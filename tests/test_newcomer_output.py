"""A newcomer's first hour (issue 20): output that can be read, names that match, one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artjudge.cli import main, missing_extra_message
from helpers_extras import require_extra

LONG_ID = "midjourney_a_lighthouse_at_dusk_in_thick_impasto_oil_with_a_stormy_sky_seed_12345.png"


def _study(tmp_path: Path) -> tuple[Path, Path]:
    """Pairwise judgments and ratings over items with long ids, like a real campaign's file names."""
    items = [f"{k:02d}_{LONG_ID}" for k in range(6)]
    rng = np.random.default_rng(0)
    rows = [
        (f"a{a}", items[i], items[j], "a" if rng.random() < 0.7 else "b")
        for a in range(3)
        for i in range(6)
        for j in range(i + 1, 6)
    ]
    judgments = tmp_path / "judgments.csv"
    pd.DataFrame(rows, columns=["annotator", "item_a", "item_b", "winner"]).to_csv(judgments, index=False)
    ratings = tmp_path / "ratings.csv"
    pd.DataFrame(
        [(f"a{a}", it, int(rng.integers(1, 6))) for a in range(3) for it in items],
        columns=["annotator", "item", "score"],
    ).to_csv(ratings, index=False)
    return judgments, ratings


def test_fuse_to_a_log_keeps_item_ids_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    judgments, ratings = _study(tmp_path)
    assert (
        main(["fuse", str(judgments), "--ratings", str(ratings), "--scale", "1", "5", "--no-reliability"])
        == 0
    )
    out = capsys.readouterr().out
    rows = [line.split("\t") for line in out.splitlines() if LONG_ID in line]
    assert len(rows) == 6 and all(r[0].endswith(LONG_ID) for r in rows)  # plain rows, nothing cut
    assert "…" not in out and "..." not in out


def test_print_table_wraps_on_a_terminal_instead_of_cutting() -> None:
    from artjudge.cli.tables import PlainTable, print_table

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    t = PlainTable(
        "a title that names a long path " + "/very/long" * 10, ("item", "score"), right=frozenset({"score"})
    )
    t.add_row(LONG_ID, "71.20")
    term = Terminal()
    print_table(t, term)
    text = term.getvalue()
    assert "…" not in text
    # every character of the id is there, folded over lines inside its cell
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if line.count("│") >= 3)
    assert LONG_ID in cells
    assert "/very/long" * 3 in text.replace("\n", "")
    with pytest.raises(ValueError, match="2 columns"):
        t.add_row("only one")


def test_datasets_listing_is_not_truncated(capsys: pytest.CaptureFixture[str]) -> None:
    from artjudge.data import dataset_names, reader_info

    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in dataset_names():
        assert reader_info(name).label_files in out  # whole, at any width


def test_timeline_title_is_wrapped_not_clipped() -> None:
    from artjudge.models.process.plot import TITLE_WIDTH, wrap_title

    path = "/home/someone/paintings/2024/lighthouse-series/attempt-three/timelapse_final_final_v2_really.mp4"
    lines = wrap_title(path).split("\n")
    assert len(lines) > 1 and all(len(line) <= TITLE_WIDTH for line in lines)
    assert "".join(lines) == path  # nothing dropped at either end
    assert lines[0].endswith("/")  # broken after a folder, not mid-name
    assert wrap_title("short") == "short"
    assert "".join(wrap_title("x" * 200).split("\n")) == "x" * 200


def test_assess_critique_uses_the_critique_section_titles(capsys: pytest.CaptureFixture[str]) -> None:
    from artjudge.critique.phrasebook import load_phrasebook

    img = Path(__file__).resolve().parents[1] / "examples" / "sunset.jpg"
    assert main(["assess", str(img), "--critique", "--format", "table"]) == 0
    out = capsys.readouterr().out
    names = load_phrasebook("en").section("attribute_names")
    assert names["visual_elements"] in out  # "Visual Elements & Structure"
    assert "visual_elements:" not in out and "perception:" not in out


def test_level_dict_labels_the_level_array() -> None:
    from artjudge import scoring

    d = scoring.score_to_level_dict(72.5, 8.0)
    assert list(d) == list(scoring.LEVEL_NAMES)
    assert np.allclose(list(d.values()), scoring.score_to_levels(72.5, 8.0))
    assert sum(d.values()) == pytest.approx(1.0)
    assert scoring.levels_to_score(list(d.values())) == pytest.approx(72.5)
    assert max(d, key=d.__getitem__) == "good"


def test_unsupported_image_in_a_folder_is_reported_not_skipped(tmp_path: Path) -> None:
    from artjudge.io import iter_inputs

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.png").write_bytes(b"png")
    (tmp_path / "sub" / "phone.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    (tmp_path / "notes.txt").write_text("not an image, not reported")
    (tmp_path / ".hidden.heic").write_bytes(b"x")
    for sort in (True, False):
        got = {Path(p).name: err for p, err in iter_inputs([str(tmp_path)], sort=sort)}
        assert set(got) == {"a.png", "phone.HEIC"}
        assert got["a.png"] is None
        assert "phone.HEIC: HEIC/HEIF is not supported here; convert it to JPEG or PNG" in str(
            got["phone.HEIC"]
        )
    # a folder holding only unsupported images names them rather than saying "no images"
    only = tmp_path / "sub"
    [(path, err)] = list(iter_inputs([str(only)]))
    assert path.endswith("phone.HEIC") and "HEIC/HEIF" in str(err)
    [(pat, err)] = list(iter_inputs([str(only / "*")]))
    assert "HEIC/HEIF" in str(err)


def test_serve_allow_checks_its_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from artjudge.cli.serve import check_allowed_folders

    assert check_allowed_folders([str(tmp_path)]) == []
    [warning] = check_allowed_folders([str(tmp_path / "missing")])
    assert "missing: no such folder" in warning
    f = tmp_path / "file.txt"
    f.write_text("x")
    require_extra("serve")
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--allow", str(f)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_a_missing_extra_is_one_line_naming_it() -> None:
    err = ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")
    assert missing_extra_message("batch", err) == (
        "`artjudge batch` needs pyarrow, which is not installed: pip install 'artjudge[batch]'"
    )
    sub = ModuleNotFoundError("No module named 'transformers.models'", name="transformers.models")
    assert "pip install 'artjudge[vlm]'" in str(missing_extra_message("assess", sub))
    assert missing_extra_message("assess", ModuleNotFoundError("x", name="not_an_extra")) is None


def test_train_says_how_to_use_what_it_wrote() -> None:
    import argparse

    from artjudge.cli.data import usage_after_training

    args = argparse.Namespace(dataset="agiqa-3k", labels="../shared/data/agiqa-3k", images=None)
    text = usage_after_training(Path("runs/x"), args)
    assert "artjudge assess --model runs/x IMAGE" in text
    assert (
        "artjudge eval --dataset agiqa-3k --labels ../shared/data/agiqa-3k --split test --model runs/x"
        in text
    )
    # and those commands parse
    from artjudge.cli import build_parser

    build_parser().parse_args(
        [
            "eval",
            "--dataset",
            "agiqa-3k",
            "--labels",
            "l",
            "--split",
            "test",
            "--model",
            "runs/x",
            "--out",
            "runs/x/eval",
        ]
    )


def test_card_and_console_count_epochs_the_same_way() -> None:
    from artjudge.models.weights import PACKAGE_WEIGHTS

    card = json.loads((PACKAGE_WEIGHTS / "default" / "card.json").read_text())
    epochs = [h["epoch"] for h in card["history"]]
    assert epochs == list(range(1, len(epochs) + 1))  # 1-based, like "epoch 1/4" on the console
    best = max(card["history"], key=lambda h: h["val_srcc"])
    assert card["best_epoch"] == best["epoch"]


def test_vlm_tokens_listing_fits_80_columns() -> None:
    from artjudge.cli.vlm import format_tokens
    from artjudge.models.vlm.tokens import ScoreTokens
    from artjudge.scoring import LEVEL_NAMES

    score = ScoreTokens(
        [f" {i}" for i in range(101)], list(range(1000, 1101)), "numbers+space", "The score is"
    )
    text = format_tokens("score tokens", [str(i) for i in range(101)], score)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "100 ' 100' 1100" in text and "0 ' 0'" in text
    level = ScoreTokens([f" {n}" for n in LEVEL_NAMES], [5, 6, 7, 8, 9], "levels+space", "The quality is")
    assert "excellent ' excellent' 9" in format_tokens("level tokens", list(LEVEL_NAMES), level)


def test_batch_progress_lines_show_total_rate_and_eta() -> None:
    require_extra("batch")
    from artjudge.batch.progress import BatchProgress, choose_mode, format_duration

    now = [100.0]
    log = io.StringIO()
    assert choose_mode(True, log) == "lines" and choose_mode(False, log) == "off"
    p = BatchProgress("lines", done=10, stream=log, interval=5.0, clock=lambda: now[0])
    p.set_total(110)
    p.advance(1)  # first row of this run: the line is written, no rate yet
    for _ in range(20):
        now[0] += 0.5
        p.advance(1, failed=1 if _ == 3 else 0)
    p.close()
    lines = log.getvalue().splitlines()
    assert lines[0] == "batch: 11/110 images (10.0%), 0.00 img/s, ETA ?, 0 failed"
    assert 2 <= len(lines) <= 5  # throttled to one line per 5 s of (fake) time, plus the last
    assert lines[-1] == "batch: 31/110 images (28.2%), 2.00 img/s, ETA 40s, 1 failed"
    assert format_duration(3725) == "1h02m" and format_duration(65) == "1m05s"
