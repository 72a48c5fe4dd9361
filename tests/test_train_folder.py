"""A model folder is written whole (issue 26 item 6, issue 24 item 5): old or new, never mixed.

Also the train command's small promises: an id from --name or the folder, a card that says
what trained it, one line for too few labels or a missing torch, clean progress lines in a
log file, and no leftover that blocks a rerun.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from helpers_images import write_paintings

N_WORKS = 40


def _brightness(path: Path) -> float:
    return float(np.asarray(Image.open(path).convert("HSV"), dtype=np.float64)[..., 2].mean() / 255.0)


@pytest.fixture(scope="module")
def grades(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 generated works graded 1-5: overall follows brightness, colour too (plus a little noise)."""
    root = tmp_path_factory.mktemp("folder")
    paths = write_paintings(root / "imgs", N_WORKS)
    rng = np.random.default_rng(3)
    with open(root / "grades.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "overall", "colour"])
        for p in paths:
            b = _brightness(p)
            w.writerow(
                [p.name, round(1 + 4 * b, 3), round(float(np.clip(1 + 4 * b + rng.normal(0, 0.3), 1, 5)), 3)]
            )
    return root / "grades.csv"


def _train_args(grades: Path, out: Path, *extra: str, attrs: bool = True) -> list[str]:
    args = ["train", "--dataset", "csv", "--labels", str(grades), "--images", str(grades.parent / "imgs"),
            "--image-col", "file", "--score-col", "overall", "--scale", "1,5", "--out", str(out),
            "--set", "cv_folds=3"]  # fmt: skip
    return args + (["--attr-cols", "colour"] if attrs else []) + list(extra)


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from artjudge.cli import main as cli_main

    rc = cli_main(args)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def _digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


@pytest.fixture(scope="module")
def rubric_model(grades: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from artjudge.cli import main as cli_main

    out = tmp_path_factory.mktemp("models") / "class-7b"
    assert cli_main(_train_args(grades, out)) == 0
    return out


def test_the_card_names_the_model_and_says_what_trained_it(rubric_model: Path, grades: Path) -> None:
    import artjudge

    card = json.loads((rubric_model / "card.json").read_text(encoding="utf-8"))
    assert card["id"] == "class-7b"  # the folder's name, never one constant for every custom model
    data = card["data"]
    assert data["labels"] == str(grades) and data["images"] == str(grades.parent / "imgs")
    assert data["columns"] == {"score_col": "overall", "attr_cols": "colour", "image_col": "file"}
    assert sum(data["rows"].values()) == N_WORKS and data["labelled"] == {
        "overall": N_WORKS,
        "colour": N_WORKS,
    }
    assert "cross-validation" in card["split"] and "test" in card["split"]
    for t in ("overall", "colour"):
        sk = card["skill"]["heads"][t]
        assert sk["ci"][0] <= sk["cv_srcc"] <= sk["ci"][1] and sk["skilled"] == (sk["ci"][0] > 0.1)
        cal = card["calibration"]["heads"][t]
        assert cal["scale"] == "cv_std_widened" and cal["q"] > 0 and cal["n"] == sk["n"]
    assert card["calibration"]["level"] == 0.9 and "rule" in card["skill"]
    assert (rubric_model / "seal.json").is_file()
    assert artjudge.load(str(rubric_model)).info()["id"] == "class-7b"


def test_name_sets_the_id(grades: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m"
    rc, stdout, _ = _cli(_train_args(grades, out, "--name", "ms-lee-rubric", attrs=False), capsys)
    assert rc == 0 and "'ms-lee-rubric'" in stdout
    assert json.loads((out / "card.json").read_text())["id"] == "ms-lee-rubric"


def test_a_retrain_leaves_nothing_of_the_old_model(
    rubric_model: Path, grades: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retrained on the score column alone: no stale rubric attribute survives, and it critiques."""
    import shutil

    import artjudge

    out = tmp_path / "retrained"
    shutil.copytree(rubric_model, out)
    (out / "notes.txt").write_text("a file of the old folder")  # a stale file of any kind
    rc, _, _ = _cli(_train_args(grades, out, "--force", attrs=False), capsys)
    assert rc == 0
    assert not (out / "notes.txt").exists()
    card = json.loads((out / "card.json").read_text())
    assert card["targets"] == ["overall"] and "colour" not in json.dumps(card["skill"])
    rubric = json.loads((out / "rubric.json").read_text())
    assert set(rubric["attributes"]) == {"overall"}
    assert len(np.load(out / "exemplars.npy")) == len(rubric["exemplars"])
    rec = artjudge.load(str(out)).assess(str(grades.parent / "imgs" / "painting_000.jpg"), critique=True)
    assert rec.attributes == {} and rec.critique is not None
    assert not list(tmp_path.glob(".retrained.*"))  # no staging folder left behind


def test_a_failed_retrain_keeps_the_old_model_and_blocks_no_rerun(
    rubric_model: Path, grades: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    import artjudge

    few = tmp_path / "few.csv"
    lines = grades.read_text().splitlines()
    few.write_text("\n".join(lines[:13]) + "\n")  # 12 graded works: under the 20 a head needs
    (tmp_path / "imgs").symlink_to(grades.parent / "imgs")
    out = tmp_path / "kept"
    shutil.copytree(rubric_model, out)
    before = _digests(out)
    rc, _, err = _cli(_train_args(few, out, "--force"), capsys)
    assert rc == 2
    error_lines = [ln for ln in err.splitlines() if ln.startswith("artjudge: error:")]
    assert len(error_lines) == 1 and "no target has enough labels" in error_lines[0], err
    assert "Traceback" not in err
    assert _digests(out) == before  # untouched, and still loads
    artjudge.load(str(out)).assess(str(grades.parent / "imgs" / "painting_001.jpg"))
    # into a new folder: the failed run leaves nothing (no train_config.json) that refuses the rerun
    fresh = tmp_path / "fresh"
    assert _cli(_train_args(few, fresh), capsys)[0] == 2
    assert not fresh.exists() or not any(fresh.iterdir())
    assert _cli(_train_args(grades, fresh, attrs=False), capsys)[0] == 0


def test_a_kill_mid_run_leaves_the_old_model_loadable(
    rubric_model: Path, grades: Path, tmp_path: Path
) -> None:
    """SIGKILL while the new model is being made: the old folder is byte-identical and loads."""
    import shutil

    import artjudge

    out = tmp_path / "killed"
    shutil.copytree(rubric_model, out)
    before = _digests(out)
    log = tmp_path / "train.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "artjudge", *_train_args(grades, out, "--force", attrs=False)],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
        deadline = time.time() + 120
        while time.time() < deadline and "cross-validation fold 1/3" not in log.read_text():
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert "cross-validation fold 1/3" in log.read_text()  # killed mid-run, not before or after it
    assert _digests(out) == before
    artjudge.load(str(out)).assess(str(grades.parent / "imgs" / "painting_002.jpg"))
    # the next run clears the killed run's half-written folder
    from artjudge.train.output import staged_model_folder

    assert list(tmp_path.glob(".killed.new-*"))
    with pytest.raises(RuntimeError), staged_model_folder(out):
        raise RuntimeError("nothing written")
    assert not list(tmp_path.glob(".killed.new-*")) and _digests(out) == before


def test_train_progress_in_a_log_is_clean_lines_and_no_torch_says_which_extra(
    grades: Path, tmp_path: Path
) -> None:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = tmp_path / "train.log"
    with open(log, "w") as fh:
        rc = subprocess.run(
            [sys.executable, "-m", "artjudge", *_train_args(grades, tmp_path / "m", attrs=False)],
            stdout=fh, stderr=subprocess.STDOUT, env=env, check=False,
        ).returncode  # fmt: skip
    text = log.read_text()
    assert rc == 0 and "\r" not in text, text[-2000:]
    assert f"features: {N_WORKS}/{N_WORKS} images" in text
    no_torch = (
        "import sys; sys.modules['torch'] = None; from artjudge.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    res = subprocess.run(
        [sys.executable, "-c", no_torch, *_train_args(grades, tmp_path / "n", attrs=False)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "pip install 'artjudge[torch]'" in res.stderr and not (tmp_path / "n").exists()


def test_unskilled_noise_head_is_flagged_not_graded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pure-noise column: train prints a NOT SKILLED line, the record keeps it out of the grades."""
    import artjudge
    from helpers_images import painting

    (tmp_path / "imgs").mkdir()
    rng = np.random.default_rng(11)
    rows: list[dict[str, Any]] = []
    paths = []
    for i in range(60):
        light = float(rng.uniform(0.25, 1.0))  # a strong, learnable property: how light the work is
        p = tmp_path / "imgs" / f"w{i:03d}.jpg"
        Image.fromarray((np.asarray(painting(100 + i), dtype=np.float64) * light).astype(np.uint8)).save(p)
        paths.append(p)
        rows.append(
            {"file": p.name, "overall": round(1 + 4 * light, 3), "noise": round(float(rng.uniform(1, 5)), 3)}
        )
    with open(tmp_path / "g.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = tmp_path / "m"
    args = _train_args(tmp_path / "g.csv", out, attrs=False) + ["--attr-cols", "noise"]
    rc, stdout, _ = _cli(args, capsys)
    assert rc == 0
    card = json.loads((out / "card.json").read_text())
    assert card["skill"]["heads"]["overall"]["skilled"] is True, card["skill"]
    assert card["skill"]["heads"]["noise"]["skilled"] is False
    assert "NOT SKILLED: noise (CV SRCC" in stdout
    assert "noise (" not in next(ln for ln in stdout.splitlines() if ln.startswith("trained: "))
    rec = artjudge.load(str(out)).assess(str(paths[0]))
    assert "noise" not in rec.attributes
    assert any("unskilled attributes" in n and "noise" in n for n in rec.notes)
    assert "noise" not in artjudge.load(str(out)).info()["attributes"]


def test_the_ensemble_path_writes_its_folder_whole_with_skill_and_intervals(
    grades: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Above small_data_max (here forced to 0) the MLP ensemble trains; its card says the same things."""
    import artjudge

    out = tmp_path / "ens"
    extra = [
        "--set",
        "small_data_max=0",
        "--set",
        "epochs=2",
        "--set",
        "head.members=2",
        "--set",
        "head.hidden=16",
    ]
    rc, stdout, _ = _cli(_train_args(grades, out, *extra), capsys)
    assert rc == 0 and "epoch 2/2" in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "card.json",
        "head.pt",
        "head.pt.sha256",
        "seal.json",
        "train_config.json",
    ]
    card = json.loads((out / "card.json").read_text())
    assert card["id"] == "ens" and "val selects the epoch" in card["split"]
    for t in ("overall", "colour"):
        assert card["calibration"]["heads"][t]["scale"] == "constant"
        assert set(card["skill"]["heads"][t]) == {"cv_srcc", "ci", "skilled", "n"}
    assert not (tmp_path / ".ens.resume").exists()  # the per-epoch state goes once the run is done
    artjudge.load(str(out)).assess(str(grades.parent / "imgs" / "painting_003.jpg"))
