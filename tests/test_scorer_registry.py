"""One Scorer protocol, one registry: the embedded scorer, a tiny VLM and a distilled student.

Everything runs on real models: the shipped default, a tiny random VLM written by
``artjudge vlm-tiny`` and a student trained by ``artjudge distill`` on images made here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import artjudge
from artjudge.api import list_models, load, load_judge
from artjudge.cli import main
from artjudge.errors import ArtjudgeError, ModelNotAvailable
from artjudge.models.base import PairJudge, Scorer
from artjudge.models.embedded import load_embedded
from artjudge.record import Assessment, Failure
from helpers_extras import require_extra
from helpers_images import write_paintings

INFO_KEYS = {
    "capabilities",
    "unsupported",
    "id",
    "version",
    "kind",
    "score_range",
    "lower_better",
    "score_meaning",
    "training_data",
    "attributes",
    "card",
}


def _check_protocol(scorer: Scorer, images: list[Path], kind: str) -> list[Assessment]:
    """The same calls on every scorer: info, assess, assess_many, iter_assess, __call__."""
    assert isinstance(scorer, Scorer)
    info = scorer.info()
    assert set(info) == INFO_KEYS and info["kind"] == kind
    assert info["score_range"] == [0.0, 100.0] and info["lower_better"] is False
    assert info["id"] == scorer.model_id and info["version"] == scorer.version
    one = scorer.assess(images[0])
    assert one.model.id == scorer.model_id and 0.0 <= one.overall.score <= 100.0
    streamed = list(scorer.iter_assess([*images, "/nonexistent/x.png"], batch_size=2, skip_errors=True))
    assert [type(r) for r in streamed] == [Assessment] * len(images) + [Failure]
    many = scorer.assess_many(images, batch_size=3)
    assert [r.input for r in many] == [str(p) for p in images]
    scores = [r.overall.score for r in many if isinstance(r, Assessment)]
    np.testing.assert_allclose(scores, [r.overall.score for r in streamed[:-1]], atol=1e-3)
    np.testing.assert_allclose(scorer(images), scores, atol=1e-3)
    return [r for r in many if isinstance(r, Assessment)]


def test_registry_lists_every_spec_and_refuses_unknown_ones(tmp_path: Path) -> None:
    names = list_models()
    assert names[0] == "default" and {"vlm:PATH", "student:PATH", "checkpoint:PATH"} <= set(names)
    assert artjudge.list_models() == names
    with pytest.raises(ModelNotAvailable, match="no such model"):
        load("no-such-model")
    junk = tmp_path / "weights.bin"
    junk.write_bytes(b"not torch")
    with pytest.raises(ModelNotAvailable, match="neither head.pt nor a distilled student"):
        load(str(junk))
    with pytest.raises(ArtjudgeError, match="needs a path"):
        load("vlm:")


def test_embedded_scorer_implements_the_protocol_and_critic_is_injected(tmp_path: Path) -> None:
    images = write_paintings(tmp_path, 4)
    scorer = load()
    _check_protocol(scorer, images, "embedded")
    assert "agiqa" in scorer.info()["training_data"]
    rec = scorer.assess(images[0], critique=True)  # the critic comes from artjudge.load
    assert rec.critique and rec.evidence
    bare = load_embedded()  # built without a critic: says how to get one, scores still work
    with pytest.raises(ArtjudgeError, match="no critic attached"):
        bare.assess(images[0], critique=True)
    assert bare.assess(images[0]).overall.score == pytest.approx(rec.overall.score, abs=1e-6)


def test_scorer_judge_comes_from_the_api(tmp_path: Path) -> None:
    a, b = write_paintings(tmp_path, 2)
    judge = load_judge("scorer:default")
    assert isinstance(judge, PairJudge)
    p, c = judge(str(a), str(b))
    q, _ = judge(str(b), str(a))
    assert 0 <= p <= 1 and 0 <= c <= 1 and p + q == pytest.approx(1.0)
    with pytest.raises(ArtjudgeError, match="unknown judge"):
        load_judge("oracle:x")


# --------------------------------------------------------------------------- tiny VLM


@pytest.fixture(scope="module")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_extra("vlm")
    out = tmp_path_factory.mktemp("tiny") / "vlm"
    assert main(["vlm-tiny", str(out)]) == 0
    return out


def test_vlm_tiny_refuses_to_overwrite_without_force(
    tiny_vlm: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (tiny_vlm / "config.json").is_file() and (tiny_vlm / "tokenizer.json").is_file()
    assert main(["vlm-tiny", str(tiny_vlm)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert main(["vlm-tiny", str(tiny_vlm.parent / "x"), "--family", "nope"]) == 2


def test_tiny_vlm_implements_the_protocol_with_critique(tiny_vlm: Path, tmp_path: Path) -> None:
    images = write_paintings(tmp_path, 3)
    scorer = load(f"vlm:{tiny_vlm}")
    recs = _check_protocol(scorer, images, "vlm")
    assert "no trained meaning" in scorer.info()["score_meaning"]  # a random model says so
    assert len(recs[0].overall.distribution) == 101
    rec = scorer.assess(images[0], critique=True)
    assert rec.critique and rec.critique.critic == f"vlm:{tiny_vlm.name}"


def test_assess_and_batch_run_with_a_tiny_vlm(
    tiny_vlm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = write_paintings(tmp_path / "imgs", 3)
    (tmp_path / "imgs" / "bad.jpg").write_text("not an image")
    out_jsonl = tmp_path / "a.jsonl"
    assert main(["assess", "--model", f"vlm:{tiny_vlm}", str(images[0]), "-o", str(out_jsonl), "-q"]) == 0
    rec = Assessment.from_dict(
        json.loads(out_jsonl.read_text().splitlines()[0])
    )  # pandas would NaN the nulls
    assert rec.model.id == f"vlm:{tiny_vlm.name}" and 0 <= rec.overall.score <= 100
    parquet = tmp_path / "x.parquet"
    assert (
        main(
            [
                "batch",
                str(tmp_path / "imgs"),
                "--output",
                str(parquet),
                "--model",
                f"vlm:{tiny_vlm}",
                "--no-progress",
            ]
        )
        == 0
    )
    df = pd.read_parquet(parquet).set_index("input")
    assert len(df) == 4 and df["error"].notna().sum() == 1
    ok = df[df["error"].isna()]
    assert (ok["model_id"] == f"vlm:{tiny_vlm.name}").all() and ok["score"].between(0, 100).all()


# --------------------------------------------------------------------------- distilled student


@pytest.fixture(scope="module")
def distilled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A student trained by `artjudge distill` with the default scorer as judge, no --features."""
    root = tmp_path_factory.mktemp("distill")
    paths = write_paintings(root / "imgs", 20)
    scores = artjudge.load()(paths)
    pool = pd.DataFrame(
        {
            "item": [f"i{k}" for k in range(10)],
            "path": [str(p) for p in paths[:10]],
            "elo": 1500 + 8 * (np.asarray(scores[:10]) - 50),
        }
    )
    pool.to_csv(root / "pool.csv", index=False)
    pd.DataFrame({"item": [f"i{k}" for k in range(10, 20)], "path": [str(p) for p in paths[10:]]}).to_csv(
        root / "items.csv", index=False
    )
    out = root / "student.pt"
    assert (
        main(
            [
                "distill",
                "--judge",
                "scorer:default",
                "--pool",
                str(root / "pool.csv"),
                "--items",
                str(root / "items.csv"),
                "--anchors",
                "4",
                "--epochs",
                "20",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return {"student": out, "images": root / "imgs", "root": root}


def test_student_scores_images_through_the_registry(distilled: dict[str, Path], tmp_path: Path) -> None:
    student = distilled["student"]
    assert (student.parent / "student.pt.sha256").is_file()
    images = write_paintings(tmp_path, 4, start=50)
    scorer = load(f"student:{student}")
    recs = _check_protocol(scorer, images, "student")
    assert "pairwise calls" in scorer.info()["training_data"]
    assert scorer.info()["card"]["feature_extractor"] == "artjudge-default-embed"
    resid = scorer.info()["card"]["residual_rmse"]
    assert all(r.overall.std == pytest.approx(resid, abs=1e-3) for r in recs)  # honest: one figure for all
    assert any("residual" in n for n in recs[0].notes)
    # a bare path is recognised by its content, and the CLI takes it too
    assert load(str(student)).assess(images[0]).overall.score == pytest.approx(
        recs[0].overall.score, abs=1e-4
    )
    out = tmp_path / "s.jsonl"
    assert main(["assess", "--model", str(student), str(images[0]), "-o", str(out), "-q"]) == 0
    assert pd.read_json(out, lines=True).iloc[0]["model"]["id"] == f"student:{student.name}"


def test_student_file_is_hash_checked(distilled: dict[str, Path], tmp_path: Path) -> None:
    copy = tmp_path / "student.pt"
    data = bytearray(distilled["student"].read_bytes())
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelNotAvailable, match="sha256 is missing"):
        load(f"student:{copy}")
    (tmp_path / "student.pt.sha256").write_text(
        (distilled["student"].parent / "student.pt.sha256").read_text()
    )
    assert load(f"student:{copy}").model_id == "student:student.pt"
    data[-10] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelNotAvailable, match="SHA-256 mismatch"):
        load(f"student:{copy}")


def test_student_on_user_features_cannot_score_images(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    y = 50 + 10 * X[:, 0]
    ids = [f"z{k}" for k in range(40)]
    pd.DataFrame({"item": ids[:15], "elo": 1500 + 5 * (y[:15] - 50), "score": y[:15]}).to_csv(
        tmp_path / "pool.csv", index=False
    )
    pd.DataFrame({"item": ids[15:]}).to_csv(tmp_path / "items.csv", index=False)
    feats = pd.DataFrame(X, columns=[f"f{k}" for k in range(4)])
    feats.insert(0, "item", ids)
    feats.to_csv(tmp_path / "features.csv", index=False)
    rows = [(ids[i], ids[j], "a" if y[i] > y[j] else "b") for i in range(15, 40) for j in range(0, 15, 3)]
    pd.DataFrame(rows, columns=["item_a", "item_b", "winner"]).to_csv(tmp_path / "calls.csv", index=False)
    out = tmp_path / "student.pt"
    assert (
        main(
            [
                "distill",
                "--judge",
                f"table:{tmp_path / 'calls.csv'}",
                "--pool",
                str(tmp_path / "pool.csv"),
                "--items",
                str(tmp_path / "items.csv"),
                "--features",
                str(tmp_path / "features.csv"),
                "--epochs",
                "10",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with pytest.raises(ModelNotAvailable, match="user features table.*retrain"):
        load(f"student:{out}")
