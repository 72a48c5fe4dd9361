"""Partial fine-tuning: the encoder's top blocks and the head trained together on a CPU.

The frozen features stop helping past a point (grouped CV on AGIQA-3K: every blend, view and
ensemble on the frozen Lite0 gained at most +0.007 SRCC), so the deep, composition-level
layers must move. Only the top of the network needs to: the trunk map (the output of block
``TRUNK_END``, which the shipped encoder graph already returns) is cached per image, the
frozen part of the top (the blocks below the tuned ones) runs once per image, and each
training step runs only the tuned blocks, the head convolution and the ensemble. ``tune_blocks``
counts the tuned MBConv blocks; the 1x1 head convolution (and its BN affine) always trains:

* ``0``: the head convolution only;
* ``1``: block 15 and the head convolution;
* ``2``: blocks 14-15 and the head convolution (``HeadConfig.tune_top``'s original recipe).

The result is an ordinary ``tune_top`` :class:`ScoringHead`: at inference the whole top runs on
the trunk map (the frozen blocks give exactly the cached activations), on torch or in the
exported head graph. BatchNorm statistics stay ImageNet's (small CPU batches would only add
noise). On a GPU the same code runs there unchanged (``device``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from artjudge import scoring
from artjudge.eval import metrics
from artjudge.features.encoder import HEAD_CHANNELS, POOLED_DIM
from artjudge.features.extract import FeatureBatch
from artjudge.models.head import ScoringHead
from artjudge.scoring import losses as score_losses
from artjudge.train.fit import HeadTrainConfig, Targets, TrainingDiverged, TrainResult

#: The std that masks a standardised input column (its values become ~1e-9 of their spread).
MASKED_STD = 1e9
#: MBConv blocks above the trunk map: the most that can be tuned from the shipped trunk output.
MAX_TUNE_BLOCKS = 2


def default_device() -> torch.device:
    """CUDA when there is one, else the CPU: the loop is the same on both."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def frozen_start(tune_blocks: int) -> int:
    """Index of the first tuned block inside :class:`TunableTop` (the ones before it stay frozen)."""
    if not 0 <= tune_blocks <= MAX_TUNE_BLOCKS:
        raise ValueError(
            f"tune_blocks={tune_blocks}: choose 0..{MAX_TUNE_BLOCKS} (blocks above the trunk map)"
        )
    return MAX_TUNE_BLOCKS - tune_blocks


@dataclass
class LowerActivations:
    """What the frozen part of the top gives per image, computed once and reused by every step.

    ``x`` is the input of the first tuned layer (float32: rounding it to float16 moved the
    tuned head's scores by up to 0.05 points against the full top the scorer runs); with an
    adapter, ``z`` is the frozen head convolution's output before its BN, so a step only adds
    the adapter's low-rank term.
    """

    x: np.ndarray
    z: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    def take(self, idx: np.ndarray) -> LowerActivations:
        return LowerActivations(self.x[idx], None if self.z is None else self.z[idx])


@torch.inference_mode()
def lower_activations(
    head: ScoringHead, trunk: np.ndarray, tune_blocks: int, *, adapter: bool = False, batch_size: int = 64
) -> LowerActivations:
    """The trunk maps run through the frozen blocks of the top (and its head conv, for adapters)."""
    assert head.top is not None
    start = frozen_start(tune_blocks)
    top = head.top.eval()
    dev = next(top.parameters()).device
    xs, zs = [], []
    for i in range(0, len(trunk), batch_size):
        h = torch.from_numpy(trunk[i : i + batch_size].astype(np.float32)).to(dev)
        for block in top.blocks[:start]:
            h = block(h)
        xs.append(h.cpu().numpy())
        if adapter:
            zs.append(top.conv_head(h).cpu().numpy())
    empty = np.zeros((0, *trunk.shape[1:]), np.float32)
    return LowerActivations(
        np.concatenate(xs) if xs else empty, np.concatenate(zs) if adapter and zs else None
    )


class HeadConvAdapter(nn.Module):
    """A low-rank update ``A @ B`` of the head convolution (LoRA-style) with its BN affine tuned.

    The frozen conv output is cached, so a step costs ``rank * (320 + 1280)`` multiply-adds a
    position instead of the conv's 409,600: the cheapest way to move the top on a CPU.
    :meth:`merge` folds the update into the conv weight, leaving an ordinary tune-top head.
    """

    def __init__(self, top: Any, rank: int) -> None:
        super().__init__()
        out_ch, in_ch = top.conv_head.weight.shape[:2]
        self.top = top
        self.a = nn.Parameter(torch.zeros(out_ch, rank))
        self.b = nn.Parameter(torch.randn(rank, in_ch) / math.sqrt(in_ch))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # B first: (A @ B) @ x would cost the whole conv again
        delta = torch.einsum("or,brhw->bohw", self.a, torch.einsum("ri,bihw->brhw", self.b, x))
        h = self.top.act(self.top.bn(z + delta))
        flat = h.flatten(2)
        return torch.cat([flat.mean(-1), flat.std(-1, unbiased=False)], dim=1)

    @torch.no_grad()
    def merge(self) -> None:
        self.top.conv_head.weight += (self.a @ self.b)[:, :, None, None]


