"""`train-process` end to end on a tiny configuration (real data, real encoder, real training)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from artjudge.models.process.judge import load_process_judge
from artjudge.models.process.model import ProcessConfig
from artjudge.train.process import (
    Bundle,
    OrderPairs,
    ProcessTrainConfig,
    blend_ridge_readout,
    masked_mse,
    predict,
    train_baseline,
    train_net,
    train_process_judge,
    wide_inputs,
)
from artjudge.train.process_loops import _schedule
from helpers_extras import require_extra


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_masked_mse_ignores_missing_labels() -> None:
    pred = torch.tensor([[0.5, 0.9], [0.1, 0.2]])
    labels = torch.tensor([[5.5, float("nan")], [1.0, float("nan")]])
    assert masked_mse(pred, labels).item() == pytest.approx((0.0**2 + 0.1**2) / 2)
    assert masked_mse(pred, torch.full((2, 2), float("nan"))).item() == 0.0


def test_baseline_learns_a_frame_mean_signal() -> None:
    rng = np.random.default_rng(0)
    n, f = 64, 10
    frames = rng.normal(size=(n, 3, 4, f)).astype(np.float32)
    labels = np.full((n, 8), np.nan, dtype=np.float32)
    labels[:, 0] = 1 + 9 * (frames.mean(axis=(1, 2))[:, 0] > 0)
    b = Bundle("toy", frames, labels, np.full(n, -1))
    model = train_baseline([(b, 1.0)], epochs=40)
    with torch.no_grad():
        out = torch.sigmoid(model(torch.from_numpy(frames)))[:, 0].numpy()
    assert np.corrcoef(out, labels[:, 0])[0, 1] > 0.8


def _toy_orders(n: int, seed: int, t: int = 5, p: int = 4, f: int = 6) -> OrderPairs:
    """True processes whose channel 0 grows frame by frame; shuffles are the same frames
    in a random (never the true) order. Frame means match, so only order tells them apart."""
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=0.3, size=(n, t, p, f)).astype(np.float32)
    base[..., 0] += np.linspace(-1, 1, t, dtype=np.float32)[None, :, None]
    shuffled = np.empty((n, 2, t, p, f), dtype=np.float32)
    for i in range(n):
        for k in range(2):
            perm = rng.permutation(t)
            while (perm == np.arange(t)).all():
                perm = rng.permutation(t)
            shuffled[i, k] = base[i, perm]
    return OrderPairs("toy", base, shuffled, attribute=6)


def _tiny_config() -> ProcessConfig:
    """A judge small enough to train in a test: 6-dim tokens on a 2x2 grid, one layer."""
    return ProcessConfig(
        token_dim=6,
        grid=2,
        d_model=32,
        n_heads=2,
        n_layers=1,
        expert_hidden=16,
        head_hidden=16,
        routed_depths=(1, 2),
        top_k=1,
    )


def test_pairs_teach_the_judge_the_true_order() -> None:
    from artjudge.models.process.model import PPJudgeNet

    cfg = _tiny_config()
    torch.manual_seed(0)
    net = PPJudgeNet(cfg)
    train, test = _toy_orders(160, 0), _toy_orders(60, 1)
    style = np.zeros((1, cfg.text_dim), dtype=np.float32)
    losses = train_net(net, [(train, 1.0)], style, epochs=12, lr=3e-3, batch_size=32, progress=False)
    assert losses[-1] < losses[0]
    nan = np.full((60, 8), np.nan, dtype=np.float32)
    true = predict(net, Bundle("t", test.true, nan, np.full(60, -1)))[:, 6]
    shuf = predict(net, Bundle("s", test.shuffled[:, 0], nan, np.full(60, -1)))[:, 6]
    assert np.mean(true > shuf) > 0.9


def test_schedule_takes_fractional_passes_and_half_batches_for_pairs() -> None:
    pairs = _toy_orders(40, 0)
    frames = np.zeros((10, 2, 4, 6), dtype=np.float32)
    b = Bundle("b", frames, np.full((10, 8), np.nan, dtype=np.float32), np.full(10, -1))
    steps = _schedule([(pairs, 0.5), (b, 2.0)], batch_size=8, rng=np.random.default_rng(0))
    pair_rows = np.concatenate([idx for s, idx in steps if s is pairs])
    bundle_rows = np.concatenate([idx for s, idx in steps if s is b])
    assert len(pair_rows) == 20 and len(set(pair_rows.tolist())) == 20
    assert max(len(idx) for s, idx in steps if s is pairs) == 4
    assert sorted(bundle_rows.tolist()) == sorted(list(range(10)) * 2)


def test_ridge_blend_folds_exactly_into_the_weights() -> None:
    """share * network + (1 - share) * ridge, computed outside, equals the folded network's
    consistency after every frame; the other attributes are untouched."""
    from artjudge.models.process.grounding import N_ALIGN
    from artjudge.models.process.model import PPJudgeNet, scores_to_logits

    cfg = _tiny_config()
    torch.manual_seed(0)
    net = PPJudgeNet(cfg).eval()
    with torch.no_grad():  # a trained-looking wide path, so the mix is not of zeros
        net.wide.weight.normal_(std=0.1)
    rng = np.random.default_rng(0)
    n = 50
    frames = rng.normal(size=(n, 3, 4, 6)).astype(np.float32)
    align = rng.normal(size=(n, 3, N_ALIGN)).astype(np.float32)
    labels = np.full((n, 8), np.nan, dtype=np.float32)
    labels[:, 0] = np.clip(5 + 2 * frames[:, -1, :, 0].mean(axis=1) + align[:, -1, 0], 1, 10)
    labels[:3, 0] = np.nan  # rows without a label are left out of the fit
    b = Bundle("toy", frames, labels, np.full(n, -1), align=align)
    with torch.no_grad():
        before = net(torch.from_numpy(frames), align=torch.from_numpy(align))["logits"]
    from sklearn.linear_model import RidgeCV

    x, rows = wide_inputs(net, b), ~np.isnan(labels[:, 0])
    mu, sd = x[rows].mean(axis=0), x[rows].std(axis=0) + 1e-6
    ridge = RidgeCV(alphas=np.logspace(-2, 5, 15)).fit(
        (x[rows] - mu) / sd, scores_to_logits(torch.from_numpy(labels[rows, 0])).numpy()
    )
    net_before = copy.deepcopy(net)
    blend_ridge_readout(net, b, attribute=0, share=0.25)
    with torch.no_grad():
        after = net(torch.from_numpy(frames), align=torch.from_numpy(align))["logits"]
    for t in range(3):  # after each frame, from that frame's own wide inputs
        upto = Bundle("toy", frames[:, : t + 1], labels, np.full(n, -1), align=align[:, : t + 1])
        x_t = wide_inputs(net_before, upto)
        expected = 0.25 * before[:, t, 0].numpy() + 0.75 * ridge.predict((x_t - mu) / sd)
        np.testing.assert_allclose(after[:, t, 0].numpy(), expected, atol=1e-4)
    assert torch.equal(after[..., 1:], before[..., 1:])
    assert not torch.allclose(after[..., 0], before[..., 0])


@pytest.mark.slow
def test_train_process_tiny(tmp_path: Path, shared_data: Path) -> None:
    require_extra("text")  # the style sentences are embedded by the [text] extra's encoder
    sheep = shared_data / "process" / "sheep-market"
    cfg = ProcessTrainConfig(
        n_synthetic=6,
        n_frames=4,
        size=64,
        n_sheep=3,
        sheep_frames=3,
        sheep_passes=1.0,
        epochs_pretrain=2,
        epochs_finetune=1,
        cache_dir=tmp_path / "cache",
        sheep_root=sheep if sheep.is_dir() else None,
        model=ProcessConfig(
            d_model=32, n_heads=2, n_layers=1, expert_hidden=8, head_hidden=16, routed_depths=(1, 2), top_k=1
        ),
    )
    out = tmp_path / "w.pt"
    summary = train_process_judge(cfg, out, progress=False)
    assert out.is_file() and (tmp_path / "w.pt.sha256").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["sha256"] == summary["sha256"]
    assert len(summary["loss_pretrain"]) == 2  # type: ignore[arg-type]
    assert len(summary["loss_finetune"]) == (1 if cfg.sheep_root else 0)  # type: ignore[arg-type]
    judge = load_process_judge(str(out))
    assert judge.encoder.resolution == 64
    assert judge.net.grounder.ready  # concept embeddings travel inside the weights
    # a second run reads the cached tokens instead of re-encoding
    cached = sorted(p.name for p in (tmp_path / "cache").iterdir())
    train_process_judge(cfg, tmp_path / "w2.pt", progress=False)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == cached
