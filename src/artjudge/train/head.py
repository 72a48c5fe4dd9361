"""Training the embedded scorer's head on a manifest: the run ``artjudge train`` starts.

Under ``config.small_data_max`` labelled train+val works the small-data path trains
(:mod:`artjudge.train.small`: k-fold CV, head family chosen per target, measured skill and
intervals in the card, rubric.json); above it the MLP ensemble (:mod:`artjudge.train.fit`)
trains on the train split with the val split selecting the epoch. Either way the works are
encoded through the scorer's own pipeline (:mod:`artjudge.train.encode`) and the model folder
is written whole into a new sibling folder, sealed, and swapped in
(:mod:`artjudge.train.output`): a kill mid-run leaves the old model as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.eval import metrics
from artjudge.features.extract import FeatureBatch
from artjudge.io.files import atomic_write_text, dumps_strict
from artjudge.models.weights import save_checkpoint
from artjudge.train.cv import choose_targets
from artjudge.train.encode import encode_works, line_progress
from artjudge.train.fit import (
    HeadTrainConfig,
    Targets,
    TrainingDiverged,
    TrainResult,
    fit_head,
    predict_scores,
)
from artjudge.train.output import card_data, model_id_for, resume_dir, split_description, staged_model_folder
from artjudge.train.skill import constant_calibration, val_skill_block
from artjudge.train.small import train_small_head

__all__ = [
    "HeadTrainConfig",
    "Targets",
    "TrainResult",
    "TrainedModel",
    "TrainingDiverged",
    "extract_manifest_features",
    "fit_head",
    "manifest_targets",
    "predict_scores",
    "train_head",
]


@dataclass
class TrainedModel:
    """What ``train_head`` produced: the model folder and its card, and how to say so."""

    folder: Path
    card: dict[str, Any]

    @property
    def targets(self) -> list[str]:
        return list(self.card.get("targets") or [])

    @property
    def unskilled(self) -> list[str]:
        """Targets whose skill the card does not establish (never shown as a bare grade)."""
        from artjudge.models.head_config import unskilled_targets

        return unskilled_targets(self.card)

    def summary(self) -> str:
        heads = self.card.get("heads") or {}
        shown = [t for t in self.targets if t not in self.unskilled]
        lines = [f"trained {self.card.get('id')!r}; model folder {self.folder}"]
        if shown:
            lines.append("trained: " + ", ".join(f"{t} ({heads[t]})" if t in heads else t for t in shown))
        if self.unskilled:
            lines.append(
                "NOT SKILLED (kept out of the grades, never advised on): " + ", ".join(self.unskilled)
            )
        return "\n".join(lines)


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
    """Encode every image through the scorer's pipeline (``encode_works``), reporting progress."""
    with line_progress(len(paths), desc) as step:
        return encode_works(
            paths, resolution, keep_trunk=keep_trunk, flip=flip, cache_dir=cache_dir, progress=step
        ).features


def _say(line: str) -> None:
    print(line, flush=True)


