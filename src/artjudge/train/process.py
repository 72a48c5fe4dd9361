"""Training the process judge: pretrain on synthetic processes, then fine-tune on real ones
(Sheep Market stroke orders, AGIQA-3K prompt alignment) with synthetic replay, all on
cached frozen patch tokens.

Loss (PPJudge): ``style_loss + 10 * MSE`` (MSE on labels mapped to 0-1, only where a label
exists) plus a small load-balancing term for the router. The style loss is ``1 - cos``
between the shared experts' pooled output (projected to 384 dims) and the MiniLM
embedding of "This is a {style} painting.", where the style is known.

Sources and their labels:
- synthetic processes: all 8 labels (from injected faults) and the stroke style;
- Sheep Market (train split): process stability only, from pairs of one drawing: its true
  stroke order and a random permutation of the same strokes. Each pair gets the weak
  labels 9 and 4 (the MSE term) and a pairwise ranking term, ``softplus(s_shuffled -
  s_true)`` on the 1-10 scale: what is known is the *order* of the two, and ranking
  learns it directly while the labels keep the scale;
- AGIQA-3K (train split by prompt): consistency only (``mos_align``), with the prompt as
  the context token, the image as a one-frame process and the image's concept alignment
  with the prompt (``grounding``); style where AGIQA gives one.

The recipe lives here; its parts each have a module of their own: the data
(:mod:`artjudge.train.process_data`), the loops and losses
(:mod:`artjudge.train.process_loops`) and the consistency readout
(:mod:`artjudge.train.process_readout`); their names are re-exported here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from artjudge.io.files import atomic_write_json
from artjudge.models.process.encoder import PatchEncoder
from artjudge.models.process.model import PPJudgeNet, ProcessConfig
from artjudge.taxonomy import PROCESS
from artjudge.train.process_data import (
    AGIQA_STYLES,
    ALL_STYLES,
    GENERATOR_VERSION,
    STABILITY_SHUFFLED,
    STABILITY_TRUE,
    Bundle,
    OrderPairs,
    Source,
    add_alignment,
    agiqa_bundle,
    concept_embeddings,
    load_targets,
    sheep_pairs,
    style_embeddings,
    synthetic_bundle,
)
from artjudge.train.process_loops import (
    fit_feature_normaliser,
    masked_mse,
    pair_loss,
    predict,
    train_baseline,
    train_net,
)
from artjudge.train.process_readout import (
    blend_ridge_readout,
    ridge_readout,
    wide_inputs,
)

__all__ = [
    "AGIQA_STYLES",
    "ALL_STYLES",
    "Bundle",
    "GENERATOR_VERSION",
    "OrderPairs",
    "ProcessTrainConfig",
    "STABILITY_SHUFFLED",
    "STABILITY_TRUE",
    "Source",
    "TrainingData",
    "add_alignment",
    "agiqa_bundle",
    "blend_ridge_readout",
    "build_training_data",
    "concept_embeddings",
    "fit_feature_normaliser",
    "fit_process_net",
    "load_targets",
    "masked_mse",
    "pair_loss",
    "predict",
    "ridge_readout",
    "sheep_pairs",
    "style_embeddings",
    "synthetic_bundle",
    "train_baseline",
    "train_net",
    "train_process_judge",
    "wide_inputs",
]


@dataclass
class ProcessTrainConfig:
    n_synthetic: int = 480
    n_frames: int = 8
    size: int = 128
    n_targets: int = 160
    n_sheep: int = 4000
    sheep_frames: int = 6
    sheep_shuffles: int = 2
    sheep_passes: float = 0.25  # share of the Sheep Market pairs seen per fine-tuning epoch
    agiqa_passes: float = 0.5  # share of the AGIQA-3K train split seen per fine-tuning epoch
    ema_decay: float = 0.998  # fine-tuning keeps an exponential moving average of the weights
    # the network's share of the consistency logit; the rest is a closed-form ridge readout
    # of the same wide inputs on AGIQA-3K (1.0: network only); chosen by
    # benchmarks/consistency_cv.py, 5-fold CV by prompt over train + val
    consistency_blend: float = 0.5
    epochs_pretrain: int = 15
    epochs_finetune: int = 16
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    threads: int = 1
    cache_dir: Path = Path(".cache/process")
    agiqa_root: Path | None = None
    sheep_root: Path | None = None
    model: ProcessConfig = field(default_factory=ProcessConfig)


# ----- the whole recipe ---------------------------------------------------------------------
@dataclass
class TrainingData:
    """Every source of the recipe, built (or read from the feature cache) once."""

    synthetic: Bundle
    sheep: OrderPairs | None
    agiqa_train: Bundle | None
    style_emb: np.ndarray
    concept_emb: np.ndarray | None
    seconds: float


def build_training_data(
    cfg: ProcessTrainConfig, encoder: PatchEncoder, progress: bool = True
) -> TrainingData:
    t0 = time.time()
    targets = load_targets(cfg.agiqa_root, cfg.n_targets, cfg.size, cfg.seed)
    synth = synthetic_bundle(
        encoder, cfg.n_synthetic, cfg.seed, targets, cfg.cache_dir, cfg.n_frames, cfg.size, progress=progress
    )
    sheep = None
    if cfg.sheep_root is not None and cfg.n_sheep > 0:
        sheep = sheep_pairs(
            encoder,
            cfg.sheep_root,
            "train",
            cfg.n_sheep,
            cfg.seed,
            cfg.cache_dir,
            cfg.sheep_frames,
            cfg.size,
            progress=progress,
            shuffles=cfg.sheep_shuffles,
        )
    agiqa_train = None
    if cfg.agiqa_root is not None and (cfg.agiqa_root / "data.csv").is_file():
        agiqa, splits = agiqa_bundle(encoder, cfg.agiqa_root, cfg.cache_dir, progress=progress)
        agiqa_train = agiqa.subset(np.array([s == "train" for s in splits]))
    return TrainingData(
        synth,
        sheep,
        agiqa_train,
        style_embeddings(cfg.cache_dir),
        concept_embeddings(cfg.cache_dir),
        time.time() - t0,
    )


def fit_process_net(
    cfg: ProcessTrainConfig, data: TrainingData, encoder: PatchEncoder, progress: bool = True
) -> tuple[PPJudgeNet, list[float], list[float]]:
    """The recipe on built data: pretrain on synthetic, fine-tune on the real sources with
    synthetic replay; returns the network and both stages' per-epoch losses.

    Sets ``align`` on ``data.synthetic`` and ``data.agiqa_train`` (the grounder's normaliser
    is fitted on them), so held-out bundles need ``add_alignment(..., fit=False)`` with this
    network's grounder afterwards.
    """
    torch.manual_seed(cfg.seed)
    net = PPJudgeNet(cfg.model)
    if data.concept_emb is not None:
        net.grounder.set_concepts(torch.from_numpy(data.concept_emb))
        add_alignment([b for b in (data.synthetic, data.agiqa_train) if b is not None], encoder, net.grounder)
    real: list[tuple[Source, float]] = []
    if data.sheep is not None:
        real.append((data.sheep, cfg.sheep_passes))
    if data.agiqa_train is not None:
        real.append((data.agiqa_train, cfg.agiqa_passes))
    fit_feature_normaliser(net, [data.synthetic, *[s for s, _ in real]])
    loss_pre = train_net(
        net,
        [(data.synthetic, 1.0)],
        data.style_emb,
        epochs=cfg.epochs_pretrain,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        progress=progress,
        desc="pretrain",
    )
    loss_ft: list[float] = []
    if real and cfg.epochs_finetune > 0:
        loss_ft = train_net(
            net,
            [*real, (data.synthetic, 1.0)],
            data.style_emb,
            epochs=cfg.epochs_finetune,
            lr=cfg.lr / 2,
            batch_size=cfg.batch_size,
            seed=cfg.seed + 1,
            progress=progress,
            desc="finetune",
            ema_decay=cfg.ema_decay,
        )
    if data.agiqa_train is not None and cfg.consistency_blend < 1.0:
        blend_ridge_readout(net, data.agiqa_train, PROCESS.keys().index("consistency"), cfg.consistency_blend)
    return net, loss_pre, loss_ft


def train_process_judge(cfg: ProcessTrainConfig, out_path: Path, progress: bool = True) -> dict[str, object]:
    """Build (or read cached) features, pretrain, fine-tune, save weights; return a summary."""
    from artjudge.models.process.judge import save_checkpoint

    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    encoder = PatchEncoder(resolution=cfg.size, grid=cfg.model.grid)
    data = build_training_data(cfg, encoder, progress)
    net, loss_pre, loss_ft = fit_process_net(cfg, data, encoder, progress)
    version = time.strftime("%Y-%m-%d", time.gmtime())
    meta = {
        "resolution": cfg.size,
        "n_synthetic": cfg.n_synthetic,
        "n_sheep": cfg.n_sheep,
        "sheep_shuffles": cfg.sheep_shuffles,
        "sheep_passes": cfg.sheep_passes,
        "agiqa_passes": cfg.agiqa_passes,
        "ema_decay": cfg.ema_decay,
        "consistency_blend": cfg.consistency_blend,
        "epochs_pretrain": cfg.epochs_pretrain,
        "epochs_finetune": cfg.epochs_finetune,
        "seed": cfg.seed,
        "grounding": data.concept_emb is not None,
        "feature_seconds": round(data.seconds, 1),
        "total_seconds": round(time.time() - t0, 1),
        "loss_pretrain": [round(x, 5) for x in loss_pre],
        "loss_finetune": [round(x, 5) for x in loss_ft],
    }
    digest = save_checkpoint(out_path, net, version=version, styles=ALL_STYLES, meta=meta)
    summary = {
        "weights": str(out_path),
        "sha256": digest,
        "parameters": sum(p.numel() for p in net.parameters()),
        **meta,
    }
    atomic_write_json(out_path.with_suffix(".json"), summary, ensure_ascii=True)
    return summary