def _top_stats(
    head: ScoringHead, act: LowerActivations, start: int, adapter: HeadConvAdapter | None
) -> torch.Tensor:
    assert head.top is not None
    dev = head.top_mean.device
    x = torch.from_numpy(act.x).to(dev)
    if adapter is not None and act.z is not None:
        return adapter(x, torch.from_numpy(act.z).to(dev))
    return head.top(x, start=start)


def _features(head: ScoringHead, p: torch.Tensor, h: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """The members' input: standardised frozen features and standardised tuned-top statistics."""
    return torch.cat([head.frozen_input(p, h), (top - head.top_mean) / head.top_std], dim=1)


def predict_lower(
    head: ScoringHead,
    feats: FeatureBatch,
    act: LowerActivations,
    start: int,
    adapter: HeadConvAdapter | None = None,
) -> dict[str, np.ndarray]:
    """Expected score (0-100) per target on precomputed lower activations (the members' mixture,
    as ``ScoringHead.forward`` reads it)."""
    head.eval()
    dev = head.top_mean.device
    out: dict[str, list[np.ndarray]] = {t: [] for t in head.mlp_targets}
    k = math.log(len(head.members))
    with torch.inference_mode():
        for i in range(0, len(feats), 128):
            rows = np.arange(i, min(i + 128, len(feats)))
            p, h, _ = feats.take(rows).tensors()
            x = _features(head, p.to(dev), h.to(dev), _top_stats(head, act.take(rows), start, adapter))
            outs = [m(x) for m in head.members]
            for t in out:
                mixed = torch.logsumexp(torch.stack([torch.log_softmax(o[t], -1) for o in outs]), 0) - k
                out[t].append(score_losses.expectation_t(mixed).cpu().numpy())
    return {t: np.concatenate(v) for t, v in out.items()}


def _labels(targets: Targets, names: list[str]) -> tuple[dict[str, torch.Tensor], ...]:
    """Soft labels, validity masks and raw scores per target (NaN rows count in no loss)."""
    lab, valid, raw = {}, {}, {}
    for t in names:
        sc = targets.scores[t]
        ok = np.isfinite(sc)
        if not ok.any():
            raise ValueError(f"target {t!r} has no labelled training rows")
        soft = np.zeros((len(sc), scoring.N_BINS), dtype=np.float32)
        soft[ok] = scoring.soft_labels(sc[ok], targets.stds[t][ok])
        lab[t], valid[t] = torch.from_numpy(soft), torch.from_numpy(ok)
        raw[t] = torch.from_numpy(np.nan_to_num(sc, nan=0.0)).float()
    return lab, valid, raw


def _batch_loss(
    outs: list[dict[str, torch.Tensor]],
    idx: torch.Tensor,
    labels: tuple[dict[str, torch.Tensor], ...],
    config: HeadTrainConfig,
) -> torch.Tensor:
    """KL to the soft labels plus the pairwise ranking term, summed over members (as ``fit_head``)."""
    lab, valid, raw = labels
    loss = torch.zeros((), device=next(iter(outs[0].values())).device)
    for member in outs:
        for t, lg in member.items():
            ok = valid[t][idx].to(lg.device)
            if not ok.any():
                continue
            loss = loss + config.kl_weight * score_losses.kl_loss(lg[ok], lab[t][idx].to(lg.device)[ok])
            if config.rank_weight and int(ok.sum()) > 1:
                loss = loss + config.rank_weight * score_losses.pairwise_ranking_loss(
                    score_losses.expectation_t(lg[ok]),
                    raw[t][idx].to(lg.device)[ok],
                    kind="logistic",
                    scale=config.rank_scale,
                )
    return loss


@dataclass
class _TunedTop:
    """What one fine-tuning run trains and reads each step: the head, the train rows' frozen
    features and lower activations, the first tuned block, the adapter and the tuned top's
    parameters (kept together so the step and the snapshot need not take them one by one)."""

    head: ScoringHead
    p: torch.Tensor
    h: torch.Tensor
    act: LowerActivations
    start: int
    adapter: HeadConvAdapter | None
    top_params: list[nn.Parameter]


def _check_tunable(
    train: FeatureBatch, val: FeatureBatch, config: HeadTrainConfig, tune_blocks: int, rank: int | None
) -> None:
    """Refuse, with the reason, the inputs partial fine-tuning cannot use."""
    if train.trunk.size == 0 or val.trunk.size == 0:
        raise ValueError("partial fine-tuning needs trunk maps: extract features with keep_trunk=True")
    if config.head.families:
        raise ValueError("closed-form (ridge / kernel) heads cannot fine-tune the network's top")
    if rank is not None and tune_blocks != 0:
        raise ValueError("a low-rank adapter tunes the head conv only: use tune_blocks=0 with rank")


def _standardise(run: _TunedTop, use_handcrafted: bool, replace_frozen_top: bool) -> None:
    """Set the head's input standardisation from the train rows: the frozen features (with the
    frozen copies of the head conv's statistics masked out when ``replace_frozen_top``) and the
    untuned top's statistics."""
    head, act = run.head, run.act
    assert head.top is not None
    with torch.no_grad():
        frozen = torch.cat([run.p, run.h], dim=1) if use_handcrafted else run.p
        head.frozen_mean.copy_(frozen.mean(0))
        head.frozen_std.copy_(frozen.std(0).clamp_min(1e-4))
        if replace_frozen_top:  # standardised to ~0: the frozen copies no longer reach the ensemble
            head.frozen_std[POOLED_DIM - 2 * HEAD_CHANNELS : POOLED_DIM] = MASKED_STD
        head.top.eval()
        top = torch.cat(
            [
                _top_stats(head, act.take(np.arange(i, min(i + 128, len(act)))), run.start, run.adapter)
                for i in range(0, len(act), 128)
            ]
        )
        head.top_mean.copy_(top.mean(0))
        head.top_std.copy_(top.std(0).clamp_min(1e-4))


def _tuned_params(head: ScoringHead, start: int, adapter: HeadConvAdapter | None) -> list[nn.Parameter]:
    """Freeze the network's top, then unfreeze and return what tunes: the adapter and the head
    conv's BN affine, or the blocks from ``start`` up with the head conv and its BN."""
    assert head.top is not None
    head.top.requires_grad_(False)
    if adapter is not None:
        top_params = [adapter.a, adapter.b, head.top.bn.weight, head.top.bn.bias]
    else:
        top_params = [q for q in head.top.blocks[start:].parameters()]
        top_params += [*head.top.conv_head.parameters(), *head.top.bn.parameters()]
    for q in top_params:
        q.requires_grad_(True)
    return top_params


def _optimiser(
    head: ScoringHead, top_params: list[nn.Parameter], config: HeadTrainConfig, n: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.OneCycleLR]:
    """AdamW with ``lr`` for the ensemble and ``top_lr`` for the network's layers, one-cycle."""
    assert head.top is not None
    top_ids = {id(q) for q in head.top.parameters()}
    rest = [q for q in head.parameters() if id(q) not in top_ids]
    groups: list[dict[str, Any]] = [
        {"params": rest, "lr": config.lr},
        {"params": top_params, "lr": config.top_lr},
    ]
    optim = torch.optim.AdamW(groups, weight_decay=config.weight_decay)
    total = math.ceil(n / config.batch_size) * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=[g["lr"] for g in groups], total_steps=total, pct_start=0.1
    )
    return optim, sched