def _fit_rows(present: Any, config: HeadTrainConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(splits, train rows, val rows): 10% of train, seeded, when the manifest has no val split."""
    splits = present.frame["split"].to_numpy()
    train_idx = np.flatnonzero(splits == "train")
    val_idx = np.flatnonzero(splits == "val")
    if len(train_idx) == 0:
        raise ValueError(f"manifest {present.name!r}: the train split is empty")
    if len(val_idx) == 0:  # some datasets publish no val split: hold out 10% of train, seeded
        perm = np.random.default_rng(config.seed).permutation(train_idx)
        n_val = max(1, len(perm) // 10)
        val_idx, train_idx = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    return splits, train_idx, val_idx


def _note_ignored_settings(config: HeadTrainConfig, n_fit: int, say: Callable[[str], None]) -> None:
    """Say when epochs / lr were set but the small-data path's closed-form heads do not use them."""
    default = HeadTrainConfig()
    changed = [k for k in ("epochs", "lr") if getattr(config, k) != getattr(default, k)]
    if changed:
        say(
            f"note: {' and '.join(changed)} apply to the MLP ensemble only; with {n_fit} works (< "
            f"{config.small_data_max}) each head's family is chosen by cross-validation, and the "
            "closed-form (ridge / kernel) heads are solved exactly, without epochs or a learning rate"
        )


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
    data: Mapping[str, Any] | None = None,
) -> TrainedModel:
    """Train the head on a manifest and write the model folder ``out_dir`` whole.

    The folder (head.pt, card.json, train_config.json, seal, and rubric.json with exemplars on
    the small-data path) loads with ``artjudge.load(out_dir)``. The model's id is ``model_id``
    (``--name``), else the folder's name. Images missing on disk are left out with a warning;
    targets with too few labels are reported through ``log`` and skipped. ``data`` adds what
    only the caller knows about the training data (the label file's columns) to the card.
    ``flip_augment`` adds mirrored copies of the training images; on AGIQA-3K it lowered the
    5-fold grouped cross-validation SRCC (0.805 against 0.810), so it is off by default.
    """
    out = Path(out_dir)
    present = manifest.present() if hasattr(manifest, "present") else manifest
    if len(present) == 0:
        raise ValueError(f"manifest {manifest.name!r}: none of its images are on disk (use --images DIR)")
    say = log or _say
    splits, train_idx, val_idx = _fit_rows(present, config)
    config, skipped = _with_labelled_targets(present, config, np.flatnonzero(splits != "test"), say)
    first = manifest_targets(present, config).scores[config.head.targets[0]]
    n_fit = int(np.isfinite(first[splits != "test"]).sum())
    name = model_id_for(out, model_id)
    small = 0 < n_fit < config.small_data_max and not resume
    with staged_model_folder(out) as stage:
        if small:
            _note_ignored_settings(config, n_fit, say)
            card = train_small_head(
                present,
                config,
                stage,
                targets=manifest_targets(present, config).scores,
                skipped=skipped,
                groups=_group_list(present, groups),
                cache_dir=cache_dir,
                model_id=name,
                log=say,
                data=dict(data or {}),
            )
        else:
            if groups is not None:
                say(
                    f"note: {n_fit} labelled works (>= small_data_max {config.small_data_max}): the "
                    "train/val split selects the model; the group column is not used"
                )
            card = _train_ensemble(
                present, config, stage, resume_dir(out), name, skipped, (splits, train_idx, val_idx),
                resume=resume, cache_dir=cache_dir, flip_augment=flip_augment, data=data, say=say,
            )  # fmt: skip
    _clear_resume_state(out)
    return TrainedModel(out, card)


def _group_list(present: Any, groups: Mapping[str, Any] | None) -> list[Any] | None:
    if groups is None:
        return None
    ids = present.frame["image_id"].astype(str).tolist()
    missing = [i for i in ids if i not in groups]
    if missing:
        raise ValueError(f"group column: no group for {len(missing)} work(s), e.g. {missing[0]!r}")
    return [groups[i] for i in ids]


def _clear_resume_state(out: Path) -> None:
    """The run finished: nothing is left to resume."""
    import shutil

    shutil.rmtree(resume_dir(out), ignore_errors=True)


def _ensemble_features(
    present: Any, config: HeadTrainConfig, train_idx: np.ndarray, cache_dir: Path | None, flip: bool
) -> tuple[FeatureBatch, FeatureBatch | None]:
    paths = present.frame["path"].astype(str).tolist()
    keep_trunk = config.head.tune_top
    feats = extract_manifest_features(
        paths, config.head.resolution, keep_trunk=keep_trunk, cache_dir=cache_dir
    )
    flipped = None
    if flip:
        flipped = extract_manifest_features(
            [paths[i] for i in train_idx],
            config.head.resolution,
            keep_trunk=keep_trunk,
            flip=True,
            cache_dir=cache_dir,
            desc="mirrored",
        )
    return feats, flipped


def _split_metrics(
    head: Any, feats: FeatureBatch, all_targets: Targets, rows: dict[str, np.ndarray]
) -> tuple[dict[str, Any], dict[str, dict[str, np.ndarray]]]:
    """SRCC / PLCC per target on each held-out split, and the predictions they came from."""
    out: dict[str, Any] = {}
    preds_by: dict[str, dict[str, np.ndarray]] = {}
    for name, idx in rows.items():
        if len(idx) < 3:
            continue
        preds = preds_by[name] = predict_scores(head, feats.take(idx))
        for t, pr in preds.items():
            y = all_targets.scores[t][idx]
            ok = np.isfinite(y)
            if ok.sum() > 2:
                out[f"{name}_{t}_srcc"] = round(metrics.srcc(pr[ok], y[ok]), 4)
                out[f"{name}_{t}_plcc"] = round(metrics.plcc(pr[ok], y[ok]), 4)
    return out, preds_by


