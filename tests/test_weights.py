"""The one weights module: one file format, weights_only=True loading, SHA-256 always checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from artjudge.errors import ModelNotAvailable
from artjudge.models.process.judge import default_weights_path, load_net, save_checkpoint
from artjudge.models.process.model import PPJudgeNet, ProcessConfig
from artjudge.models.weights import (
    PACKAGE_WEIGHTS,
    load_checkpoint,
    load_weights_file,
    save_weights_file,
    sidecar_path,
)


def test_roundtrip_writes_sha256sum_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    blob = {
        "state_dict": {"w": torch.arange(4.0)},
        "config": {"n": 4, "name": "x", "depths": [1, 2]},
        "score": np.float64(0.5),
    }
    digest = save_weights_file(path, blob)
    assert sidecar_path(path).read_text() == f"{digest}  w.pt\n"
    back = load_weights_file(path)
    assert torch.equal(back["state_dict"]["w"], torch.arange(4.0))
    assert back["config"] == {"n": 4, "name": "x", "depths": [1, 2]}
    assert back["score"] == 0.5 and type(back["score"]) is float  # numpy scalar stored as a number


@pytest.mark.parametrize("bad", [np.zeros(3), Path("x"), object()])
def test_objects_that_need_pickle_are_refused_at_save(tmp_path: Path, bad: object) -> None:
    with pytest.raises(TypeError, match="weights_only"):
        save_weights_file(tmp_path / "w.pt", {"meta": {"x": bad}})
    assert not (tmp_path / "w.pt").exists()


def test_missing_sidecar_is_an_error_unless_training_opts_out(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    save_weights_file(path, {"a": torch.ones(2)})
    sidecar_path(path).unlink()
    with pytest.raises(ModelNotAvailable, match=r"w\.pt\.sha256 is missing"):
        load_weights_file(path)
    assert torch.equal(load_weights_file(path, check_hash=False)["a"], torch.ones(2))


def test_pickled_objects_are_not_loaded_even_with_a_good_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    torch.save({"a": Path("x")}, path)  # the old weights_only=False world
    from artjudge.io.files import sha256_file

    sidecar_path(path).write_text(f"{sha256_file(path)}  w.pt\n")
    with pytest.raises(ModelNotAvailable, match="not a safe artjudge weights file"):
        load_weights_file(path)


def test_process_judge_refuses_weights_without_their_digest(tmp_path: Path) -> None:
    cfg = ProcessConfig(
        d_model=48,
        n_heads=2,
        n_layers=2,
        expert_hidden=16,
        head_hidden=32,
        routed_depths=(1, 1, 1, 2, 3),
        top_k=2,
    )
    path = tmp_path / "p.pt"
    save_checkpoint(path, PPJudgeNet(cfg), version="t", styles=["a"], meta={"resolution": np.int64(64)})
    net, blob = load_net(path)
    assert blob["meta"] == {"resolution": 64} and blob["styles"] == ["a"]
    sidecar_path(path).unlink()
    with pytest.raises(ModelNotAvailable, match=r"p\.pt\.sha256 is missing"):
        load_net(path)
    load_net(path, check_hash=False)  # training code reading its own output


def test_shipped_weights_load_with_weights_only() -> None:
    blob = load_weights_file(default_weights_path())
    assert set(blob) >= {"config", "state_dict", "version", "styles", "meta"}
    state, card = load_checkpoint(PACKAGE_WEIGHTS / "default")
    assert state and all(v.dtype != torch.float16 for v in state.values())
    assert card["sha256"] == sidecar_path(PACKAGE_WEIGHTS / "default" / "head.pt").read_text().split()[0]


def test_checkpoint_digest_from_card_alone_and_disagreement(tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    shutil.copytree(PACKAGE_WEIGHTS / "default", folder)
    (folder / "head.pt.sha256").unlink()
    load_checkpoint(folder)  # the card's digest suffices
    card = json.loads((folder / "card.json").read_text())
    card["sha256"] = "0" * 64
    (folder / "card.json").write_text(json.dumps(card))
    with pytest.raises(ModelNotAvailable, match="SHA-256 mismatch"):
        load_checkpoint(folder)
    shutil.copy(PACKAGE_WEIGHTS / "default" / "head.pt.sha256", folder / "head.pt.sha256")
    with pytest.raises(ModelNotAvailable, match="disagree"):
        load_checkpoint(folder)
    del card["sha256"]
    (folder / "card.json").write_text(json.dumps(card))
    (folder / "head.pt.sha256").unlink()
    with pytest.raises(ModelNotAvailable, match="no SHA-256 to check it against"):
        load_checkpoint(folder)
