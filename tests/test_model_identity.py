"""Model identity (issue 24.1): every output-changing file of a model folder is sealed, the
version carries the folder's digest, and the service's result cache keys on id AND version,
so two rubric models served from one database (or one model retrained) never answer with
each other's records."""

from __future__ import annotations

import csv
import json
import shutil
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from artjudge.errors import ModelNotAvailable
from artjudge.models.weights import (
    PACKAGE_WEIGHTS,
    SEAL_FILE,
    folder_digest,
    read_card,
    seal_folder,
    versioned,
)
from helpers_extras import needs_extra
from helpers_images import write_paintings


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "card.json").write_text(json.dumps({"id": "m", "version": "1"}))
    (folder / "head.pt").write_bytes(b"weights")
    (folder / "head.pt.sha256").write_text("x  head.pt\n")  # a sidecar: restates a digest, not sealed
    (folder / "MODEL_CARD.md").write_text("prose")
    return folder


def test_seal_covers_every_output_changing_file(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    digest = seal_folder(folder)
    sealed = json.loads((folder / SEAL_FILE).read_text())["files"]
    assert set(sealed) == {"card.json", "head.pt"}
    assert folder_digest(folder) == digest
    (folder / "MODEL_CARD.md").write_text("other prose")  # prose does not change outputs
    assert folder_digest(folder) == digest
    (folder / "card.json").write_text(json.dumps({"id": "m", "version": "1", "config": {"resolution": 224}}))
    with pytest.raises(ModelNotAvailable, match="card.json: SHA-256 mismatch with its seal"):
        folder_digest(folder)
    assert seal_folder(folder) != digest  # a re-sealed change is a new version
    (folder / "rubric.json").write_text("{}")
    with pytest.raises(ModelNotAvailable, match="rubric.json: is not in the seal"):
        folder_digest(folder)
    seal_folder(folder)
    (folder / "rubric.json").unlink()
    with pytest.raises(ModelNotAvailable, match="rubric.json: is missing"):
        folder_digest(folder)


def test_unsealed_folder_digest_follows_its_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    before = folder_digest(folder)
    (folder / "exemplars.npy").write_bytes(b"\x93NUMPY")
    assert folder_digest(folder) != before
    assert versioned("1", before) == f"1+{before[:12]}"


def test_damaged_card_and_seal_are_one_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "card.json").write_text('{"id": "m", "vers')  # truncated
    with pytest.raises(ModelNotAvailable, match="card.json: damaged") as err:
        read_card(folder)
    assert "\n" not in str(err.value)
    (folder / "card.json").write_text("[1, 2]")
    with pytest.raises(ModelNotAvailable, match="a model card is a JSON object"):
        read_card(folder)
    (folder / SEAL_FILE).write_text("{")
    with pytest.raises(ModelNotAvailable, match="seal.json: damaged"):
        folder_digest(folder)


def test_shipped_folders_are_sealed_and_match() -> None:
    for name in ("default", "consistency", "process"):
        assert (PACKAGE_WEIGHTS / name / SEAL_FILE).is_file(), name
        folder_digest(PACKAGE_WEIGHTS / name)  # raises if any shipped file differs from its seal


def test_truncated_card_through_load_is_one_line(tmp_path: Path) -> None:
    import artjudge

    folder = tmp_path / "copy"
    shutil.copytree(PACKAGE_WEIGHTS / "default", folder)
    text = (folder / "card.json").read_text()
    (folder / "card.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelNotAvailable, match="SHA-256 mismatch with its seal"):
        artjudge.load(str(folder))
    (folder / SEAL_FILE).unlink()  # unsealed: the card itself is read and refused in one line
    with pytest.raises(ModelNotAvailable, match="card.json: damaged"):
        artjudge.load(str(folder))


def test_default_version_carries_its_digest() -> None:
    import artjudge

    scorer = artjudge.load()
    card = read_card(PACKAGE_WEIGHTS / "default")
    assert scorer.version == versioned(str(card["version"]), folder_digest(PACKAGE_WEIGHTS / "default"))
    assert scorer.info()["version"] == scorer.version


# ---------------------------------------------------------------- two models, one database


def _write_grades(root: Path, paths: list[Path], invert: bool) -> Path:
    """Grades 1-5 that follow brightness (or its opposite), so the two models disagree."""
    rows = []
    for p in paths:
        bright = float(np.asarray(Image.open(p).convert("L"), dtype=np.float64).mean() / 255.0)
        grade = 1 + 4 * ((1 - bright) if invert else bright)
        rows.append({"file": p.name, "overall": round(grade, 3)})
    out = root / ("inverted.csv" if invert else "grades.csv")
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["file", "overall"])
        w.writeheader()
        w.writerows(rows)
    return out