def _train_ensemble(
    present: Any,
    config: HeadTrainConfig,
    stage: Path,
    state_dir: Path,
    name: str,
    skipped: list[str],
    rows: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    resume: bool,
    cache_dir: Path | None,
    flip_augment: bool,
    data: Mapping[str, Any] | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The MLP ensemble on the train split, the epoch chosen on val; card and files into ``stage``."""
    splits, train_idx, val_idx = rows
    feats, flipped = _ensemble_features(present, config, train_idx, cache_dir, flip_augment)
    all_targets = manifest_targets(present, config)
    train_feats, train_t = feats.take(train_idx), all_targets.take(train_idx)
    if flipped is not None:
        train_feats = FeatureBatch.concat([train_feats, flipped])
        train_t = Targets(
            {k: np.concatenate([v, v]) for k, v in train_t.scores.items()},
            {k: np.concatenate([v, v]) for k, v in train_t.stds.items()},
        )

    def report(epoch: int, rec: dict[str, float]) -> None:
        say(f"epoch {epoch + 1}/{config.epochs}  loss {rec['loss']:.4f}  val SRCC {rec['val_srcc']:.4f}")

    state_dir.mkdir(parents=True, exist_ok=True)
    if config.tune_blocks is not None:  # partial fine-tuning of the encoder's top
        from artjudge.train.finetune import fit_tuned_head

        result = fit_tuned_head(
            train_feats, train_t, feats.take(val_idx), all_targets.take(val_idx), config,
            config.tune_blocks, rank=config.tune_rank, progress=report,
        )  # fmt: skip
    else:
        result = fit_head(
            train_feats, train_t, feats.take(val_idx), all_targets.take(val_idx), config,
            progress=report, state_dir=state_dir, resume=resume,
        )  # fmt: skip
    test_idx = np.flatnonzero(splits == "test")
    split_metrics, preds = _split_metrics(result.head, feats, all_targets, {"val": val_idx, "test": test_idx})
    card = _ensemble_card(present, config, name, skipped, splits, result, split_metrics, data, flip_augment)
    if "val" in preds:
        held = {"val": (all_targets.take(val_idx).scores, preds["val"])}
        if "test" in preds:
            held["test"] = (all_targets.take(test_idx).scores, preds["test"])
        card["skill"] = val_skill_block(*held["val"])
        card["calibration"] = constant_calibration(held["val"], held.get("test"))
    save_checkpoint(stage, result.head.state_dict(), card)
    atomic_write_text(stage / "train_config.json", dumps_strict(config.to_dict(), indent=2) + "\n")
    return card


def _ensemble_card(
    present: Any,
    config: HeadTrainConfig,
    name: str,
    skipped: list[str],
    splits: np.ndarray,
    result: TrainResult,
    split_metrics: dict[str, Any],
    data: Mapping[str, Any] | None,
    flip_augment: bool,
) -> dict[str, Any]:
    from datetime import UTC, datetime

    return {
        "id": name,
        "version": datetime.now(UTC).strftime("%Y.%m.%d"),
        "description": f"EfficientNet-Lite0 multi-scale features + {config.head.members}-member "
        f"Token-As-Score head, trained on {present.name}",
        "data": card_data(
            present, splits, list(config.head.targets), dict(data or {}, flip_augment=flip_augment)
        ),
        "split": split_description(present, "the manifest's split column")
        + "; train fits, val selects the epoch, test held out",
        "targets": config.head.targets,
        "skipped_targets": skipped,
        "metrics": split_metrics,
        "best_epoch": result.best_epoch + 1,
        "history": result.history,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.to_dict(),
    }


def _with_labelled_targets(
    present: Any, config: HeadTrainConfig, fit_rows: np.ndarray, say: Callable[[str], None]
) -> tuple[HeadTrainConfig, list[str]]:
    """A copy of ``config`` whose targets are those with enough labels, and one line per skip."""
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
