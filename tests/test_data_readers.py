"""Each dataset reader end to end: real label files from ../shared/data (images absent),
and, for the datasets whose labels are not here, small files written in their published
format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from artjudge.data import DATASETS, read_dataset, split_by_group
from artjudge.errors import InputError


@pytest.fixture(scope="module")
def labels(shared_data: Path) -> Path:
    return shared_data / "labels"


def _check_common(m, n: int, splits: dict[str, int] | None = None) -> None:
    f = m.frame
    assert len(m) == n
    assert f["image_id"].is_unique
    assert f["score"].between(0, 100).all()
    lo, hi = m.scale
    assert f["score_raw"].between(lo, hi).all()
    np.testing.assert_allclose(f["score"], (f["score_raw"] - lo) / (hi - lo) * 100)
    if splits is not None:
        assert m.split_counts() == splits
    # images are absent here: the manifest says so instead of failing
    assert len(m.missing_images()) == n


def test_registry_lists_every_dataset() -> None:
    for name in (
        "agiqa-3k",
        "apdd",
        "apddv2",
        "baid",
        "ava",
        "koniq-10k",
        "tad66k",
        "aadb",
        "jenaesthetics",
        "para",
        "spaq",
        "flickr-aes",
        "artimuse-10k",
        "csv",
    ):
        assert name in DATASETS
    with pytest.raises(InputError, match="unknown dataset"):
        read_dataset("no-such-set", ".")


def test_agiqa_split_is_the_shipped_models_split(agiqa_dir: Path) -> None:
    m = read_dataset("agiqa-3k", agiqa_dir)
    raw = pd.read_csv(agiqa_dir / "data.csv")
    assert len(m) == 2384
    expected = split_by_group(raw["prompt"].tolist(), test_fraction=0.2, val_fraction=0.1, seed=0)
    assert m.frame["split"].tolist() == expected
    assert read_dataset("agiqa", agiqa_dir).frame["split"].tolist() == expected  # deterministic
    # no prompt in two splits
    per_prompt = m.frame.groupby("prompt")["split"].nunique()
    assert (per_prompt == 1).all()
    np.testing.assert_allclose(m.frame["score"], raw["mos_quality"] * 20)
    np.testing.assert_allclose(m.frame["std"], raw["std_quality"] * 20)
    np.testing.assert_allclose(m.frame["attr.alignment"], raw["mos_align"] * 20)
    assert m.attributes == ["alignment"]
    assert set(m.frame["category"].dropna()) == {
        "anime style",
        "realistic style",
        "sci-fi style",
        "baroque style",
        "abstract style",
    }
    # the images ship with AGIQA-3K here, and are found automatically
    assert m.missing_images() == []
    assert m.soft_labels().shape == (2384, 101)


def test_apddv2(labels: Path) -> None:
    m = read_dataset("apddv2", labels / "apdd")
    _check_common(m, 10023, {"train": 8019, "val": 1002, "test": 1002})
    assert len(m.attributes) == 10
    f = m.frame
    # attribute scale 0-10 -> 0-100; blank = not applicable stays NaN
    assert f["attr.creativity"].isna().sum() == 10023 - 3819
    assert f["attr.overall"].between(0, 100).all()
    assert f["category"].nunique() == 24
    assert f["text"].notna().sum() > 4000  # artist comments (GB18030 bytes in places decode)
    assert "、" in "".join(f["text"].dropna())


def test_apdd_v1_uses_v2_official_split(labels: Path) -> None:
    m = read_dataset("apdd", labels / "apdd")
    _check_common(m, 4985)
    assert m.scale == (0.0, 10.0)
    assert "official split" in m.notes[0]


def test_baid(labels: Path) -> None:
    m = read_dataset("baid", labels / "baid")
    _check_common(m, 60337, {"train": 50737, "val": 3200, "test": 6400})
    assert m.scale == (0.0, 10.0)


def test_ava_histograms(labels: Path) -> None:
    m = read_dataset("ava", labels / "ava", images=labels / "ava" / "sample_images")
    assert len(m) == 25551 and m.split_counts()["test"] == 25551
    row = m.frame.set_index("image_id").loc["42040"]
    votes = np.array([7, 15, 25, 41, 67, 41, 12, 11, 4, 1], dtype=float)
    mean = (votes * np.arange(1, 11)).sum() / votes.sum()
    assert row["distribution"] == votes.tolist()
    assert row["score_raw"] == pytest.approx(mean)
    assert row["score"] == pytest.approx((mean - 1) / 9 * 100)
    sd = np.sqrt((votes * (np.arange(1, 11) - mean) ** 2).sum() / votes.sum())
    assert row["std"] == pytest.approx(sd / 9 * 100)
    # one of the sample photos is in the test labels: it is found, the rest are reported missing
    assert len(m.missing_images()) == 25550 and "42040" not in m.missing_images()
    tanet = read_dataset("ava", labels / "ava", variant="tanet")
    assert tanet.split_counts() == {"train": 0, "val": 12775, "test": 12776}
    assert tanet.frame.set_index("image_id").loc["42039", "distribution"] == [
        0,
        5,
        10,
        28,
        54,
        31,
        12,
        3,
        3,
        2,
    ]


def test_koniq(labels: Path) -> None:
    m = read_dataset("koniq-10k", labels / "koniq")
    _check_common(m, 10073, {"train": 7058, "val": 1000, "test": 2015})
    raw = pd.read_csv(labels / "koniq" / "koniq10k_distributions_sets.csv")
    np.testing.assert_allclose(m.frame["std"], raw["SD"] * 25)
    assert m.levels == [1, 2, 3, 4, 5]
    assert all(len(d) == 5 for d in m.frame["distribution"])
    soft = m.soft_labels()
    np.testing.assert_allclose(soft.sum(axis=1), 1, atol=1e-9)


def test_tad66k_reads_inside_the_zip(labels: Path) -> None:
    m = read_dataset("tad66k", labels / "tad66k" / "dataset.zip")
    _check_common(m, 66327, {"train": 52248, "val": 0, "test": 14079})
    assert m.frame["category"].nunique() == 47
    assert m.frame["category"].notna().all()
    assert "art" in set(m.frame["category"])
    with pytest.raises(InputError, match="split 'val' is empty"):
        m.split_frame("val")


def test_aadb_mat(labels: Path) -> None:
    m = read_dataset("aadb", labels / "aadb")
    _check_common(m, 9458, {"train": 8458, "val": 0, "test": 1000})
    assert m.scale == (0.0, 1.0)
    assert m.frame["image_id"].iloc[0].startswith("farm")


def test_jenaesthetics_xlsx_and_csv(labels: Path) -> None:
    xlsx = read_dataset("jenaesthetics", labels / "jenaesthetics" / "original" / "Subjective scores.xlsx")
    csv = read_dataset("jenaesthetics", labels / "jenaesthetics" / "jenaesthetics_scores_with_links.csv")
    for m in (xlsx, csv):
        _check_common(m, 1628)
        assert m.attributes == ["aesthetic", "beauty", "color", "composition", "content"]
    assert xlsx.frame["split"].tolist() == csv.frame["split"].tolist()
    np.testing.assert_allclose(xlsx.frame["score"], csv.frame["score"])
    # split by artist: no painter in two splits
    artist = xlsx.frame["image_id"].str.replace(r"[\s_\-]*\d+\.jpg$", "", regex=True).str.lower()
    assert (xlsx.frame.groupby(artist)["split"].nunique() == 1).all()


# ---------------------------------------------------------------- published formats, written here


def test_para_giaa_files(tmp_path: Path) -> None:
    ann = tmp_path / "annotation"
    ann.mkdir()
    levels = [f"aestheticScore_{1 + 0.5 * i:.1f}" for i in range(9)]
    header = [
        "sessionId",
        "imageName",
        *levels,
        "aestheticScore_mean",
        "aestheticScore_std",
        "qualityScore_mean",
        "compositionScore_mean",
        "colorScore_mean",
        "dofScore_mean",
        "lightScore_mean",
        "contentScore_mean",
        "semantic",
    ]
    for name, n in (("PARA-GiaaTrain.csv", 4), ("PARA-GiaaTest.csv", 2)):
        rows = []
        for i in range(n):
            counts = [0, 1, 2, 5, 8, 5, 2, 1, 0]
            mean = sum(c * (1 + 0.5 * k) for k, c in enumerate(counts)) / sum(counts)
            rows.append(
                [
                    f"session{i}",
                    f"iaa_pub{i}_{name[9:13]}.jpg",
                    *counts,
                    mean,
                    0.7,
                    3.1,
                    3.2,
                    3.3,
                    3.0,
                    2.9,
                    3.5,
                    "portrait" if i % 2 else "landscape",
                ]
            )
        pd.DataFrame(rows, columns=header).to_csv(ann / name, index=False)
    m = read_dataset("para", tmp_path)
    assert m.split_counts() == {"train": 4, "val": 0, "test": 2}
    assert m.attributes == ["quality", "composition", "color", "dof", "light", "content"]
    assert m.frame["image_id"].iloc[0] == "session0/iaa_pub0_Trai.jpg"
    assert m.frame["std"].iloc[0] == pytest.approx(0.7 * 25)
    assert m.levels is not None and len(m.levels) == 9
    # the histogram's mean equals the score, so the soft label comes from the votes
    soft = m.soft_labels()
    assert soft[0] @ np.linspace(0, 100, 101) == pytest.approx(m.frame["score"].iloc[0], abs=1e-6)


def test_spaq_xlsx(tmp_path: Path) -> None:
    df = pd.DataFrame(
        {
            "Image name": [f"{i:05d}.jpg" for i in range(1, 41)],
            "MOS": np.linspace(5, 95, 40),
            "Brightness": 50.0,
            "Colorfulness": 60.0,
            "Contrast": 55.0,
            "Noisiness": 40.0,
            "Sharpness": 70.0,
        }
    )
    f = tmp_path / "MOS and Image attribute scores.xlsx"
    df.to_excel(f, index=False)
    m = read_dataset("spaq", tmp_path)
    assert len(m) == 40 and set(m.frame["split"]) == {"train", "val", "test"}
    assert m.attributes == ["brightness", "colorfulness", "contrast", "noisiness", "sharpness"]
    assert m.frame["attr.sharpness"].iloc[0] == 70.0


def test_flickr_aes_with_worker_file(tmp_path: Path) -> None:
    (tmp_path / "FLICKR-AES_image_score.txt").write_text(
        " farm1_1.jpg 3.4\nfarm1_2.jpg 2.0\nfarm1_3.jpg 4.6\n", encoding="utf-8"
    )
    (tmp_path / "FLICKR-AES_image_labeled_by_each_worker.csv").write_text(
        "worker, imagePair, score\n"
        "A1, farm1_1.jpg, 3\nA2, farm1_1.jpg, 4\nA3, farm1_1.jpg, 3\nA4, farm1_1.jpg, 4\nA5, farm1_1.jpg, 3\n"
        "A1, farm1_2.jpg, 2\nA2, farm1_2.jpg, 2\nA1, farm1_3.jpg, 5\nA2, farm1_3.jpg, 4\n",
        encoding="utf-8",
    )
    m = read_dataset("flickr-aes", tmp_path)
    assert len(m) == 3
    row = m.frame.set_index("image_id").loc["farm1_1.jpg"]
    assert row["score"] == pytest.approx((3.4 - 1) / 4 * 100)
    assert row["distribution"] == [0, 0, 3, 2, 0]
    assert row["std"] == pytest.approx(np.std([3, 4, 3, 4, 3]) * 25)


def test_artimuse_jsonl(tmp_path: Path) -> None:
    text = tmp_path / "text"
    text.mkdir()
    for split, n in (("train", 3), ("test", 2)):
        with open(text / f"{split}.jsonl", "w", encoding="utf-8") as fh:
            for i in range(n):
                fh.write(
                    json.dumps(
                        {
                            "image": f"{split}_{i}.jpg",
                            "score": 40 + 10 * i,
                            "category": "Painting",
                            "subcategory": "Oil",
                            "attributes": {
                                "Composition & Design": {"score": 70, "text": "balanced"},
                                "Emotion & Viewer Response": 55,
                            },
                        }
                    )
                    + "\n"
                )
    m = read_dataset("artimuse-10k", tmp_path)
    assert m.split_counts() == {"train": 3, "val": 0, "test": 2}
    assert m.attributes == ["composition", "emotion"]
    assert m.frame["category"].iloc[0] == "Painting/Oil"
    assert "balanced" in m.frame["text"].iloc[0]


def test_ava_txt_official_layout(tmp_path: Path) -> None:
    lines = [f"{i} {1000 + i} 0 1 2 3 10 8 4 2 1 0 15 0 {i % 3}" for i in range(1, 21)]
    (tmp_path / "AVA.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    m = read_dataset("ava", tmp_path)
    assert len(m) == 20 and m.frame["rel_path"].iloc[0] == "1001.jpg"
    assert "seed" in m.notes[0]


def test_generic_csv_with_named_columns(tmp_path: Path) -> None:
    f = tmp_path / "mine.csv"
    pd.DataFrame(
        {
            "file": ["a.png", "b.png", "c.png", "d.png"],
            "rating": [1, 4, 7, 10],
            "sd": [0.5, 1, 1.5, 2],
            "color": [2, 3, 9, 10],
            "part": ["train", "training", "val", "test"],
            "style": ["ink", "oil", "oil", "ink"],
        }
    ).to_csv(f, index=False)
    m = read_dataset(
        "csv",
        f,
        score_col="rating",
        scale="1,10",
        image_col="file",
        attr_cols="color",
        split_col="part",
        std_col="sd",
        category_col="style",
    )
    assert m.frame["split"].tolist() == ["train", "train", "val", "test"]
    np.testing.assert_allclose(m.frame["score"], [0, 100 / 3, 200 / 3, 100])
    np.testing.assert_allclose(m.frame["std"], np.array([0.5, 1, 1.5, 2]) / 9 * 100)
    assert m.attributes == ["color"]
    jl = tmp_path / "mine.jsonl"
    jl.write_text(
        "".join(json.dumps({"image": f"{i}.jpg", "score": i}) + "\n" for i in range(30)), encoding="utf-8"
    )
    m2 = read_dataset("jsonl", jl, scale=(0, 100))
    assert len(m2) == 30 and set(m2.frame["split"]) == {"train", "val", "test"}
