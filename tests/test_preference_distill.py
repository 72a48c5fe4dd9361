"""PSDistill on a synthetic feature matrix: judges, pseudo-scores, the student, save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from artjudge.errors import InputError
from artjudge.preference.distill import (
    ReferencePool,
    ScorerJudge,
    TableJudge,
    plan_anchor_pairs,
    pseudo_scores,
    run_judge,
    table_calls,
)
from artjudge.train.student import MLPStudent, PSDistill

torch.set_num_threads(1)


def _world(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(420, 12)).astype(np.float32)
    w = rng.normal(size=12)
    y = X @ w + 0.5 * np.tanh(X[:, 0] * X[:, 1])
    y = 50 + 12 * (y - y.mean()) / y.std()
    return X, y, [f"x{k:03d}" for k in range(len(y))]


def _pool(y: np.ndarray, ids: list[str], idx: np.ndarray) -> ReferencePool:
    return ReferencePool([ids[i] for i in idx], elo=1500 + 8 * (y[idx] - 50), score=y[idx])


def test_pseudo_scores_recover_the_truth_from_noisy_calls() -> None:
    X, y, ids = _world()
    truth = dict(zip(ids, y, strict=True))
    rng = np.random.default_rng(1)

    def judge(a: str, b: str) -> tuple[float, float]:
        return float(truth[a] + rng.normal(0, 6) > truth[b]), 0.9

    pool = _pool(y, ids, np.arange(80))
    new = ids[80:200]
    calls = run_judge(judge, plan_anchor_pairs(new, pool, n_anchors=10))
    ps = pseudo_scores(calls, pool).set_index("item").loc[new]
    assert spearmanr(ps["score"], y[80:200])[0] > 0.85
    assert ps["score"].between(y[:80].min(), y[:80].max()).all()  # calibrated onto the pool's scale
    assert (ps["score_se"] > 0).all() and (ps["elo_se"] > 0).all()


def test_distilled_student_beats_untrained_and_approaches_ceiling() -> None:
    X, y, ids = _world()
    truth = dict(zip(ids, y, strict=True))
    rng = np.random.default_rng(2)

    def judge(a: str, b: str) -> tuple[float, float]:
        return float(truth[a] + rng.normal(0, 5) > truth[b]), 0.8

    pool_idx, train, test = np.arange(60), np.arange(60, 320), np.arange(320, 420)
    pool = _pool(y, ids, pool_idx)
    ps = PSDistill(n_anchors=8, student={"epochs": 40}).fit(
        judge, pool, [ids[i] for i in train], X[train], X[pool_idx]
    )
    after = spearmanr(ps.predict(X[test]), y[test])[0]
    before = spearmanr(MLPStudent().init(X.shape[1]).predict(X[test]), y[test])[0]
    ceiling = spearmanr(
        MLPStudent(epochs=40).fit(X[np.r_[pool_idx, train]], y[np.r_[pool_idx, train]]).predict(X[test]),
        y[test],
    )[0]
    assert after > 0.8 and after > abs(before) + 0.4
    assert after <= ceiling + 0.05


def test_table_and_scorer_judges(tmp_path: Path) -> None:
    calls = tmp_path / "calls.csv"
    calls.write_text("item_a,item_b,winner,confidence\nn1,p1,a,0.9\np2,n1,a,1\nn1,p1,a,0.5\n")
    judge = TableJudge.from_csv(calls)
    assert judge("n1", "p1") == (1.0, pytest.approx(0.7))
    assert judge("p1", "n1")[0] == 0.0
    with pytest.raises(InputError, match="no call for the pair"):
        judge("n1", "p9")
    pool = ReferencePool(["p1", "p2"], np.array([1400.0, 1600.0]))
    tc = table_calls(judge, ["n1"], pool)
    assert len(tc) == 2 and set(tc["anchor"]) == {"p1", "p2"}
    # A scorer judge compares absolute scores with their spread.
    sj = ScorerJudge(
        lambda items: (np.array([{"a": 70.0, "b": 40.0}[i] for i in items]), np.full(len(items), 5.0))
    )
    p, c = sj("a", "b")
    assert p > 0.99 and c > 0.98
    assert sj("b", "a")[0] == pytest.approx(1 - p)


def test_student_save_load_roundtrip(tmp_path: Path) -> None:
    X, y, _ = _world()
    student = MLPStudent(epochs=5).fit(X[:100], y[:100])
    path = tmp_path / "s.pt"
    student.save(path)
    again = MLPStudent.load(path)
    np.testing.assert_allclose(again.predict(X[100:120]), student.predict(X[100:120]), rtol=1e-5)


def test_bad_distill_inputs() -> None:
    with pytest.raises(InputError, match="need columns item and elo"):
        ReferencePool.from_frame(pd.DataFrame({"item": ["a"], "score": [1]}))
    pool = ReferencePool(["p1", "p2"], np.array([1400.0, 1600.0]))
    with pytest.raises(InputError, match="already in the pool"):
        plan_anchor_pairs(["p1"], pool)
    with pytest.raises(InputError, match="in \\[0, 1\\]"):
        run_judge(lambda a, b: (1.5, 1.0), plan_anchor_pairs(["n1"], pool, 1))
    with pytest.raises(InputError, match="2-D feature matrix"):
        MLPStudent().fit(np.zeros(5), np.zeros(5))