def _train_epoch(
    run: _TunedTop,
    order: np.ndarray,
    labels: tuple[dict[str, torch.Tensor], ...],
    config: HeadTrainConfig,
    optim: torch.optim.Optimizer,
    sched: torch.optim.lr_scheduler.OneCycleLR,
    epoch: int,
) -> float:
    """One pass over the train rows in ``order``; the mean batch loss."""
    head = run.head
    assert head.top is not None
    head.train()
    head.top.eval()  # ImageNet BN statistics, no dropout in the top
    losses = []
    for i in range(0, len(order), config.batch_size):
        rows = order[i : i + config.batch_size]
        top = _top_stats(head, run.act.take(rows), run.start, run.adapter)
        x = _features(head, run.p[rows], run.h[rows], top)
        loss = _batch_loss([m(x) for m in head.members], torch.from_numpy(rows), labels, config)
        if not torch.isfinite(loss):
            raise TrainingDiverged(f"loss became {loss.item()} at epoch {epoch + 1}; try a lower top_lr")
        optim.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_([*head.parameters(), *run.top_params], 5.0)
        optim.step()
        sched.step()
        losses.append(float(loss.detach()))
    return float(np.mean(losses))


def _val_srcc(preds: dict[str, np.ndarray], val_targets: Targets) -> float:
    """Mean SRCC over the targets with more than two labelled validation rows (NaN if none)."""
    per_target = [
        metrics.srcc(preds[t][ok], val_targets.scores[t][ok])
        for t in preds
        if (ok := np.isfinite(val_targets.scores[t])).sum() > 2
    ]
    return float(np.nanmean(per_target)) if per_target else float("nan")


