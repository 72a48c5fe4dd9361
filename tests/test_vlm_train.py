"""LoRA training of tiny real VLMs: every stage's loss falls, resume is exact, merge is faithful."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("transformers", reason="the vlm extra (transformers, peft) is not installed")
pytest.importorskip("peft", reason="the vlm extra (transformers, peft) is not installed")
import torch

from artjudge.cli import main
from artjudge.errors import InputError
from artjudge.models.vlm import load_vlm_scorer
from artjudge.models.vlm.core import read_meta
from artjudge.train.vlm import VLMTrainConfig, train_vlm
from vlm_fixtures import tiny_vlm_dir, write_images

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plain JSONL with scores, stds, descriptions, one attribute score and one analysis."""
    d = tmp_path_factory.mktemp("vlm-train")
    imgs = write_images(d / "img", 4, seed=1)
    path = d / "rows.jsonl"
    with path.open("w") as f:
        for i, p in enumerate(imgs):
            f.write(
                json.dumps(
                    {
                        "path": p.name if i % 2 else str(p),
                        "score": 15 + 22 * i,
                        "std": 6.0,
                        "text": "the painting shows strong balance and warm colours",
                        "attr.composition": 30 + 15 * i,
                        "text.composition": "good balance and a calm mood",
                        "text.emotion": "a calm mood",
                    }
                )
                + "\n"
            )
    # relative paths resolve against the manifest's folder: move those images beside it
    for p in imgs[1::2]:
        p.rename(d / p.name)
    return path


def _cfg(family: str, manifest: Path, out: Path, **kw) -> VLMTrainConfig:
    base = dict(
        base=str(tiny_vlm_dir(family)),
        manifest=str(manifest),
        out=str(out),
        split=None,
        max_steps=5,
        batch_size=4,
        lr=3e-3,
        ranks=[4, 8],
        progress=False,
        save_every=0,
    )
    base.update(kw)
    return VLMTrainConfig(**base)


def _falls(entry: dict) -> bool:
    losses = [v for _, v in entry["history"]]
    return losses[-1] < losses[0]


