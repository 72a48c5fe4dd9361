"""The Manifest contract: schema, persistence, soft labels, images, and bad input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from artjudge.data import Manifest, build_manifest, read_dataset
from artjudge.errors import InputError
from helpers_extras import require_extra


def _small(tmp_path: Path, n: int = 12, images: Path | None = None) -> Manifest:
    return build_manifest(
        name="tiny",
        source="tiny.csv",
        image_id=[f"im{i}" for i in range(n)],
        rel_path=[f"im{i}.png" for i in range(n)],
        score_raw=np.linspace(1, 10, n),
        scale=(1, 10),
        std_raw=np.full(n, 1.0),
        split=["train"] * (n - 4) + ["val"] * 2 + ["test"] * 2,
        distribution=[[1, 2, 3, 4, 5, 5, 4, 3, 2, 1]] * n,
        levels=list(range(1, 11)),
        category=["a", "b"] * (n // 2),
        text=["nice"] * n,
        attributes={"color": np.linspace(0, 10, n)},
        attribute_scales={"color": (0, 10)},
        images=images,
    )


def test_schema_and_scales(tmp_path: Path) -> None:
    m = _small(tmp_path)
    assert list(m.frame.columns[:8]) == [
        "image_id",
        "rel_path",
        "path",
        "score",
        "score_raw",
        "std",
        "distribution",
        "split",
    ]
    np.testing.assert_allclose(m.frame["score"], (np.linspace(1, 10, 12) - 1) / 9 * 100)
    np.testing.assert_allclose(m.frame["std"], 100 / 9)
    np.testing.assert_allclose(m.frame["attr.color"], np.linspace(0, 100, 12))
    assert m.attribute_scales == {"color": (0.0, 10.0)}
    assert len(m.split_frame("test")) == 2 and m.has_categories and m.has_distributions


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_save_load_roundtrip(tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet":
        require_extra("batch")  # pandas writes Parquet through pyarrow
    m = _small(tmp_path)
    p = m.save(tmp_path / f"out{suffix}")
    assert (tmp_path / f"out{suffix}.meta.json").is_file()
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temp files left behind
    back = Manifest.load(p)
    assert back.name == "tiny" and back.scale == (1.0, 10.0) and back.levels == list(range(1, 11))
    assert back.attributes == ["color"] and back.attribute_scales == {"color": (0.0, 10.0)}
    pd.testing.assert_series_equal(back.frame["score"], m.frame["score"])
    assert back.frame["distribution"].iloc[0] == m.frame["distribution"].iloc[0]
    assert back.frame["split"].tolist() == m.frame["split"].tolist()
    np.testing.assert_allclose(back.soft_labels(), m.soft_labels())


def test_soft_labels_sources(tmp_path: Path) -> None:
    import artjudge.scoring as scoring

    m = _small(tmp_path)
    soft = m.soft_labels()
    assert soft.shape == (12, 101)
    np.testing.assert_allclose(soft.sum(axis=1), 1, atol=1e-9)
    grid = np.linspace(0, 100, 101)
    # rows whose histogram mean (5.5 -> 50) agrees with the score use the votes ...
    votes = scoring.distribution_from_votes(
        [1, 2, 3, 4, 5, 5, 4, 3, 2, 1], levels=list(range(1, 11)), scale=(1, 10)
    )
    agree = np.abs(m.frame["score"].to_numpy() - 50) <= 1
    np.testing.assert_allclose(soft[agree], np.broadcast_to(votes, soft[agree].shape), atol=1e-12)
    # ... the others the std, with the exact expectation
    np.testing.assert_allclose(soft[~agree] @ grid, m.frame["score"].to_numpy()[~agree], atol=1e-6)
    # attributes: score-based estimate
    np.testing.assert_allclose(m.soft_labels("attr.color") @ grid, m.frame["attr.color"], atol=1e-6)


def test_images_missing_then_found(tmp_path: Path) -> None:
    m = _small(tmp_path)
    assert len(m.missing_images()) == 12  # no images folder: nothing can be found
    img_dir = tmp_path / "imgs"
    img_dir.mkdir()
    for i in range(5):
        Image.new("RGB", (8, 8), (i * 40, 10, 10)).save(img_dir / f"im{i}.png")
    m2 = m.with_images(img_dir)
    assert m2.missing_images() == [f"im{i}" for i in range(5, 12)]
    assert len(m2.present()) == 5
    assert m2.frame["path"].iloc[0] == str(img_dir / "im0.png")
    with pytest.raises(InputError, match="none of the images are present"):
        m.present()


# ---------------------------------------------------------------- bad input


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    f = tmp_path / "data.csv"
    pd.DataFrame({"name": ["a.jpg"], "prompt": ["p"], "mos_quality": [2.0]}).to_csv(f, index=False)
    with pytest.raises(InputError) as err:
        read_dataset("agiqa-3k", f)
    assert str(f) in str(err.value) and "'std_quality'" in str(err.value)


def test_score_outside_declared_range_names_row(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    pd.DataFrame({"image": ["a", "b", "c"], "score": [3, 11, 4]}).to_csv(f, index=False)
    with pytest.raises(
        InputError, match=r"r\.csv: row 3 \(image 'b'\): score 11 is outside the declared range"
    ):
        read_dataset("csv", f, scale="1,10")


def test_non_numeric_score_names_row(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    pd.DataFrame({"image": ["a", "b"], "score": ["3", "good"]}).to_csv(f, index=False)
    with pytest.raises(InputError, match=r"row 3: column 'score' is not a number \('good'\)"):
        read_dataset("csv", f, scale="1,10")


def test_duplicate_image_ids(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    pd.DataFrame({"image": ["a", "b", "a"], "score": [3, 4, 5]}).to_csv(f, index=False)
    with pytest.raises(InputError, match=r"row 4 \(image 'a'\): duplicate image id \(first at row 2\)"):
        read_dataset("csv", f, scale="1,10")


def test_empty_split_file_and_empty_split(tmp_path: Path) -> None:
    for name, rows in (("train_set.csv", 3), ("val_set.csv", 0), ("test_set.csv", 2)):
        df = pd.DataFrame({"image": [f"{name}{i}.jpg" for i in range(rows)], "score": [5.0] * rows})
        df.to_csv(tmp_path / name, index=False)
    with pytest.raises(InputError, match=r"val_set\.csv: (split 'val' has no rows|file has no rows)"):
        read_dataset("baid", tmp_path)
    m = _small(tmp_path)
    only_train = m._replace_frame(m.frame[m.frame["split"] == "train"].reset_index(drop=True))
    with pytest.raises(InputError, match="split 'test' is empty"):
        only_train.split_frame("test")


def test_unknown_split_value(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    pd.DataFrame({"image": ["a", "b"], "score": [3, 4], "s": ["train", "holdout"]}).to_csv(f, index=False)
    with pytest.raises(InputError, match=r"row 3: unknown split 'holdout'"):
        read_dataset("csv", f, scale="1,10", split_col="s")


def test_corrupt_mat_zip_xlsx(tmp_path: Path) -> None:
    mat = tmp_path / "AADBinfo.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 40 + b"garbage" * 10)
    with pytest.raises(InputError, match=r"AADBinfo\.mat: not a readable MATLAB \.mat file"):
        read_dataset("aadb", mat)
    z = tmp_path / "dataset.zip"
    z.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match=r"dataset\.zip: not a valid zip file"):
        read_dataset("tad66k", z)
    good = tmp_path / "ok.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("dataset/other.csv", "image,score\na.jpg,5\n")
    with pytest.raises(InputError, match="no merge/train.csv"):
        read_dataset("tad66k", good)
    x = tmp_path / "Subjective scores.xlsx"
    x.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(InputError, match=r"Subjective scores\.xlsx: not a readable \.xlsx file"):
        read_dataset("jenaesthetics", x)


def test_manifest_load_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="manifest file not found"):
        Manifest.load(tmp_path / "nope.jsonl")
    p = _small(tmp_path).save(tmp_path / "m.jsonl")
    (tmp_path / "m.jsonl.meta.json").unlink()
    with pytest.raises(InputError, match="metadata file not found"):
        Manifest.load(p)
    frame = _small(tmp_path).frame.drop(columns=["score_raw"])
    with pytest.raises(InputError, match="missing column.*score_raw"):
        Manifest(frame=frame, name="x", scale=(1, 10))
