"""Fitting the embedded scorer's MLP-ensemble head on features (the gradient-descent path).

The network below the tunable top is frozen, so every image is encoded once and the
whole training loop runs on cached arrays: minutes on a CPU instead of hours. Targets
are Token-As-Score soft labels (101 bins, exact expectation, see ``artjudge.scoring``)
learnt with KL divergence, plus a pairwise ranking term because aesthetic benchmarks are
judged by rank correlation. The best epoch on the validation split is kept.

Kept apart from :mod:`artjudge.train.head` (the run over a manifest) so that the small-data
path (:mod:`artjudge.train.small`) can use the ensemble without an import cycle.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from artjudge import scoring
from artjudge.eval import metrics
from artjudge.features.extract import FeatureBatch
from artjudge.models.head import HeadConfig, ScoringHead
from artjudge.models.weights import load_weights_file, save_weights_file
from artjudge.scoring import losses as score_losses


@dataclass
class HeadTrainConfig:
    """Everything that decides a trained head; saved beside the checkpoint."""

    head: HeadConfig = field(default_factory=HeadConfig)
    epochs: int = 4
    batch_size: int = 32
    lr: float = 1e-3
    top_lr: float = 2e-4
    weight_decay: float = 0.05
    kl_weight: float = 1.0
    rank_weight: float = 1.0
    rank_scale: float = 5.0
    seed: int = 0
    patience: int = 100
    # "best_val": keep the epoch with the best val SRCC (the shipped recipe); "last": keep the
    # final epoch, for a fixed epoch count chosen by cross-validation (benchmarks/accuracy_cv.py).
    select_epoch: str = "best_val"
    # Small-data path (artjudge.train.small): under this many labelled train+val works, model
    # selection is k-fold cross-validation and the head family is chosen per target (0: never).
    small_data_max: int = 500
    cv_folds: int = 5
    small_families: list[str] = field(default_factory=lambda: ["ridge", "kernel", "mlp"])
    # A target with fewer labelled training works than this (or under min_label_fraction of
    # them) is reported and skipped instead of training a head on noise.
    min_labels: int = 20
    min_label_fraction: float = 0.3
    # Partial fine-tuning (artjudge.train.finetune, ``train --tune-top N``): the head conv and the
    # last N blocks train on cached trunk maps (needs head.tune_top); None: fit_head's own top path.
    tune_blocks: int | None = None
    # With tune_blocks=0: a rank-r adapter on the head conv (and its BN affine) instead of the whole conv.
    tune_rank: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HeadTrainConfig:
        d = dict(d)
        head = HeadConfig(**d.pop("head", {}))
        return cls(head=head, **d)


@dataclass
class Targets:
    """Per-target human scores on 0-100 and their std (NaN where unknown)."""

    scores: dict[str, np.ndarray]
    stds: dict[str, np.ndarray]

    def take(self, idx: np.ndarray) -> Targets:
        return Targets({k: v[idx] for k, v in self.scores.items()}, {k: v[idx] for k, v in self.stds.items()})


@dataclass
class TrainResult:
    head: ScoringHead
    history: list[dict[str, float]]
    best_epoch: int
    best_val_srcc: float


class TrainingDiverged(RuntimeError):
    """Raised when the loss turns NaN: the step is reported and no checkpoint is written."""


def _freeze_batchnorm(module: nn.Module) -> None:
    """Keep ImageNet BN statistics: small CPU batches would only add noise to them."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def predict_scores(head: ScoringHead, feats: FeatureBatch, batch_size: int = 128) -> dict[str, np.ndarray]:
    """Expected score (0-100) per target for every row."""
    head.eval()
    out: dict[str, list[np.ndarray]] = {t: [] for t in head.config.targets}
    with torch.inference_mode():
        for i in range(0, len(feats), batch_size):
            p, h, tr = feats.take(np.arange(i, min(i + batch_size, len(feats)))).tensors()
            logits = head(p, h, tr)
            for t, lg in logits.items():
                out[t].append(score_losses.expectation_t(lg).numpy())
    return {t: np.concatenate(v) for t, v in out.items()}


def _state_path(folder: Path | None) -> Path | None:
    return folder / "last_state.pt" if folder is not None else None


@dataclass
class _Labels:
    """One target's training labels as tensors: soft labels, which rows count, raw scores."""

    soft: torch.Tensor
    valid: torch.Tensor
    scores: torch.Tensor


