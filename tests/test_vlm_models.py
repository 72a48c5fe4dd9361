"""Scoring, critique and pairwise judging with tiny real VLMs of every supported family."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the vlm extra (transformers, peft) is not installed")
pytest.importorskip("peft", reason="the vlm extra (transformers, peft) is not installed")
import torch

from artjudge.critique.vlm import load_vlm_critic
from artjudge.errors import InputError, ModelNotAvailable
from artjudge.models.vlm import load_vlm_judge, load_vlm_scorer
from artjudge.models.vlm.backbone import Encoder, Sample, chat_prompt, load_backbone
from artjudge.record import Assessment, Failure
from artjudge.taxonomy import ARTIMUSE, LEVELS
from vlm_fixtures import FAMILIES, tiny_vlm_dir, write_images

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_images(tmp_path_factory.mktemp("vlm-img"), 3)


@pytest.mark.parametrize("family", FAMILIES)
def test_score_distribution_and_batching(family: str, images: list[Path]) -> None:
    scorer = load_vlm_scorer(str(tiny_vlm_dir(family)), batch_size=3)
    assert scorer.model_id.startswith("vlm:")
    many = scorer.assess_many(images)
    assert len(many) == 3
    for rec in many:
        assert isinstance(rec, Assessment)
        p = np.asarray(rec.overall.distribution)
        assert p.shape == (101,) and abs(p.sum() - 1) < 1e-6
        assert 0 <= rec.overall.score <= 100 and rec.overall.std > 0
        assert abs(rec.overall.score - float(np.arange(101) @ p)) < 1e-6
        assert rec.attributes == {}  # untrained: no attribute scores invented
        assert rec.notes and "not fine-tuned" in rec.notes[0]
        json.dumps(rec.to_dict())
    # left padding: a batch of three reads the same scores as three single passes
    singles = [scorer.assess(p).overall.score for p in images]
    assert np.allclose(singles, [r.overall.score for r in many], atol=1e-4)


def test_level_mode_returns_five_levels(images: list[Path]) -> None:
    scorer = load_vlm_scorer(str(tiny_vlm_dir("qwen2_5_vl")), mode="level")
    rec = scorer.assess(images[0])
    assert len(rec.overall.distribution) == 5 and rec.overall.bins.startswith("levels:")
    assert abs(sum(rec.overall.distribution) - 1) < 1e-6


def test_fixed_resolution_448_square() -> None:
    from PIL import Image

    bb = load_backbone(tiny_vlm_dir("qwen2_5_vl"), resolution=448)
    enc = Encoder(bb)
    img = Image.new("RGB", (640, 200), (200, 30, 30))  # wide: squashed to one square, no tiles
    batch = enc.encode([Sample(chat_prompt(bb, "Rate."), [img])])["inputs"]
    assert batch["image_grid_thw"].tolist() == [[1, 32, 32]]
    assert int(batch["mm_token_type_ids"].sum()) == 32 * 32 // 4
    with torch.no_grad():
        out = bb.model(**batch)
    assert torch.isfinite(out.logits).all()


def test_bad_inputs_are_reported(images: list[Path], tmp_path: Path) -> None:
    scorer = load_vlm_scorer(str(tiny_vlm_dir("llava")))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(InputError, match="empty"):
        scorer.assess(empty)
    out = scorer.assess_many([images[0], empty, text, tmp_path / "missing.png"], skip_errors=True)
    assert isinstance(out[0], Assessment)
    assert [type(x) for x in out[1:]] == [Failure] * 3
    assert "file not found" in out[3].error and "not an image (looks like text)" in out[2].error


def test_missing_weights_say_what_and_how(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailable, match="allow-download"):
        load_vlm_scorer("artjudge-test/No-Such-VLM-7B")
    with pytest.raises(ModelNotAvailable, match="config.json"):
        load_vlm_scorer(str(tmp_path))


@pytest.mark.parametrize("family", ["qwen2_5_vl", "internvl"])
def test_critique_generation(family: str, images: list[Path]) -> None:
    from artjudge.critique.base import Critic, Critique

    path = str(tiny_vlm_dir(family))
    critic = load_vlm_critic(path, max_new_tokens=6)
    assert isinstance(critic, Critic)
    rec = load_vlm_scorer(path).assess(images[0])
    crit = critic.critique(images[0], rec)
    assert isinstance(crit, Critique)
    assert set(crit.attributes) == set(ARTIMUSE.keys())
    assert set(crit.levels) == set(LEVELS)
    assert crit.overall[0].evidence_keys == ["overall.score"]
    assert all(s.text and s.evidence_keys for s in crit.sentences())
    Critique.from_dict(crit.to_dict())


def test_pair_judge_is_order_symmetric(images: list[Path]) -> None:
    judge = load_vlm_judge(str(tiny_vlm_dir("qwen3_vl")))
    p, c = judge(str(images[0]), str(images[1]))
    q, d = judge(str(images[1]), str(images[0]))
    assert 0 <= p <= 1 and 0 <= c <= 1
    assert p + q == pytest.approx(1.0, abs=1e-6) and c == pytest.approx(d, abs=1e-6)


def test_real_agiqa_images(agiqa_dir: Path) -> None:
    files = sorted((agiqa_dir).rglob("*.jpg"))[:2] + sorted((agiqa_dir).rglob("*.png"))[:2]
    if not files:
        pytest.skip("no image files under agiqa-3k")
    recs = load_vlm_scorer(str(tiny_vlm_dir("qwen2_5_vl"))).assess_many(files[:3])
    assert all(isinstance(r, Assessment) and len(r.sha256) == 64 for r in recs)


def test_through_artjudge_load_and_embed(images: list[Path]) -> None:
    import artjudge

    scorer = artjudge.load(f"vlm:{tiny_vlm_dir('internvl')}", batch_size=2)
    assert scorer.model_id == "vlm:internvl"
    feats = scorer.embed(images)
    assert feats.shape == (3, 32) and np.isfinite(feats).all()
    assert not np.allclose(feats[0], feats[1])
