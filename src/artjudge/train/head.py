"""Training the embedded scorer's head on cached features.

The network below the tunable top is frozen, so every image is encoded once and the
whole training loop runs on cached arrays: minutes on a CPU instead of hours. Targets
are Token-As-Score soft labels (101 bins, exact expectation, see ``artjudge.scoring``)
learnt with KL divergence, plus a pairwise ranking term because aesthetic benchmarks are
judged by rank correlation. The best epoch on the validation split is kept.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from artjudge import scoring
from artjudge.eval import metrics
from artjudge.features.extract import FeatureBatch
from artjudge.io.files import atomic_write_text
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
    targets: dict[str, torch.Tensor] = {}
    valid: dict[str, torch.Tensor] = {}
    target_scores: dict[str, torch.Tensor] = {}
    for t in config.head.targets:
        sc = train_targets.scores[t]
        ok = np.isfinite(sc)
        if not ok.any():
            raise ValueError(f"target {t!r} has no labelled training rows")
        lab = np.zeros((len(sc), scoring.N_BINS), dtype=np.float32)
        lab[ok] = scoring.soft_labels(sc[ok], train_targets.stds[t][ok])  # NaN std: the score-based rule
        targets[t] = torch.from_numpy(lab)
        valid[t] = torch.from_numpy(ok)
        target_scores[t] = torch.from_numpy(np.nan_to_num(sc, nan=0.0)).float()
    top_params = list(head.top.parameters()) if head.top is not None else []
    top_ids = {id(q) for q in top_params}
    rest = [q for q in head.parameters() if id(q) not in top_ids]
    groups: list[dict[str, Any]] = [{"params": rest, "lr": config.lr}]
    if top_params:
        groups.append({"params": top_params, "lr": config.top_lr})
    optim = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    n = len(train)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=[g["lr"] for g in groups], total_steps=total, pct_start=0.1
    )
    history: list[dict[str, float]] = []
    best_state: dict[str, Any] | None = None
    best_srcc, best_epoch, since_best = -math.inf, -1, 0
    start_epoch = 0
    state_file = _state_path(state_dir)
    if resume and state_file is not None and state_file.is_file():
        saved = load_weights_file(state_file)  # plain types and tensors: weights_only=True
        head.load_state_dict(saved["head"])
        optim.load_state_dict(saved["optim"])
        sched.load_state_dict(saved["sched"])
        rng.bit_generator.state = saved["rng"]
        torch.set_rng_state(saved["torch_rng"])
        history, best_state = saved["history"], saved["best_state"]
        best_srcc, best_epoch, since_best = saved["best_srcc"], saved["best_epoch"], saved["since_best"]
        start_epoch = saved["epoch"] + 1
    step = start_epoch * steps_per_epoch
    for epoch in range(start_epoch, config.epochs):
        if since_best >= config.patience:
            break
        head.train()
        if head.top is not None:
            _freeze_batchnorm(head.top)
        order = rng.permutation(n)
        losses = []
        for i in range(0, n, config.batch_size):
            idx = torch.from_numpy(order[i : i + config.batch_size])
            loss = torch.zeros(())
            for member in head.member_logits(p[idx], h[idx], tr[idx] if tr is not None else None):
                for t, lg in member.items():
                    ok = valid[t][idx]
                    if not ok.any():
                        continue
                    loss = loss + config.kl_weight * score_losses.kl_loss(lg[ok], targets[t][idx][ok])
                    if config.rank_weight and int(ok.sum()) > 1:
                        loss = loss + config.rank_weight * score_losses.pairwise_ranking_loss(
                            score_losses.expectation_t(lg[ok]),
                            target_scores[t][idx][ok],
                            kind="logistic",
                            scale=config.rank_scale,
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
        preds = predict_scores(head, val)
        per_target = []
        for t in preds:
            ok = np.isfinite(val_targets.scores[t])
            if ok.sum() > 2:
                per_target.append(metrics.srcc(preds[t][ok], val_targets.scores[t][ok]))
        val_srcc = float(np.nanmean(per_target)) if per_target else float("nan")
        # epochs count from 1 in the record, like the console line and the card's best_epoch
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "val_srcc": val_srcc}
        history.append(record)
        if progress is not None:
            progress(epoch, record)
        if val_srcc > best_srcc or best_state is None or config.select_epoch == "last":
            best_srcc, best_epoch, since_best = val_srcc, epoch, 0
            best_state = copy.deepcopy(head.state_dict())
        else:
            since_best += 1
        if state_file is not None:
            save_weights_file(
                state_file,
                {
                    "head": head.state_dict(),
                    "optim": optim.state_dict(),
                    "sched": sched.state_dict(),
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "best_state": best_state,
                    "best_srcc": best_srcc,
                    "best_epoch": best_epoch,
                    "since_best": since_best,
                    "epoch": epoch,
                },
            )
    assert best_state is not None
    head.load_state_dict(best_state)
    head.eval()
    return TrainResult(head=head, history=history, best_epoch=best_epoch, best_val_srcc=best_srcc)


# ---------------------------------------------------------------------------- manifests


def manifest_targets(manifest: Any, config: HeadTrainConfig) -> Targets:
    """Scores and stds (0-100) per target from a manifest frame; NaN where unlabelled."""
    df = manifest.frame
    scores: dict[str, np.ndarray] = {}
    stds: dict[str, np.ndarray] = {}
    for t in config.head.targets:
        col = "score" if t == "overall" else f"attr.{t}"
        if col not in df.columns:
            raise ValueError(f"target {t!r}: manifest {manifest.name!r} has no column {col!r}")
        scores[t] = df[col].to_numpy(dtype=np.float64)
        std_col = "std" if t == "overall" else f"attr_std.{t}"
        stds[t] = (
            df[std_col].to_numpy(dtype=np.float64) if std_col in df.columns else np.full(len(df), np.nan)
        )
    return Targets(scores, stds)


def extract_manifest_features(
    paths: list[str],
    resolution: int,
    *,
    keep_trunk: bool,
    flip: bool = False,
    cache_dir: Path | None = None,
    desc: str = "features",
) -> FeatureBatch:
    """Encode every image of a manifest, with a progress bar and the content-hash cache."""
    from tqdm.auto import tqdm

    from artjudge.features.cache import FeatureCache
    from artjudge.features.extract import FeatureExtractor, cache_key

    cache = FeatureCache(cache_dir, encoder_key=cache_key(resolution))
    extractor = FeatureExtractor(resolution, cache=cache, keep_trunk=keep_trunk)
    with tqdm(total=len(paths), unit="img", desc=desc) as bar:
        return extractor.encode_paths(paths, progress=bar.update, flip=flip)


def train_head(
    manifest: Any,
    config: HeadTrainConfig,
    out_dir: str | os.PathLike[str],
    *,
    resume: bool = False,
    model_id: str | None = None,
    cache_dir: Path | None = None,
    flip_augment: bool = False,
    groups: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train the embedded head on a manifest's train split and write a checkpoint folder.

    The checkpoint (head.pt, card.json, head.pt.sha256) loads with ``artjudge.load(out_dir)``.
    Returns the model card. Images missing on disk are left out with a warning.
    Targets with too few labels are reported through ``log`` and skipped. Under
    ``config.small_data_max`` labelled train+val works the small-data path
    (:mod:`artjudge.train.small`: k-fold CV, grouped by ``groups`` = image id -> group,
    head family chosen per target) trains instead, and also writes rubric.json.
    ``flip_augment`` adds mirrored copies of the training images; on AGIQA-3K it lowered
    the 5-fold grouped cross-validation SRCC (0.805 against 0.810), so it is off by default.
    """
    from datetime import UTC, datetime

    from artjudge.models.weights import save_checkpoint

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    present = manifest.present() if hasattr(manifest, "present") else manifest
    if len(present) == 0:
        raise ValueError(f"manifest {manifest.name!r}: none of its images are on disk (use --images DIR)")
    df = present.frame
    splits = df["split"].to_numpy()
    train_idx = np.flatnonzero(splits == "train")
    val_idx = np.flatnonzero(splits == "val")
    if len(train_idx) == 0:
        raise ValueError(f"manifest {manifest.name!r}: the train split is empty")
    if len(val_idx) == 0:  # some datasets publish no val split: hold out 10% of train, seeded
        perm = np.random.default_rng(config.seed).permutation(train_idx)
        n_val = max(1, len(perm) // 10)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    say = log or (lambda line: print(line, flush=True))
    config, skipped = _with_labelled_targets(present, config, np.flatnonzero(splits != "test"), say)
    n_fit = int(
        np.isfinite(manifest_targets(present, config).scores[config.head.targets[0]][splits != "test"]).sum()
    )
    if 0 < n_fit < config.small_data_max and not resume:
        from artjudge.train.small import train_small_head

        ids = df["image_id"].astype(str).tolist()
        if groups is not None:
            missing = [i for i in ids if i not in groups]
            if missing:
                raise ValueError(f"group column: no group for {len(missing)} work(s), e.g. {missing[0]!r}")
        all_t = manifest_targets(present, config)
        return train_small_head(
            present,
            config,
            out,
            targets=all_t.scores,
            skipped=skipped,
            groups=[groups[i] for i in ids] if groups is not None else None,
            cache_dir=cache_dir,
            model_id=model_id,
            log=say,
        )
    if groups is not None:
        say(
            f"note: {n_fit} labelled works (>= small_data_max {config.small_data_max}): the train/val split "
            "selects the model; the group column is not used"
        )
    paths = df["path"].astype(str).tolist()
    keep_trunk = config.head.tune_top
    feats = extract_manifest_features(
        paths, config.head.resolution, keep_trunk=keep_trunk, cache_dir=cache_dir, desc="features"
    )
    all_targets = manifest_targets(present, config)
    train_feats, train_t = feats.take(train_idx), all_targets.take(train_idx)
    if flip_augment:
        flipped = extract_manifest_features(
            [paths[i] for i in train_idx],
            config.head.resolution,
            keep_trunk=keep_trunk,
            flip=True,
            cache_dir=cache_dir,
            desc="mirrored",
        )
        train_feats = FeatureBatch.concat([train_feats, flipped])
        train_t = Targets(
            {k: np.concatenate([v, v]) for k, v in train_t.scores.items()},
            {k: np.concatenate([v, v]) for k, v in train_t.stds.items()},
        )

    def report(epoch: int, rec: dict[str, float]) -> None:
        print(
            f"epoch {epoch + 1}/{config.epochs}  loss {rec['loss']:.4f}  val SRCC {rec['val_srcc']:.4f}",
            flush=True,
        )

    result = fit_head(
        train_feats,
        train_t,
        feats.take(val_idx),
        all_targets.take(val_idx),
        config,
        progress=report,
        state_dir=out,
        resume=resume,
    )
    split_metrics: dict[str, Any] = {}
    test_idx = np.flatnonzero(splits == "test")
    for name, idx in (("val", val_idx), ("test", test_idx)):
        if len(idx) < 3:
            continue
        preds = predict_scores(result.head, feats.take(idx))
        for t, pr in preds.items():
            y = all_targets.scores[t][idx]
            ok = np.isfinite(y)
            if ok.sum() > 2:
                split_metrics[f"{name}_{t}_srcc"] = round(metrics.srcc(pr[ok], y[ok]), 4)
                split_metrics[f"{name}_{t}_plcc"] = round(metrics.plcc(pr[ok], y[ok]), 4)
    card = {
        "id": model_id or f"artjudge-{manifest.name}",
        "version": datetime.now(UTC).strftime("%Y.%m.%d"),
        "description": f"EfficientNet-Lite0 multi-scale features + {config.head.members}-member "
        f"Token-As-Score head, trained on {manifest.name}",
        "data": {
            "dataset": manifest.name,
            "source": str(getattr(manifest, "source", "")),
            "rows": {k: int(v) for k, v in zip(*np.unique(splits, return_counts=True), strict=True)},
            "images_used": int(len(df)),
            "flip_augment": flip_augment,
        },
        "split": "the manifest's split column (AGIQA-3K: split_by_group over prompts, "
        "test 0.2, val 0.1, seed 0)",
        "targets": config.head.targets,
        "skipped_targets": skipped,
        "metrics": split_metrics,
        "best_epoch": result.best_epoch + 1,
        "history": result.history,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(),
    }
    save_checkpoint(out, result.head.state_dict(), card)
    atomic_write_text(out / "train_config.json", json.dumps(config.to_dict(), indent=2) + "\n")
    state = _state_path(out)
    if state is not None:
        state.unlink(missing_ok=True)  # the run finished; nothing left to resume
    return card


def _with_labelled_targets(
    present: Any, config: HeadTrainConfig, fit_rows: np.ndarray, say: Callable[[str], None]
) -> tuple[HeadTrainConfig, list[str]]:
    """A copy of ``config`` whose targets are those with enough labels, and one line per skip."""
    from artjudge.train.small import choose_targets

    scores = manifest_targets(present, config).scores
    choice = choose_targets(
        {t: v[fit_rows] for t, v in scores.items()},
        min_labels=config.min_labels,
        min_fraction=config.min_label_fraction,
    )
    for line in choice.skipped:
        say(line)
    if not choice.kept:
        raise ValueError(
            f"manifest {present.name!r}: no target has enough labels to train "
            f"({', '.join(config.head.targets)})"
        )
    if choice.kept == list(config.head.targets):
        return config, choice.skipped
    out = HeadTrainConfig.from_dict(config.to_dict())
    out.head.targets = choice.kept
    return out, choice.skipped