@dataclass
class _Progress:
    """What selection and resuming need to know about the epochs run so far."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, Any] | None = None
    best_srcc: float = -math.inf
    best_epoch: int = -1
    since_best: int = 0
    next_epoch: int = 0


def _standardisation(head: ScoringHead, train: FeatureBatch, config: HeadTrainConfig) -> None:
    """Fit the head's input standardisation (and the tunable top's) on the training rows."""
    p, h, tr = train.tensors()
    with torch.no_grad():
        frozen = torch.cat([p, h], dim=1) if config.head.use_handcrafted else p
        head.frozen_mean.copy_(frozen.mean(0))
        head.frozen_std.copy_(frozen.std(0).clamp_min(1e-4))
        if head.top is not None:
            if tr is None:
                raise ValueError("tune_top needs trunk features: extract them with keep_trunk=True")
            head.top.eval()
            top = torch.cat([head.top(tr[i : i + 256]) for i in range(0, len(tr), 256)])
            head.top_mean.copy_(top.mean(0))
            head.top_std.copy_(top.std(0).clamp_min(1e-4))


def _labels(train_targets: Targets, targets: list[str]) -> dict[str, _Labels]:
    out = {}
    for t in targets:
        sc = train_targets.scores[t]
        ok = np.isfinite(sc)
        if not ok.any():
            raise ValueError(f"target {t!r} has no labelled training rows")
        lab = np.zeros((len(sc), scoring.N_BINS), dtype=np.float32)
        lab[ok] = scoring.soft_labels(sc[ok], train_targets.stds[t][ok])  # NaN std: the score-based rule
        out[t] = _Labels(
            torch.from_numpy(lab), torch.from_numpy(ok), torch.from_numpy(np.nan_to_num(sc, nan=0.0)).float()
        )
    return out


def _optimiser(head: ScoringHead, config: HeadTrainConfig, n: int) -> tuple[torch.optim.Optimizer, Any, int]:
    """AdamW (the top at its own rate) under a one-cycle schedule; and the steps per epoch."""
    top_params = list(head.top.parameters()) if head.top is not None else []
    top_ids = {id(q) for q in top_params}
    rest = [q for q in head.parameters() if id(q) not in top_ids]
    groups: list[dict[str, Any]] = [{"params": rest, "lr": config.lr}]
    if top_params:
        groups.append({"params": top_params, "lr": config.top_lr})
    optim = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(n / config.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=[g["lr"] for g in groups], total_steps=steps_per_epoch * config.epochs, pct_start=0.1
    )
    return optim, sched, steps_per_epoch


def _batch_loss(
    head: ScoringHead,
    feats: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None],
    idx: torch.Tensor,
    labels: dict[str, _Labels],
    config: HeadTrainConfig,
) -> torch.Tensor:
    """KL to the soft labels plus the pairwise ranking term, summed over members and targets."""
    p, h, tr = feats
    loss = torch.zeros(())
    for member in head.member_logits(p[idx], h[idx], tr[idx] if tr is not None else None):
        for t, lg in member.items():
            lab = labels[t]
            ok = lab.valid[idx]
            if not ok.any():
                continue
            loss = loss + config.kl_weight * score_losses.kl_loss(lg[ok], lab.soft[idx][ok])
            if config.rank_weight and int(ok.sum()) > 1:
                loss = loss + config.rank_weight * score_losses.pairwise_ranking_loss(
                    score_losses.expectation_t(lg[ok]),
                    lab.scores[idx][ok],
                    kind="logistic",
                    scale=config.rank_scale,
                )
    return loss


def _val_srcc(head: ScoringHead, val: FeatureBatch, val_targets: Targets) -> float:
    preds = predict_scores(head, val)
    per_target = []
    for t in preds:
        ok = np.isfinite(val_targets.scores[t])
        if ok.sum() > 2:
            per_target.append(metrics.srcc(preds[t][ok], val_targets.scores[t][ok]))
    return float(np.nanmean(per_target)) if per_target else float("nan")


def _save_state(path: Path, head: ScoringHead, optim: Any, sched: Any, rng: Any, prog: _Progress) -> None:
    save_weights_file(
        path,
        {
            "head": head.state_dict(),
            "optim": optim.state_dict(),
            "sched": sched.state_dict(),
            "rng": rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "history": prog.history,
            "best_state": prog.best_state,
            "best_srcc": prog.best_srcc,
            "best_epoch": prog.best_epoch,
            "since_best": prog.since_best,
            "epoch": prog.next_epoch - 1,
        },
    )


def _load_state(path: Path, head: ScoringHead, optim: Any, sched: Any, rng: Any) -> _Progress:
    saved = load_weights_file(path)  # plain types and tensors: weights_only=True
    head.load_state_dict(saved["head"])
    optim.load_state_dict(saved["optim"])
    sched.load_state_dict(saved["sched"])
    rng.bit_generator.state = saved["rng"]
    torch.set_rng_state(saved["torch_rng"])
    return _Progress(
        saved["history"], saved["best_state"], saved["best_srcc"], saved["best_epoch"], saved["since_best"],
        saved["epoch"] + 1,
    )  # fmt: skip


def fit_head(
    train: FeatureBatch,
    train_targets: Targets,
    val: FeatureBatch,
    val_targets: Targets,
    config: HeadTrainConfig,
    *,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    state_dir: Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a head from scratch on features; returns the epoch with the best mean val SRCC.

    With ``state_dir`` the full training state is saved after every epoch (atomically), and
    ``resume=True`` continues from it. Rows whose target is NaN do not count in that target's loss.
    """
    if config.select_epoch not in ("best_val", "last"):
        raise ValueError(f"select_epoch {config.select_epoch!r}: choose 'best_val' or 'last'")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    head = ScoringHead(config.head)
    _standardisation(head, train, config)
    labels = _labels(train_targets, list(config.head.targets))
    optim, sched, steps_per_epoch = _optimiser(head, config, len(train))
    feats = train.tensors()
    state_file = _state_path(state_dir)
    prog = _Progress()
    if resume and state_file is not None and state_file.is_file():
        prog = _load_state(state_file, head, optim, sched, rng)
    step = prog.next_epoch * steps_per_epoch
    for epoch in range(prog.next_epoch, config.epochs):
        if prog.since_best >= config.patience:
            break
        head.train()
        if head.top is not None:
            _freeze_batchnorm(head.top)
        order = rng.permutation(len(train))
        losses = []
        for i in range(0, len(train), config.batch_size):
            loss = _batch_loss(
                head, feats, torch.from_numpy(order[i : i + config.batch_size]), labels, config
            )
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {step}; the last good "
                    "checkpoint was left untouched (try a lower --set lr=...)"
                )
            optim.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(head.parameters(), 5.0)
            optim.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
        # epochs count from 1 in the record, like the console line and the card's best_epoch
        record = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "val_srcc": _val_srcc(head, val, val_targets),
        }
        prog.history.append(record)
        if progress is not None:
            progress(epoch, record)
        if record["val_srcc"] > prog.best_srcc or prog.best_state is None or config.select_epoch == "last":
            prog.best_srcc, prog.best_epoch, prog.since_best = record["val_srcc"], epoch, 0
            prog.best_state = copy.deepcopy(head.state_dict())
        else:
            prog.since_best += 1
        prog.next_epoch = epoch + 1
        if state_file is not None:
            _save_state(state_file, head, optim, sched, rng, prog)
    assert prog.best_state is not None
    head.load_state_dict(prog.best_state)
    head.eval()
    return TrainResult(
        head=head, history=prog.history, best_epoch=prog.best_epoch, best_val_srcc=prog.best_srcc
    )


