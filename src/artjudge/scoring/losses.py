"""Differentiable views of a score distribution and the training losses (torch).

Kept apart from :mod:`artjudge.scoring` so that label math needs numpy only: CE and KL to
soft labels (Token-As-Score / Level-As-Score training), EMD between ordered distributions,
and a confidence-weighted pairwise ranking loss.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from artjudge.scoring import SCORE_MAX, SCORE_MIN

__all__ = [
    "ce_loss",
    "combined_loss",
    "distribution_std_t",
    "emd_loss",
    "expectation_t",
    "kl_loss",
    "loss_parts",
    "pairwise_ranking_loss",
]


def _probs_t(x: torch.Tensor, logits: bool) -> torch.Tensor:
    if x.ndim == 0 or x.shape[-1] < 2:
        raise ValueError(f"distribution: needs a last axis of at least 2 bins, got shape {tuple(x.shape)}")
    return torch.softmax(x, dim=-1) if logits else x


def expectation_t(x: torch.Tensor, logits: bool = True) -> torch.Tensor:
    """Differentiable expected score over the last axis (from logits by default)."""
    p = _probs_t(x, logits)
    b = torch.linspace(SCORE_MIN, SCORE_MAX, p.shape[-1], dtype=p.dtype, device=p.device)
    return (p * b).sum(dim=-1)


def distribution_std_t(x: torch.Tensor, logits: bool = True) -> torch.Tensor:
    """Differentiable std over the last axis (from logits by default)."""
    p = _probs_t(x, logits)
    b = torch.linspace(SCORE_MIN, SCORE_MAX, p.shape[-1], dtype=p.dtype, device=p.device)
    mean = (p * b).sum(dim=-1, keepdim=True)
    var = (p * (b - mean) ** 2).sum(dim=-1)
    return torch.sqrt(var.clamp_min(1e-12))


# ---------------------------------------------------------------------------- losses

Reduction = Literal["mean", "sum", "none"]


def _reduce(x: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return x.mean()
    if reduction == "sum":
        return x.sum()
    if reduction == "none":
        return x
    raise ValueError(f"reduction: must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_pair(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.shape != target.shape:
        raise ValueError(
            f"target_probs: shape {tuple(target.shape)} does not match logits {tuple(logits.shape)}"
        )
    if logits.ndim == 0 or logits.shape[-1] < 2:
        raise ValueError(f"logits: needs a last axis of at least 2 bins, got shape {tuple(logits.shape)}")


def ce_loss(logits: torch.Tensor, target_probs: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """Soft cross-entropy ``-sum_i t_i log p_i`` per row.

    Equals KL(t || p) plus the target's entropy, a constant: same gradient as
    :func:`kl_loss`, but its minimum is H(t), not 0.
    """
    _check_pair(logits, target_probs)
    t = target_probs.to(logits.dtype)
    return _reduce(-(t * F.log_softmax(logits, dim=-1)).sum(dim=-1), reduction)


def kl_loss(logits: torch.Tensor, target_probs: torch.Tensor, reduction: Reduction = "mean") -> torch.Tensor:
    """KL(target || softmax(logits)) per row; 0 exactly when they agree (0 log 0 = 0)."""
    _check_pair(logits, target_probs)
    t = target_probs.to(logits.dtype)
    logp = F.log_softmax(logits, dim=-1)
    kl = (torch.xlogy(t, t) - t * logp).sum(dim=-1)
    return _reduce(kl, reduction)


def emd_loss(
    logits: torch.Tensor, target_probs: torch.Tensor, r: float = 2.0, reduction: Reduction = "mean"
) -> torch.Tensor:
    """Earth mover's distance between ordered distributions via their CDFs (NIMA).

    ``(mean_k |CDF_p(k) - CDF_t(k)|^r)^(1/r)`` per row, in units of "fraction of the
    scale" (bins are equally spaced). A tiny epsilon keeps the gradient of the r-th root
    finite when prediction and target coincide; it is subtracted again so the loss is 0
    there.
    """
    _check_pair(logits, target_probs)
    if r <= 0:
        raise ValueError(f"r: must be > 0, got {r}")
    p = torch.softmax(logits, dim=-1)
    t = target_probs.to(p.dtype)
    diff = (torch.cumsum(p, dim=-1) - torch.cumsum(t, dim=-1)).abs()
    eps = 1e-12
    d = (diff.pow(r).mean(dim=-1) + eps).pow(1.0 / r) - eps ** (1.0 / r)
    return _reduce(d, reduction)


def pairwise_ranking_loss(
    scores: torch.Tensor,
    targets: torch.Tensor,
    margin: float = 0.0,
    weights: torch.Tensor | None = None,
    kind: Literal["hinge", "logistic"] = "hinge",
    scale: float = 1.0,
) -> torch.Tensor:
    """Ranking loss over all ordered pairs (i, j) in the batch with targets_i > targets_j.

    ``hinge``: ``relu(margin - (s_i - s_j))`` (0 once every pair is ordered with the
    margin). ``logistic`` (RankNet): ``softplus((margin - (s_i - s_j)) / scale)``.
    Tied targets make no pair. ``weights`` give a confidence per pair, shape (N, N)
    (entry [i, j] weights the pair where i should beat j), or per item, shape (N,)
    (pair weight w_i * w_j); the loss is the weighted mean over pairs, 0 (with a
    gradient path) when the batch has no pair.
    """
    if scores.ndim != 1 or targets.shape != scores.shape:
        raise ValueError(
            f"scores/targets: need two 1-D tensors of equal length, got {tuple(scores.shape)} "
            f"and {tuple(targets.shape)}"
        )
    if kind not in ("hinge", "logistic"):
        raise ValueError(f"kind: must be 'hinge' or 'logistic', got {kind!r}")
    if scale <= 0:
        raise ValueError(f"scale: must be > 0, got {scale}")
    t = targets.to(scores.dtype)
    better = (t[:, None] > t[None, :]).to(scores.dtype)  # [i, j] = 1 where i should rank above j
    if weights is not None:
        w = weights.to(scores.dtype)
        if w.shape == scores.shape:
            w = w[:, None] * w[None, :]
        elif w.shape != (scores.shape[0], scores.shape[0]):
            raise ValueError(
                f"weights: need shape (N,) or (N, N) with N={scores.shape[0]}, got {tuple(w.shape)}"
            )
        if torch.any(w < 0):
            raise ValueError("weights: pair confidences must be >= 0")
        better = better * w
    gap = margin - (scores[:, None] - scores[None, :])
    per_pair = F.relu(gap) if kind == "hinge" else F.softplus(gap / scale)
    total_w = better.sum()
    if total_w <= 0:
        return scores.sum() * 0.0
    return (per_pair * better).sum() / total_w


def loss_parts(
    logits: torch.Tensor,
    target_probs: torch.Tensor,
    *,
    ce_weight: float = 1.0,
    kl_weight: float = 1.0,
    emd_weight: float = 0.0,
    rank_weight: float = 0.0,
    target_scores: torch.Tensor | None = None,
    margin: float = 0.0,
) -> dict[str, torch.Tensor]:
    """Each weighted term of :func:`combined_loss` and their sum under ``"total"``."""
    parts: dict[str, torch.Tensor] = {}
    if ce_weight:
        parts["ce"] = ce_weight * ce_loss(logits, target_probs)
    if kl_weight:
        parts["kl"] = kl_weight * kl_loss(logits, target_probs)
    if emd_weight:
        parts["emd"] = emd_weight * emd_loss(logits, target_probs)
    if rank_weight:
        if logits.ndim != 2:
            raise ValueError(
                f"logits: the ranking term needs a (batch, bins) tensor, got {tuple(logits.shape)}"
            )
        ts = (
            expectation_t(target_probs.to(logits.dtype), logits=False)
            if target_scores is None
            else target_scores
        )
        parts["rank"] = rank_weight * pairwise_ranking_loss(expectation_t(logits), ts, margin=margin)
    if not parts:
        raise ValueError("combined_loss: every weight is 0")
    total = torch.stack(list(parts.values())).sum()
    parts["total"] = total
    return parts


def combined_loss(
    logits: torch.Tensor,
    target_probs: torch.Tensor,
    *,
    ce_weight: float = 1.0,
    kl_weight: float = 1.0,
    emd_weight: float = 0.0,
    rank_weight: float = 0.0,
    target_scores: torch.Tensor | None = None,
    margin: float = 0.0,
) -> torch.Tensor:
    """Weighted sum of CE, KL (the VLM recipe: "CE + KL"), and optionally EMD and ranking.

    The ranking term compares expected scores (0-100) across the batch; its targets are
    ``target_scores`` or, when absent, the expectations of ``target_probs``.
    """
    return loss_parts(
        logits,
        target_probs,
        ce_weight=ce_weight,
        kl_weight=kl_weight,
        emd_weight=emd_weight,
        rank_weight=rank_weight,
        target_scores=target_scores,
        margin=margin,
    )["total"]