@pytest.mark.slow
def test_artimuse_two_stages_then_score_attributes_and_merge(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "artimuse"
    summary = train_vlm(_cfg("qwen2_5_vl", manifest, out, recipe="artimuse", merge=True))
    assert [s["stage"] for s in summary["stages"]] == ["text", "score"]
    assert all(_falls(s) for s in summary["stages"]), [s["history"] for s in summary["stages"]]
    meta = read_meta(out)
    assert meta is not None and meta.overall and meta.text and meta.attributes == ["composition"]
    assert meta.adapters == ["adapters/1-text", "adapters/2-score"]
    assert (out / "score_tokens.json").is_file() and (out / "adapters/2-score/adapter_config.json").is_file()
    img = json.loads(manifest.read_text().splitlines()[0])["path"]
    rec = load_vlm_scorer(str(out)).assess(img)
    assert list(rec.attributes) == ["composition"] and not rec.notes
    merged = load_vlm_scorer(str(out / "merged")).assess(img)
    assert merged.overall.score == pytest.approx(rec.overall.score, abs=1e-3)
    assert np.allclose(merged.overall.distribution, rec.overall.distribution, atol=1e-5)


@pytest.mark.slow
def test_artquant_mat_then_sot_with_levels(manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "artquant"
    summary = train_vlm(_cfg("internvl", manifest, out, recipe="artquant", levels=True))
    assert [s["stage"] for s in summary["stages"]] == ["mat", "sot"]
    assert all(_falls(s) for s in summary["stages"]), [s["history"] for s in summary["stages"]]
    meta = read_meta(out)
    assert meta is not None and meta.levels
    rec = load_vlm_scorer(str(out), mode="level").assess(
        json.loads(manifest.read_text().splitlines()[0])["path"]
    )
    assert len(rec.overall.distribution) == 5 and not rec.notes


def test_resume_continues_exactly(manifest: Path, tmp_path: Path) -> None:
    ref = train_vlm(
        _cfg(
            "llava",
            manifest,
            tmp_path / "ref",
            stages=["sot"],
            ranks=[4],
            max_steps=4,
            batch_size=2,
            save_every=2,
        )
    )
    out = tmp_path / "cut"

    class Stop(Exception):
        pass

    def stop_at_3(stage: str, step: int, loss: float) -> None:
        if step == 3:
            raise Stop

    cfg = _cfg("llava", manifest, out, stages=["sot"], ranks=[4], max_steps=4, batch_size=2, save_every=2)
    with pytest.raises(Stop):
        train_vlm(cfg, on_step=stop_at_3)
    assert (out / "checkpoints/1-sot/step-2/trainer_state.pt").is_file()
    with pytest.raises(InputError, match="--resume"):
        train_vlm(cfg)  # a fresh run refuses to clobber a half-done one
    cfg.resume = True
    got = train_vlm(cfg)
    want = [v for _, v in ref["stages"][0]["history"]]
    have = [v for _, v in got["stages"][0]["history"]]
    assert have == pytest.approx(want, rel=1e-4, abs=1e-5)


def test_train_vlm_cli_and_merge(manifest: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    rc = main(
        [
            "train-vlm",
            "--base",
            str(tiny_vlm_dir("qwen3_vl")),
            "--manifest",
            str(manifest),
            "--out",
            str(out),
            "--stages",
            "score",
            "--ranks",
            "4",
            "--max-steps",
            "2",
            "--batch-size",
            "4",
            "--split",
            "",
            "--train-projector",
            "--gradient-checkpointing",
            "--no-progress",
            "--save-every",
            "0",
        ]
    )
    assert rc == 0
    assert "1-score: rank 4, 2 steps" in capsys.readouterr().out
    rc = main(["merge-vlm", str(out)])
    assert rc == 0 and (out / "merged" / "config.json").is_file()
    assert "merged model:" in capsys.readouterr().out
    # the projector was trained (modules_to_save): merged weights differ from the base's
    from safetensors.torch import load_file

    def proj(folder: Path) -> torch.Tensor:
        sd = load_file(str(folder / "model.safetensors"))
        return sd["model.visual.merger.linear_fc1.weight"]

    assert not torch.equal(proj(out / "merged"), proj(tiny_vlm_dir("qwen3_vl")))
    rc = main(["vlm-tokens", "--json", str(tiny_vlm_dir("qwen3_vl"))])
    mapping = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(mapping["score"]["ids"]) == 101
    # the default listing: every score and level with its token, lines that fit 80 columns
    assert main(["vlm-tokens", str(tiny_vlm_dir("qwen3_vl"))]) == 0
    text = capsys.readouterr().out
    assert "101 tokens" in text and "excellent" in text and max(len(line) for line in text.splitlines()) <= 80
    assert f"100 {mapping['score']['strings'][100]!r}" in text


def test_stage_without_its_columns_is_refused(tmp_path: Path) -> None:
    img = write_images(tmp_path, 1)[0]
    m = tmp_path / "scores_only.jsonl"
    m.write_text(json.dumps({"path": str(img), "score": 50}) + "\n")
    with pytest.raises(InputError, match="stage 'text' needs"):
        train_vlm(_cfg("qwen2_5_vl", m, tmp_path / "o", stages=["text"], ranks=[4]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"path": str(img), "score": 150}) + "\n")
    with pytest.raises(InputError, match="outside 0-100"):
        train_vlm(_cfg("qwen2_5_vl", bad, tmp_path / "o2", stages=["score"], ranks=[4]))


@pytest.mark.parametrize("family", ["llava", "qwen2_5_vl"])
def test_vision_tower_frozen_unless_asked(family: str) -> None:
    from peft import get_peft_model

    from artjudge.models.vlm.backbone import load_backbone
    from artjudge.train.vlm import _lora_config

    tower = "vision_tower" if family == "llava" else "visual"
    for flag in (False, True):
        model = load_backbone(tiny_vlm_dir(family)).model
        cfg = VLMTrainConfig(base="", manifest="", out="", train_vision=flag)
        peft_model = get_peft_model(
            model, _lora_config(cfg, 4, "qwen" if family != "llava" else "llava", model)
        )
        trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
        assert any("lora_" in n and "language_model" in n for n in trainable)
        assert any(tower in n for n in trainable) is flag


def test_reads_an_artjudge_manifest(tmp_path: Path) -> None:
    from artjudge.data.manifest import build_manifest
    from artjudge.train.vlm_data import load_rows

    imgs = write_images(tmp_path / "img", 3)
    m = build_manifest(
        name="toy",
        source="toy",
        image_id=["a", "b", "c"],
        rel_path=[p.name for p in imgs],
        score_raw=[1.0, 3.0, 5.0],
        std_raw=[0.5, 0.5, 0.5],
        scale=(1.0, 5.0),
        split=["train", "train", "test"],
        text=["calm", "bold", None],
        attributes={"composition": [2.0, 4.0, 5.0]},
        attribute_scales={"composition": (1.0, 5.0)},
        images=tmp_path / "img",
    )
    path = m.save(tmp_path / "toy.jsonl")
    rows = load_rows(path, split="train")
    assert [r.score for r in rows] == [0.0, 50.0]
    assert rows[0].std == pytest.approx(12.5) and rows[0].text == "calm"
    assert rows[1].attrs == {"composition": 75.0}
    assert Path(rows[0].path).is_file()
