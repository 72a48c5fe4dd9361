"""Partial fine-tuning: the right layers move, cached and full paths agree, the ONNX graph matches torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from artjudge.features.extract import FeatureBatch, FeatureExtractor
from artjudge.models.head import HeadConfig
from artjudge.train.finetune import fit_tuned_head, frozen_start, predict_tuned
from artjudge.train.head import HeadTrainConfig, Targets, predict_scores
from helpers_images import painting

RES = 128  # a 4 x 4 trunk map: real activations, a few seconds on a CPU


@pytest.fixture(scope="module")
def real_features() -> tuple[FeatureBatch, np.ndarray]:
    """Real Lite0 features (pooled, measures, trunk maps) of 30 generated paintings, and a score."""
    torch.set_num_threads(2)
    images = [painting(i, (144, 112)) for i in range(30)]
    feats = FeatureExtractor(RES, keep_trunk=True).encode(images)
    # a score the network can see: the mean brightness of each painting, on 0-100
    score = np.array([np.asarray(im.convert("L"), dtype=float).mean() / 2.55 for im in images])
    return feats, score


def _fit(feats: FeatureBatch, score: np.ndarray, tune_blocks: int, rank: int | None = None) -> object:
    targets = Targets({"overall": score}, {"overall": np.full(len(score), 8.0)})
    tr, va = np.arange(22), np.arange(22, 30)
    config = HeadTrainConfig(
        head=HeadConfig(resolution=RES, hidden=16, members=2, tune_top=True),
        epochs=2,
        batch_size=8,
        top_lr=1e-3,
    )
    return fit_tuned_head(
        feats.take(tr), targets.take(tr), feats.take(va), targets.take(va), config, tune_blocks, rank=rank
    )


@pytest.mark.parametrize(("tune_blocks", "rank"), [(0, None), (1, None), (0, 4)])
def test_only_the_tuned_layers_move(
    real_features: tuple[FeatureBatch, np.ndarray], tune_blocks: int, rank: int | None
) -> None:
    from artjudge.features.encoder import load_backbone
    from artjudge.models.head import TunableTop

    feats, score = real_features
    result = _fit(feats, score, tune_blocks, rank)
    before = TunableTop(load_backbone()).state_dict()
    after = result.head.top.state_dict()  # type: ignore[attr-defined]
    start = frozen_start(tune_blocks)
    for key, value in before.items():
        moved = not torch.equal(value, after[key])
        frozen_block = key.startswith("blocks.") and int(key.split(".")[1]) < start
        if frozen_block or "running_" in key or "num_batches" in key:
            assert not moved, f"{key} is frozen (or a BN statistic) but changed"
    tuned = [k for k in before if k.startswith(("conv_head", f"blocks.{start}.")) and "running_" not in k]
    assert any(not torch.equal(before[k], after[k]) for k in tuned), "no tuned layer moved"


@pytest.mark.parametrize(("tune_blocks", "rank"), [(1, None), (0, 4)])
def test_cached_activations_give_the_full_heads_scores(
    real_features: tuple[FeatureBatch, np.ndarray], tune_blocks: int, rank: int | None
) -> None:
    """Training reads frozen blocks from a cache; inference runs the whole top on the trunk map
    (an adapter merged into the head conv)."""
    feats, score = real_features
    result = _fit(feats, score, tune_blocks, rank)
    cached = predict_tuned(result.head, feats, tune_blocks)["overall"]  # type: ignore[attr-defined]
    full = predict_scores(result.head, feats)["overall"]  # type: ignore[attr-defined]
    np.testing.assert_allclose(cached, full, atol=1e-3)
    assert np.ptp(full) > 0.1  # the scores differ per image: the comparison is not vacuous


def test_out_of_range_tune_blocks_is_refused(real_features: tuple[FeatureBatch, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="tune_blocks=3"):
        frozen_start(3)
    with pytest.raises(ValueError, match="head conv only"):
        _fit(*real_features, tune_blocks=1, rank=4)


def test_tuned_head_exports_to_onnx_and_matches_torch(
    real_features: tuple[FeatureBatch, np.ndarray], tmp_path: Path
) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from artjudge.models.head_onnx import OnnxHead, head_graph_usable
    from artjudge.models.onnx_export import export_head
    from artjudge.models.weights import load_checkpoint, save_checkpoint

    feats, score = real_features
    result = _fit(feats, score, 2)
    head = result.head  # type: ignore[attr-defined]
    card = {"id": "tuned-test", "version": "1", "config": {"head": head.config.to_dict()}}
    save_checkpoint(tmp_path, head.state_dict(), card)
    export_head(tmp_path)
    state, card = load_checkpoint(tmp_path)
    assert head_graph_usable(tmp_path, card)
    from artjudge.models.head import ScoringHead

    loaded = ScoringHead(HeadConfig(**card["config"]["head"]))
    loaded.load_state_dict(state)
    onnx_p = OnnxHead(tmp_path, loaded.config).probabilities(feats.pooled, feats.handcrafted, feats.trunk)
    with torch.inference_mode():
        tr = torch.from_numpy(feats.trunk.astype(np.float32))
        logp = loaded.eval()(torch.from_numpy(feats.pooled), torch.from_numpy(feats.handcrafted), tr)
    np.testing.assert_allclose(onnx_p["overall"], logp["overall"].double().exp().numpy(), atol=1e-4)


def test_train_cli_tune_top_writes_a_tuned_model_that_loads_on_both_engines(tmp_path: Path) -> None:
    """`artjudge train --tune-top 0 --set tune_rank=4`: the card says so, the graph exports, both engines agree."""
    pytest.importorskip("onnxruntime")
    import pandas as pd

    import artjudge
    from artjudge.cli import main as cli_main
    from artjudge.models.onnx_export import export_head
    from helpers_images import write_paintings

    paths = write_paintings(tmp_path / "imgs", 24)
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {
            "image": [p.name for p in paths],
            "rating": rng.uniform(1, 10, len(paths)).round(2),
            "split": ["train"] * 16 + ["val"] * 4 + ["test"] * 4,
        }
    ).to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "tuned"
    sets = [
        "small_data_max=0",
        "epochs=1",
        "tune_rank=4",
        "head.hidden=16",
        "head.members=2",
        f"head.resolution={RES}",
    ]
    argv = [
        "train",
        "--dataset",
        "csv",
        "--labels",
        str(tmp_path / "labels.csv"),
        "--images",
        str(tmp_path / "imgs"),
    ]
    argv += ["--image-col", "image", "--score-col", "rating", "--scale", "1,10", "--split-col", "split"]
    argv += ["--out", str(out), "--tune-top", "0", *[a for s in sets for a in ("--set", s)]]
    assert cli_main(argv) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["config"]["tune_blocks"] == 0 and card["config"]["tune_rank"] == 4
    assert card["config"]["head"]["tune_top"] is True
    export_head(out)
    on_torch = artjudge.load(str(out), runtime="torch", cache=False).assess(paths[0])
    onnx_scorer = artjudge.load(str(out), runtime="onnx", cache=False)
    assert onnx_scorer.engine == "onnx"  # the tuned head runs in its graph, not on torch
    on_onnx = onnx_scorer.assess(paths[0])
    assert on_onnx.overall.score == pytest.approx(on_torch.overall.score, abs=0.01)
