"""The embedded scorer through the Python API: records, batches, bad input, cache, hashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import artjudge
from artjudge.errors import InputError, ModelNotAvailable
from artjudge.models.weights import PACKAGE_WEIGHTS
from artjudge.record import Assessment, Failure
from helpers_images import painting, write_paintings


@pytest.fixture(scope="module")
def scorer() -> artjudge.api.Scorer:
    return artjudge.load()


def test_assess_returns_a_complete_record(scorer, tmp_path: Path) -> None:
    (path,) = write_paintings(tmp_path, 1)
    rec = scorer.assess(path)
    assert isinstance(rec, Assessment)
    assert rec.input == str(path)
    assert len(rec.sha256) == 64
    assert rec.model.id == scorer.model_id and rec.model.version
    assert 0.0 <= rec.overall.score <= 100.0
    assert rec.overall.std > 0
    dist = np.asarray(rec.overall.distribution)
    assert dist.shape == (101,) and abs(dist.sum() - 1) < 1e-4
    assert abs(float((dist * np.arange(101)).sum()) - rec.overall.score) < 0.05
    assert rec.attributes == {}  # the default has no attribute heads: none may be invented
    assert {"decode_s", "features_s", "head_s", "total_s"} <= set(rec.timings)
    again = Assessment.from_dict(json.loads(rec.to_json()))
    assert again == rec


def test_assess_many_matches_assess_and_keeps_order(scorer, tmp_path: Path) -> None:
    paths = write_paintings(tmp_path, 5)
    many = scorer.assess_many(paths, batch_size=2)
    assert [r.input for r in many] == [str(p) for p in paths]
    single = [scorer.assess(p).overall.score for p in paths]
    assert np.allclose([r.overall.score for r in many], single, atol=1e-3)
    assert len({round(s, 3) for s in single}) > 1  # different images, different scores


def test_bad_inputs_become_failures_or_raise(scorer, tmp_path: Path) -> None:
    good = write_paintings(tmp_path, 2)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    recs = scorer.assess_many([good[0], empty, tmp_path / "missing.jpg", text, good[1]], skip_errors=True)
    kinds = [type(r).__name__ for r in recs]
    assert kinds == ["Assessment", "Failure", "Failure", "Failure", "Assessment"]
    assert all(isinstance(r, Failure) and r.input in r.error for r in recs[1:4])
    with pytest.raises(InputError, match="empty.jpg"):
        scorer.assess_many([good[0], empty])


def test_pil_images_and_bytes_are_accepted(scorer, tmp_path: Path) -> None:
    img = painting(3)
    (path,) = write_paintings(tmp_path, 1, start=3)
    from_pil = scorer.assess(img).overall.score
    from_bytes = scorer.assess(path.read_bytes()).overall.score
    assert 0 <= from_pil <= 100 and 0 <= from_bytes <= 100


def test_feature_cache_gives_identical_scores(tmp_path: Path) -> None:
    paths = write_paintings(tmp_path / "imgs", 3)
    cached = artjudge.load(cache=tmp_path / "cache")
    first = [r.overall.score for r in cached.assess_many(paths)]
    assert cached.extractor.cache is not None and cached.extractor.cache.misses == 3
    second = [r.overall.score for r in cached.assess_many(paths)]
    assert cached.extractor.cache.hits == 3
    assert first == second
    # a renamed copy is the same content: served from the cache
    copy = tmp_path / "copy.jpg"
    shutil.copy(paths[0], copy)
    assert cached.assess(copy).overall.score == first[0]
    assert cached.extractor.cache.hits == 4


def test_damaged_weights_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    shutil.copytree(PACKAGE_WEIGHTS / "default", folder)
    data = bytearray((folder / "head.pt").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "head.pt").write_bytes(bytes(data))
    with pytest.raises(ModelNotAvailable, match="SHA-256 mismatch"):
        artjudge.load(str(folder))


def test_unknown_model_says_what_exists() -> None:
    with pytest.raises(ModelNotAvailable, match="shipped models: .*default"):
        artjudge.load("no-such-model")


def test_model_card_is_honest(scorer, agiqa_dir: Path) -> None:
    """The card's test SRCC is measured, not read back: every 12th AGIQA-3K test image (40).

    40 images give a wide interval (about +-0.1), so the check is that the shipped weights
    rank this fixed subset well and that the card's figure on all 479 lies inside the
    subset's 95% bootstrap interval; the full figure is benchmarks/accuracy_agiqa.py's.
    """
    from artjudge.data import read_dataset
    from artjudge.eval import metrics

    card = json.loads((PACKAGE_WEIGHTS / "default" / "card.json").read_text())
    for key in ("id", "version", "data", "split", "metrics", "date", "config", "sha256"):
        assert key in card
    test = read_dataset("agiqa-3k", agiqa_dir).frame.query("split == 'test'")
    assert len(test) == card["data"]["rows"]["test"]  # the card's split is the reader's split
    subset = test.iloc[::12]
    recs = scorer.assess_many(subset["path"].astype(str).tolist(), batch_size=16)
    pred = np.array([r.overall.score for r in recs])
    mos = subset["score"].to_numpy(dtype=float)
    measured = metrics.srcc(pred, mos)
    lo, hi = metrics.bootstrap_ci(metrics.srcc, pred, mos, n=1000, seed=0)
    assert measured > 0.75, f"shipped default: SRCC {measured:.3f} on {len(subset)} AGIQA-3K test images"
    assert lo <= card["metrics"]["test_overall_srcc"] <= hi, (measured, lo, hi)


def test_record_matches_the_documented_schema(scorer, tmp_path: Path) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "assessment.schema.json").read_text())
    (path,) = write_paintings(tmp_path, 1)
    jsonschema.validate(scorer.assess(path, critique=True).to_dict(), schema)
