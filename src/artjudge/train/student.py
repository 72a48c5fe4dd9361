"""Distillation's last step: train a fast student on a judge's pseudo-scores (PSDistill).

The judge, the reference pool and the pseudo-scores live in
:mod:`artjudge.preference.distill`; this module trains the student, a small MLP head on
frozen features, with the confidence-weighted pairwise ranking loss plus a light
squared-error anchor that keeps its output on the score scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.errors import InputError
from artjudge.io.files import dumps_strict
from artjudge.models.student import (
    STUDENT_FORMAT,
    STUDENT_FORMAT_VERSION,
    build_student_net,
    read_student_file,
)
from artjudge.preference.distill import Judge, ReferencePool, plan_anchor_pairs, pseudo_scores, run_judge

# --------------------------------------------------------------------------- student


@dataclass
class StudentConfig:
    hidden: int = 128
    dropout: float = 0.1
    epochs: int = 150
    lr: float = 2e-3
    weight_decay: float = 1e-3
    batch_size: int = 128
    mse_weight: float = 0.2
    seed: int = 0


class MLPStudent:
    """A small MLP head on frozen features, trained by confidence-weighted pairwise ranking.

    ``fit(X, y, weights)``: y are (pseudo-)scores; pairs are formed inside each mini-batch
    with the per-item weights (pair weight w_i * w_j), as ``scoring.pairwise_ranking_loss``
    defines; a squared-error term (``mse_weight``) on standardised y fixes the level and
    spread, so ``predict`` answers on y's scale.
    """

    def __init__(self, **config: Any) -> None:
        self.config = StudentConfig(**config)
        self.net_: Any = None
        self.meta_: dict[str, Any] = {}  # what a loaded file recorded (judge, features, output scale)

    def _build(self, d: int) -> Any:
        import torch

        torch.manual_seed(self.config.seed)
        return build_student_net(d, self.config.hidden, self.config.dropout)

    def init(self, d: int) -> MLPStudent:
        """An untrained student (the 'before distillation' baseline)."""
        self.net_ = self._build(d)
        self.x_mean_, self.x_std_ = np.zeros(d), np.ones(d)
        self.y_mean_, self.y_std_ = 0.0, 1.0
        return self

    def fit(self, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> MLPStudent:
        import torch

        from artjudge.scoring.losses import pairwise_ranking_loss

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or len(X) != len(y):
            raise InputError(
                "features",
                f"need a 2-D feature matrix with one row per score, got {X.shape} for {len(y)} scores",
            )
        if len(y) < 2 or not np.isfinite(y).all() or not np.isfinite(X).all():
            raise InputError("features", "need at least 2 rows and finite features and scores")
        w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
        cfg = self.config
        self.x_mean_, self.x_std_ = X.mean(0), X.std(0) + 1e-6
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        xt = torch.from_numpy((X - self.x_mean_) / self.x_std_)
        yt = torch.from_numpy((y - self.y_mean_) / self.y_std_).float()
        wt = torch.from_numpy(w).float()
        net = self._build(X.shape[1])
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.epochs)
        gen = torch.Generator().manual_seed(cfg.seed)
        net.train()
        for _ in range(cfg.epochs):
            perm = torch.randperm(len(yt), generator=gen)
            for start in range(0, len(perm), cfg.batch_size):
                b = perm[start : start + cfg.batch_size]
                if len(b) < 2:
                    continue
                out = net(xt[b]).squeeze(-1)
                loss = pairwise_ranking_loss(out, yt[b], weights=wt[b], kind="logistic")
                if cfg.mse_weight:
                    loss = loss + cfg.mse_weight * (wt[b] * (out - yt[b]) ** 2).sum() / wt[b].sum().clamp_min(
                        1e-9
                    )
                opt.zero_grad()
                loss.backward()
                opt.step()
            sched.step()
        net.eval()
        self.net_ = net
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        if self.net_ is None:
            raise InputError("student", "not trained: call fit() or init() first")
        xt = torch.from_numpy(
            ((np.asarray(X, dtype=np.float32) - self.x_mean_) / self.x_std_).astype(np.float32)
        )
        with torch.inference_mode():
            out = self.net_(xt).squeeze(-1).double().numpy()
        return out * self.y_std_ + self.y_mean_

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> None:
        """Weights, config and standardisation, as tensors + JSON (no pickle), with a SHA-256 sidecar.

        ``extra`` is stored as the file's metadata (JSON): ``artjudge distill`` records the
        judge, the pool, the feature extractor and the output scale there, which is what
        lets ``artjudge.load("student:PATH")`` score images with it.
        """
        import torch

        from artjudge.models.weights import save_weights_file

        if self.net_ is None:
            raise InputError("student", "nothing to save: not trained")
        blob = {
            "format": STUDENT_FORMAT,
            "format_version": STUDENT_FORMAT_VERSION,
            "config_json": dumps_strict(asdict(self.config)),
            "state_dict": {k: v.detach().cpu() for k, v in self.net_.state_dict().items()},
            "x_mean": torch.from_numpy(np.asarray(self.x_mean_, dtype=np.float64)),
            "x_std": torch.from_numpy(np.asarray(self.x_std_, dtype=np.float64)),
            "y_mean": float(self.y_mean_),
            "y_std": float(self.y_std_),
            "meta_json": dumps_strict(extra or {}, default=str),
        }
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_weights_file(Path(path), blob)

    @classmethod
    def load(cls, path: str | Path) -> MLPStudent:
        """A saved student, after its SHA-256 check (``torch.load(weights_only=True)``)."""
        f = read_student_file(path)
        student = cls(**f.config)
        student.net_ = f.net()
        student.x_mean_, student.x_std_ = f.x_mean.astype(np.float32), f.x_std.astype(np.float32)
        student.y_mean_, student.y_std_ = f.y_mean, f.y_std
        student.meta_ = f.meta
        return student


def item_weights(score_se: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Confidence per item: 1 / (1 + (se / sd of scores)^2), so vague pseudo-scores pull less."""
    sd = float(np.std(score)) or 1.0
    return 1.0 / (1.0 + (np.asarray(score_se, float) / sd) ** 2)


