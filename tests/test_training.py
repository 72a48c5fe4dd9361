"""Training the head: it learns, resumes exactly, stops on NaN, trains attribute heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import artjudge
from artjudge.eval import metrics
from artjudge.features.encoder import POOLED_DIM
from artjudge.features.extract import FeatureBatch
from artjudge.features.handcrafted import HANDCRAFTED_NAMES
from artjudge.models.head import HeadConfig
from artjudge.train.head import HeadTrainConfig, Targets, TrainingDiverged, fit_head, predict_scores
from helpers_images import write_paintings


def _synthetic(n: int, seed: int) -> tuple[FeatureBatch, Targets]:
    rng = np.random.default_rng(seed)
    pooled = np.zeros((n, POOLED_DIM), dtype=np.float32)
    pooled[:, :40] = rng.normal(size=(n, 40))  # constant columns standardise to 0: 40 live inputs
    hand = rng.normal(size=(n, len(HANDCRAFTED_NAMES))).astype(np.float32)
    signal = pooled[:, :5].sum(1) + hand[:, 0]
    score = 50 + 12 * signal / signal.std()
    score = np.clip(score, 1, 99)
    attr = np.clip(100 - score + rng.normal(0, 3, n), 0, 100)
    attr[::4] = np.nan  # unlabelled rows must not count
    feats = FeatureBatch(pooled, hand, np.zeros((n, 0), np.float16))
    return feats, Targets(
        {"overall": score, "mood": attr}, {"overall": np.full(n, 8.0), "mood": np.full(n, np.nan)}
    )


def _config(**kw) -> HeadTrainConfig:
    head = HeadConfig(hidden=32, members=2, targets=["overall", "mood"], dropout=0.1)
    return HeadTrainConfig(head=head, epochs=kw.pop("epochs", 12), lr=3e-3, **kw)


def test_head_learns_both_targets() -> None:
    torch.set_num_threads(1)
    tr, trt = _synthetic(400, 0)
    te, tet = _synthetic(200, 1)
    res = fit_head(tr, trt, te, tet, _config())
    pred = predict_scores(res.head, te)
    assert metrics.srcc(pred["overall"], tet.scores["overall"]) > 0.8
    ok = np.isfinite(tet.scores["mood"])
    assert metrics.srcc(pred["mood"][ok], tet.scores["mood"][ok]) > 0.7


def test_resume_reproduces_the_uninterrupted_run(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    tr, trt = _synthetic(200, 2)
    va, vat = _synthetic(80, 3)
    full = fit_head(tr, trt, va, vat, _config(epochs=4))
    # stop after 2 epochs (same schedule), then resume to 4
    part_cfg = _config(epochs=4, patience=100)
    state_dir = tmp_path / "state"
    import artjudge.train.head as tmod

    class Stop(Exception):
        pass

    def stop_after_two(epoch: int, rec: dict) -> None:
        if epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        tmod.fit_head(tr, trt, va, vat, part_cfg, progress=stop_after_two, state_dir=state_dir)
    # the epoch-2 state was not written because progress raised before saving: resume from epoch 1
    resumed = tmod.fit_head(tr, trt, va, vat, part_cfg, state_dir=state_dir, resume=True)
    assert [round(h["loss"], 5) for h in resumed.history] == [round(h["loss"], 5) for h in full.history]


def test_nan_loss_stops_cleanly() -> None:
    tr, trt = _synthetic(64, 4)
    tr.pooled[:] = np.nan
    with pytest.raises(TrainingDiverged, match="epoch 1, step 0"):
        fit_head(tr, trt, tr, trt, _config(epochs=1))


def test_select_epoch_last_keeps_the_final_epoch_whatever_val_says() -> None:
    """A fixed epoch count (training on train+val, chosen by CV) must not fall back to val selection."""
    torch.set_num_threads(1)
    tr, trt = _synthetic(200, 5)
    va, vat = _synthetic(80, 6)
    upside_down = Targets({k: -v for k, v in vat.scores.items()}, vat.stds)  # rewards the least-fit epoch
    best = fit_head(tr, trt, va, upside_down, _config(epochs=3))
    last = fit_head(tr, trt, va, upside_down, _config(epochs=3, select_epoch="last"))
    val_curve = [h["val_srcc"] for h in best.history]
    assert best.best_epoch == int(np.argmax(val_curve))
    assert last.best_epoch == 2
    assert last.best_val_srcc == last.history[-1]["val_srcc"]
    assert [h["loss"] for h in last.history] == [h["loss"] for h in best.history]  # same training
    with pytest.raises(ValueError, match="select_epoch 'first'"):
        fit_head(tr, trt, va, vat, _config(epochs=1, select_epoch="first"))


def test_train_head_on_a_manifest_writes_a_loadable_checkpoint(tmp_path: Path) -> None:
    from artjudge.data import read_dataset
    from artjudge.train.head import train_head

    torch.set_num_threads(2)
    paths = write_paintings(tmp_path / "imgs", 24)
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "image": [p.name for p in paths],
            "rating": rng.uniform(1, 10, len(paths)).round(2),
            "colour": rng.uniform(1, 10, len(paths)).round(2),
            "split": ["train"] * 16 + ["val"] * 4 + ["test"] * 4,
        }
    )
    csv = tmp_path / "labels.csv"
    df.to_csv(csv, index=False)
    manifest = read_dataset(
        "csv",
        csv,
        images=tmp_path / "imgs",
        image_col="image",
        score_col="rating",
        scale="1,10",
        attr_cols=["colour"],
        split_col="split",
    )
    config = HeadTrainConfig(head=HeadConfig(hidden=16, members=2, targets=["overall", "colour"]), epochs=2)
    out = tmp_path / "ckpt"
    card = train_head(manifest, config, out, cache_dir=tmp_path / "cache", flip_augment=False).card
    assert (out / "head.pt").is_file() and (out / "card.json").is_file()
    assert card["targets"] == ["overall", "colour"]
    scorer = artjudge.load(str(out))
    rec = scorer.assess(paths[0])
    # exactly the attributes a label trained, less those whose skill the card does not establish
    # (random grades here: those are named in a note instead of shown as a grade)
    from artjudge.models.head_config import unskilled_targets

    unskilled = unskilled_targets(card)
    assert set(rec.attributes) == {"colour"} - set(unskilled)
    assert ("colour" in unskilled) == any("unskilled attributes" in n and "colour" in n for n in rec.notes)