def _snapshot(head: ScoringHead, adapter: HeadConvAdapter | None) -> dict[str, Any]:
    """A copy of the head's state; with an adapter, the merged conv (the adapter is left as is)."""
    if adapter is None:
        return copy.deepcopy(head.state_dict())
    assert head.top is not None
    weight = head.top.conv_head.weight.detach().clone()
    adapter.merge()
    state = copy.deepcopy(head.state_dict())
    with torch.no_grad():
        head.top.conv_head.weight.copy_(weight)
    return state


def fit_tuned_head(
    train: FeatureBatch,
    train_targets: Targets,
    val: FeatureBatch,
    val_targets: Targets,
    config: HeadTrainConfig,
    tune_blocks: int,
    *,
    rank: int | None = None,
    lower: tuple[LowerActivations, LowerActivations] | None = None,
    replace_frozen_top: bool = True,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    device: Any = None,
) -> TrainResult:
    """Train a ``tune_top`` head with the top ``tune_blocks`` blocks (and the head conv) moving.

    Same losses, optimiser (AdamW, one-cycle; ``lr`` for the ensemble, ``top_lr`` for the
    network's layers) and epoch selection (``config.select_epoch``) as :func:`fit_head`.
    With ``rank`` (``tune_blocks`` 0 only) a low-rank adapter and the BN affine of the head
    conv train instead of the whole conv (:class:`HeadConvAdapter`), merged at the end.
    ``lower``: the train and val rows' :func:`lower_activations`, when the caller reuses them
    across fits (cross-validation); else they are computed here from the trunk maps.
    ``replace_frozen_top``: the frozen copies of the head conv's statistics (the last columns of
    ``pooled``) are masked out, so the ensemble reads the tuned ones instead of both. Appending
    them (False) cost 0.011 SRCC on a CV fold before any tuning (benchmarks/accuracy_finetune.py,
    ``top_frozen``).
    """
    _check_tunable(train, val, config, tune_blocks, rank)
    dev = torch.device(device) if device is not None else default_device()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    head = ScoringHead(replace(config.head, tune_top=True)).to(dev)
    assert head.top is not None
    start = frozen_start(tune_blocks)
    if lower is None:
        lower = (
            lower_activations(head, train.trunk, tune_blocks, adapter=rank is not None),
            lower_activations(head, val.trunk, tune_blocks, adapter=rank is not None),
        )
    act, val_act = lower
    adapter = HeadConvAdapter(head.top, rank).to(dev) if rank is not None else None
    p, h = torch.from_numpy(train.pooled).to(dev), torch.from_numpy(train.handcrafted).to(dev)
    run = _TunedTop(head, p, h, act, start, adapter, top_params=[])
    _standardise(run, config.head.use_handcrafted, replace_frozen_top)
    run.top_params = _tuned_params(head, start, adapter)
    n = len(train)
    optim, sched = _optimiser(head, run.top_params, config, n)
    labels = _labels(train_targets, head.mlp_targets)
    history: list[dict[str, float]] = []
    best_state: dict[str, Any] | None = None
    best_srcc, best_epoch = -math.inf, -1
    for epoch in range(config.epochs):
        loss = _train_epoch(run, rng.permutation(n), labels, config, optim, sched, epoch)
        val_srcc = _val_srcc(predict_lower(head, val, val_act, start, adapter), val_targets)
        record = {"epoch": epoch + 1, "loss": loss, "val_srcc": val_srcc}
        history.append(record)
        if progress is not None:
            progress(epoch, record)
        if val_srcc > best_srcc or best_state is None or config.select_epoch == "last":
            best_srcc, best_epoch = val_srcc, epoch
            best_state = _snapshot(head, adapter)
    assert best_state is not None
    head.load_state_dict(best_state)
    head.requires_grad_(False)
    return TrainResult(
        head=head.cpu().eval(), history=history, best_epoch=best_epoch, best_val_srcc=best_srcc
    )


def predict_tuned(
    head: ScoringHead, feats: FeatureBatch, tune_blocks: int = MAX_TUNE_BLOCKS
) -> dict[str, np.ndarray]:
    """Expected scores of a tuned head on cached features (the frozen part run once, like training).

    Any ``tune_blocks`` gives the same numbers (the frozen blocks are the same either way); a
    smaller one only reuses more of the work between calls that share the activations.
    """
    return predict_lower(
        head, feats, lower_activations(head, feats.trunk, tune_blocks), frozen_start(tune_blocks)
    )