# ---------------------------------------------------------------------------- the ensemble at small n

MLP_MIN_STEPS = 100  # few rows need more epochs than the default's 4 for a useful schedule


def mlp_train_config(base: HeadTrainConfig, targets: list[str], n_rows: int) -> HeadTrainConfig:
    """The MLP ensemble's config for few rows: same head, enough epochs for its schedule.

    ``base.epochs`` is honoured as a floor: a schedule of fewer than ``MLP_MIN_STEPS`` steps
    would end before the one-cycle warm-up has done its work, so the count is raised to that.
    """
    cfg = HeadTrainConfig.from_dict(base.to_dict())
    cfg.head = HeadConfig(
        **{**base.head.to_dict(), "targets": list(targets), "families": {}, "n_anchors": 0, "tune_top": False}
    )
    steps = max(1, math.ceil(n_rows / cfg.batch_size))
    cfg.epochs = max(cfg.epochs, math.ceil(MLP_MIN_STEPS / steps))
    return cfg


def fit_mlp(feats: FeatureBatch, scores: dict[str, np.ndarray], base_config: HeadTrainConfig) -> ScoringHead:
    """The MLP ensemble on all given rows; its own rows stand in for validation (no leakage)."""
    targets = Targets(dict(scores), {t: np.full(len(feats), np.nan) for t in scores})
    cfg = mlp_train_config(base_config, list(scores), len(feats))
    return fit_head(feats, targets, feats, targets, cfg).head


def predict_mlp(head: ScoringHead, feats: FeatureBatch) -> dict[str, np.ndarray]:
    """Expected score per target (0-100) of an ensemble fitted by :func:`fit_mlp`."""
    return predict_scores(head, feats)