def _train(labels: Path, images: Path, out: Path) -> None:
    from artjudge.cli import main as cli_main

    args = ["train", "--dataset", "csv", "--labels", str(labels), "--images", str(images)]
    args += ["--score-col", "overall", "--scale", "1,5", "--image-col", "file", "--out", str(out), "--force"]
    with redirect_stdout(StringIO()):
        assert cli_main([*args, "--set", "head.members=2", "--set", "head.hidden=16"]) == 0


def _assess(models: tuple[str, ...], db: str, image: Path, model: str) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from artjudge.serve import Settings, create_app

    settings = Settings(
        db_url=db, models=models, default_model=models[0], rate_per_second=1000, rate_burst=1000
    )
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/v1/assess", files={"file": ("w.jpg", image.read_bytes(), "image/jpeg")}, data={"model": model}
        )
        assert r.status_code == 200, r.text
        again = client.post(
            "/v1/assess", files={"file": ("w.jpg", image.read_bytes(), "image/jpeg")}, data={"model": model}
        )
        assert again.json()["overall"] == r.json()["overall"]  # the second answer is the cached one
        return dict(r.json())


@needs_extra("serve")
def test_two_rubric_models_one_database_each_get_their_own_records(tmp_path: Path) -> None:
    import torch

    import artjudge

    torch.set_num_threads(2)
    images = tmp_path / "imgs"
    paths = write_paintings(images, 40)
    a, b = tmp_path / "A", tmp_path / "B"
    _train(_write_grades(tmp_path, paths, invert=False), images, a)
    _train(_write_grades(tmp_path, paths, invert=True), images, b)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    models = (str(a), str(b))
    probe = paths[0]
    rec_a, rec_b = _assess(models, db, probe, str(a)), _assess(models, db, probe, str(b))
    direct_a = artjudge.load(str(a)).assess(probe)
    direct_b = artjudge.load(str(b)).assess(probe)
    assert rec_a["overall"]["score"] == pytest.approx(direct_a.overall.score, abs=1e-6)
    assert rec_b["overall"]["score"] == pytest.approx(direct_b.overall.score, abs=1e-6)
    assert rec_a["model"]["version"] != rec_b["model"]["version"]
    assert abs(rec_a["overall"]["score"] - rec_b["overall"]["score"]) > 1.0  # opposite labels, other answers
    # B retrained in place on A's labels: a new version, so the database's B record is not served
    _train(_write_grades(tmp_path, paths, invert=False), images, b)
    rec_b2 = _assess(models, db, probe, str(b))
    assert rec_b2["model"]["version"] != rec_b["model"]["version"]
    assert abs(rec_b2["overall"]["score"] - rec_b["overall"]["score"]) > 1.0  # not the stale record
    assert rec_b2["overall"]["score"] == pytest.approx(
        artjudge.load(str(b)).assess(probe).overall.score, abs=1e-6
    )


@needs_extra("batch")
def test_batch_resume_refuses_a_changed_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from artjudge.api import model_identity
    from artjudge.cli import main

    folder = tmp_path / "model"
    shutil.copytree(PACKAGE_WEIGHTS / "default", folder)
    images = write_paintings(tmp_path / "imgs", 2)
    out = tmp_path / "scores.parquet"
    args = ["batch", str(images[0].parent), "-o", str(out), "--model", str(folder), "--no-progress"]
    before = model_identity(str(folder))
    assert before is not None and before.startswith("artjudge-embedded-agiqa@")
    assert main(args) == 0
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps(dict(card, version="2026.12.06")))
    seal_folder(folder)  # a retrained model, written and sealed by its writer
    assert model_identity(str(folder)) != before
    capsys.readouterr()
    assert main(args) == 2  # the earlier run's records are another model's: no silent mix
    err = capsys.readouterr().err
    assert "model_version: was" in err and "--restart" in err
    assert main([*args, "--restart"]) == 0
