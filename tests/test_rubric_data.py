"""The citing rule of rubric.json on data whose answer is known (train.rubric_data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from artjudge.train.rubric_data import (
    FDR,
    exemplar_paths,
    relations,
    robust_explainers,
    similarity_floor,
)


def _folds(n: int, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    idx = np.random.default_rng(1).permutation(n)
    parts = np.array_split(idx, k)
    return [(np.setdiff1d(idx, p), p) for p in parts]


def _data(n: int = 120, seed: int = 0) -> tuple[list[dict[str, float]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    y = rng.uniform(0, 100, n)
    evidence = [
        {
            "brightness_mean": float(y[i] / 100 + rng.normal(0, 0.15)),  # tracks the grades
            "image_size": float(y[i] * 40 + 512),  # tracks them perfectly, but is the camera's
            **{f"m{j}": float(rng.normal()) for j in range(20)},  # twenty unrelated measures
        }
        for i in range(n)
    ]
    return evidence, {"tone": y, "chance": rng.uniform(0, 100, n)}


def test_only_robust_relations_about_the_work_are_kept() -> None:
    evidence, scores = _data()
    cited, tested = robust_explainers(evidence, scores, _folds(len(scores["tone"])))
    assert tested == 2 * 21  # every pair enters the correction; image_size is never tested
    assert [x["evidence"] for x in cited["tone"]] == ["brightness_mean"]
    assert cited["tone"][0]["folds_held"] == 5 and cited["tone"][0]["q"] <= FDR
    assert cited["chance"] == []
    assert all(x["evidence"] != "image_size" for xs in cited.values() for x in xs)


def test_multiple_comparison_control_and_folds_both_bind() -> None:
    evidence, scores = _data(seed=3)
    found = relations(evidence, scores, _folds(len(scores["tone"])))
    # the adjusted q is never below the raw p, and some raw p < 0.05 among the noise pairs are
    # not robust (chance alone gives about one in twenty)
    assert all(r.q >= r.p - 1e-12 for r in found)
    noise = [r for r in found if r.target == "chance" or r.evidence.startswith("m")]
    assert not any(r.robust for r in noise)
    # a relation that flips sign between halves of the works fails the fold test
    n = len(scores["tone"])
    y = scores["tone"]
    flip = np.where(np.arange(n) < n // 2, y, 100 - y)
    ev = [{"x": float(flip[i])} for i in range(n)]
    halves = [(np.arange(n // 2, n), np.arange(0, n // 2)), (np.arange(0, n // 2), np.arange(n // 2, n))]
    (r,) = relations(ev, {"tone": y}, halves)
    assert r.folds == 2 and r.folds_held < 2 and not r.robust


def test_similarity_floor_and_relative_paths(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(200, 16))
    floor = similarity_floor(feats)
    x = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sims = (x @ x.T)[np.triu_indices(200, 1)]
    assert abs((sims > floor).mean() - 0.05) < 0.005
    (tmp_path / "imgs").mkdir()
    p = tmp_path / "imgs" / "a.png"
    p.write_bytes(b"")
    assert exemplar_paths([p], tmp_path) == ["imgs/a.png"]
    assert exemplar_paths([p], None) == [p.absolute().as_posix()]