class PSDistill:
    """The whole distillation: plan anchor pairs, run the judge, pseudo-score, train the student."""

    def __init__(
        self,
        n_anchors: int = 8,
        include_pool: bool = True,
        seed: int = 0,
        progress: bool = False,
        student: dict[str, Any] | None = None,
    ) -> None:
        self.n_anchors = n_anchors
        self.include_pool = include_pool
        self.seed = seed
        self.progress = progress
        self.student = student or {}

    def fit(
        self,
        judge: Judge,
        pool: ReferencePool,
        items: Sequence[str],
        X_items: np.ndarray,
        X_pool: np.ndarray | None = None,
    ) -> PSDistill:
        if len(X_items) != len(items):
            raise InputError("features", f"{len(X_items)} feature rows for {len(items)} items")
        self.plan_ = plan_anchor_pairs(items, pool, self.n_anchors, self.seed)
        calls = run_judge(judge, self.plan_, self.progress)
        return self.fit_calls(calls, pool, items, X_items, X_pool)

    def fit_calls(
        self,
        calls: pd.DataFrame,
        pool: ReferencePool,
        items: Sequence[str],
        X_items: np.ndarray,
        X_pool: np.ndarray | None = None,
    ) -> PSDistill:
        """Train from calls already made (item, anchor, p_item_better, confidence)."""
        if len(X_items) != len(items):
            raise InputError("features", f"{len(X_items)} feature rows for {len(items)} items")
        missing = sorted(set(items) - set(calls["item"]))
        if missing:
            raise InputError(
                "calls", f"{len(missing)} item(s) never compared with the pool, e.g. {missing[0]!r}"
            )
        self.calls_ = calls
        self.pseudo_ = pseudo_scores(calls, pool)
        ps = self.pseudo_.set_index("item").loc[list(items)]
        y = ps["score"].to_numpy(float)
        w = item_weights(ps["score_se"].to_numpy(float), y)
        X = np.asarray(X_items, dtype=np.float32)
        if self.include_pool and X_pool is not None:
            if len(X_pool) != len(pool.items):
                raise InputError(
                    "features", f"{len(X_pool)} pool feature rows for {len(pool.items)} pool items"
                )
            pool_y = pool.score if pool.score is not None else pool.elo
            X = np.vstack([X, np.asarray(X_pool, dtype=np.float32)])
            y = np.concatenate([y, pool_y])
            w = np.concatenate([w, np.ones(len(pool_y))])
        self.student_ = MLPStudent(**{"seed": self.seed, **self.student}).fit(X, y, w)
        self.train_X_, self.train_y_ = X, y
        self.pool_scored_ = pool.score is not None
        return self

    def output_scale(self) -> dict[str, Any]:
        """How the student's output maps onto 0-100 (recorded in the file; see ``models.student``).

        Pool scores already on 0-100 are kept as they are; otherwise (Elo, or another scale)
        the range of the training targets becomes 0-100.
        """
        y = self.train_y_
        if self.pool_scored_ and float(y.min()) >= 0.0 and float(y.max()) <= 100.0:
            return {"kind": "pool-score", "lo": 0.0, "hi": 100.0}
        return {
            "kind": "pool-score" if self.pool_scored_ else "elo",
            "lo": float(y.min()),
            "hi": float(y.max()),
        }

    def residual_rmse(self) -> float:
        """RMSE of the student on its own training rows, on the 0-100 scale (in-sample: optimistic)."""
        scale = self.output_scale()
        resid = self.student_.predict(self.train_X_) - self.train_y_
        return float(np.sqrt(np.mean(resid**2)) * 100.0 / ((scale["hi"] - scale["lo"]) or 1.0))

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.student_.predict(X)
