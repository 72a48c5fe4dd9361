"""Ungrouped CV folds are scikit-learn's shuffled KFold, rebuilt without importing it.

``artjudge.train.cv.shuffled_kfold`` keeps small-rubric training free of the scikit-learn
import; a model trained before the change must get the same folds (so the same out-of-fold
predictions, CV SRCC and card), which only an index-for-index comparison shows.
"""

from __future__ import annotations

import numpy as np
import pytest

from artjudge.train.cv import cv_folds, shuffled_kfold

model_selection = pytest.importorskip("sklearn.model_selection", reason="scikit-learn not installed")


@pytest.mark.parametrize("n", [2, 3, 5, 7, 20, 21, 300, 301])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_same_folds_as_sklearn(n: int, seed: int) -> None:
    k = min(5, n)
    expected = list(model_selection.KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(n)))
    got = cv_folds(n, None, k=5, seed=seed)
    assert len(got) == len(expected)
    for (train, test), (train_ref, test_ref) in zip(got, expected, strict=True):
        assert np.array_equal(train, train_ref) and np.array_equal(test, test_ref)
        assert train.dtype == train_ref.dtype and test.dtype == test_ref.dtype


def test_folds_partition_the_rows() -> None:
    folds = shuffled_kfold(23, 5, seed=3)
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests.tolist()) == list(range(23))
    assert [len(test) for _, test in folds] == [5, 5, 5, 4, 4]


def test_one_row_cannot_be_cross_validated() -> None:
    with pytest.raises(ValueError, match="folds"):
        cv_folds(1, None)
