"""The embedded scorer's head: multi-scale CNN statistics in, 101-bin score distributions out.

Two feature paths meet here. The frozen path is the pooled mean and std of several
EfficientNet-Lite0 stages plus the hand-crafted measures; it is fixed, so it can be
cached per image. The tunable path re-runs the network's last stage (blocks 14-15 and the
1x1 head convolution, initialised from ImageNet) on the cached trunk map, which lets
training adapt the deep, composition-level features at a fraction of a full fine-tune.
Each target (the overall score and any attribute that has human labels) gets its own
101-logit output, read as a Token-As-Score distribution.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from artjudge import scoring
from artjudge.features.encoder import HEAD_CHANNELS, POOLED_DIM, TRUNK_END
from artjudge.features.handcrafted import HANDCRAFTED_NAMES
from artjudge.models.head_config import CLOSED_FAMILIES, N_BINS, HeadConfig

__all__ = ["CLOSED_FAMILIES", "N_BINS", "HeadConfig", "ScoringHead", "TunableTop"]


class TunableTop(nn.Module):
    """Lite0's last two MBConv blocks and head conv, copied from the pretrained network."""

    def __init__(self, backbone: Any) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(copy.deepcopy(b) for b in backbone._blocks[TRUNK_END + 1 :])
        self.conv_head = copy.deepcopy(backbone._conv_head)
        self.bn = copy.deepcopy(backbone._bn1)
        self.act = nn.ReLU6()

    def forward(self, trunk: torch.Tensor, start: int = 0) -> torch.Tensor:
        """Pooled mean and std of the head conv; ``start`` > 0: ``trunk`` already went through
        the first ``start`` blocks (partial fine-tuning caches those frozen activations)."""
        h = trunk
        for block in self.blocks[start:]:
            h = block(h)
        h = self.act(self.bn(self.conv_head(h)))
        flat = h.flatten(2)
        return torch.cat([flat.mean(-1), flat.std(-1, unbiased=False)], dim=1)


class ScoringHead(nn.Module):
    """Maps (pooled, handcrafted, trunk) features to per-target 101-bin logits."""

    frozen_mean: torch.Tensor
    frozen_std: torch.Tensor
    top_mean: torch.Tensor
    top_std: torch.Tensor
    cf_anchors: torch.Tensor
    cf_linear: torch.Tensor
    cf_dual: torch.Tensor
    cf_gamma: torch.Tensor
    cf_bias: torch.Tensor
    cf_std: torch.Tensor
    cf_dist_ref: torch.Tensor

    def __init__(self, config: HeadConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        n_hand = len(HANDCRAFTED_NAMES) if config.use_handcrafted else 0
        in_dim = POOLED_DIM + n_hand + (2 * HEAD_CHANNELS if config.tune_top else 0)
        # Standardisation statistics are fitted on the training set and saved with the weights.
        self.register_buffer("frozen_mean", torch.zeros(POOLED_DIM + n_hand))
        self.register_buffer("frozen_std", torch.ones(POOLED_DIM + n_hand))
        self.top: TunableTop | None = None
        if config.tune_top:
            if backbone is None:
                from artjudge.features.encoder import load_backbone

                backbone = load_backbone()
            self.top = TunableTop(backbone)
            self.register_buffer("top_mean", torch.zeros(2 * HEAD_CHANNELS))
            self.register_buffer("top_std", torch.ones(2 * HEAD_CHANNELS))
        self.mlp_targets = [t for t in config.targets if t not in config.families]
        self.closed_targets = [t for t in config.targets if t in config.families]
        n_members = config.members if self.mlp_targets else 0
        self.members = nn.ModuleList(
            _Member(in_dim, config.hidden, config.dropout, self.mlp_targets) for _ in range(n_members)
        )
        if self.closed_targets:
            if config.tune_top:
                raise ValueError(
                    "closed-form (ridge / kernel) heads read frozen features only; set tune_top=false"
                )
            bad = {t: f for t, f in config.families.items() if f not in CLOSED_FAMILIES}
            if bad:
                raise ValueError(f"head families {bad} are not one of {', '.join(CLOSED_FAMILIES)}")
            k, d, n = len(self.closed_targets), POOLED_DIM + n_hand, max(1, config.n_anchors)
            # Buffers, not parameters: they are solved in closed form, never by gradient descent.
            self.register_buffer("cf_anchors", torch.zeros(n, d))  # standardised training rows
            self.register_buffer("cf_linear", torch.zeros(k, d))  # ridge weights (0 for kernel targets)
            self.register_buffer("cf_dual", torch.zeros(k, n))  # RBF kernel dual coefficients (0 for ridge)
            self.register_buffer("cf_gamma", torch.zeros(k))  # RBF kernel width per target
            self.register_buffer("cf_bias", torch.zeros(k))  # intercept (0-100)
            self.register_buffer("cf_std", torch.ones(k))  # cross-validated residual std (0-100)
            self.register_buffer("cf_dist_ref", torch.ones(1))  # median nearest-neighbour distance of anchors

    def frozen_input(self, pooled: torch.Tensor, handcrafted: torch.Tensor | None) -> torch.Tensor:
        parts = [pooled]
        if self.config.use_handcrafted:
            if handcrafted is None:
                raise ValueError("this head was trained with hand-crafted measures; pass them")
            parts.append(handcrafted)
        x = torch.cat(parts, dim=1).float()
        return (x - self.frozen_mean) / self.frozen_std

    def closed_form_scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted mean and std (0-100) per closed-form target for standardised rows ``x``.

        The std is the target's cross-validated residual std, widened by sqrt(d / d_ref) when
        the row lies further from its nearest training row than training rows lie from each
        other (d_ref): a work unlike anything graded gets a visibly less certain score.
        """
        x = x.double()
        anchors = self.cf_anchors.double()
        mean = x @ self.cf_linear.double().T + self.cf_bias.double()
        d2 = torch.cdist(x, anchors).pow(2)
        for j in range(len(self.closed_targets)):
            if float(self.cf_gamma[j]) > 0:
                mean[:, j] += torch.exp(-float(self.cf_gamma[j]) * d2) @ self.cf_dual[j].double()
        nearest = d2.min(dim=1).values.clamp_min(0).sqrt()
        widen = (nearest / self.cf_dist_ref.double().clamp_min(1e-6)).clamp_min(1.0).sqrt()
        std = self.cf_std.double()[None, :] * widen[:, None]
        return mean.clamp(scoring.SCORE_MIN, scoring.SCORE_MAX), std

    def closed_form_log_probs(
        self, pooled: torch.Tensor, handcrafted: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """101-bin log-probabilities of the closed-form targets: soft labels at (mean, std)."""
        if not self.closed_targets:
            return {}
        mean, std = self.closed_form_scores(self.frozen_input(pooled, handcrafted))
        m, s = mean.numpy(), std.numpy()
        out = {}
        for j, t in enumerate(self.closed_targets):
            probs = scoring.soft_labels(m[:, j], np.maximum(s[:, j], scoring.SIGMA_FLOOR))
            out[t] = torch.from_numpy(np.log(np.maximum(probs, 1e-12))).float()
        return out

    def member_logits(
        self, pooled: torch.Tensor, handcrafted: torch.Tensor | None, trunk: torch.Tensor | None
    ) -> list[dict[str, torch.Tensor]]:
        """Each ensemble member's 101-bin logits per target (what training fits)."""
        feats = [self.frozen_input(pooled, handcrafted)]
        if self.top is not None:
            if trunk is None:
                raise ValueError("this head fine-tunes the network's last stage; pass the trunk map")
            top = self.top(trunk.float())
            feats.append((top - self.top_mean) / self.top_std)
        x = torch.cat(feats, dim=1)
        return [m(x) for m in self.members]

    def forward(
        self, pooled: torch.Tensor, handcrafted: torch.Tensor | None, trunk: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        """Log-probabilities of the members' mixture per target.

        Averaging probabilities (not logits) keeps the members' disagreement in the
        spread of the distribution, so the reported std includes model uncertainty.
        """
        closed = self.closed_form_log_probs(pooled, handcrafted)
        if not self.mlp_targets:
            return closed
        outs = self.member_logits(pooled, handcrafted, trunk)
        if len(outs) == 1:
            mixed = {t: torch.log_softmax(lg, dim=-1) for t, lg in outs[0].items()}
        else:
            k = torch.log(torch.tensor(float(len(outs))))
            mixed = {
                t: torch.logsumexp(torch.stack([torch.log_softmax(o[t], dim=-1) for o in outs]), dim=0) - k
                for t in outs[0]
            }
        return {t: (mixed[t] if t in mixed else closed[t]) for t in self.config.targets}


class _Member(nn.Module):
    """One ensemble member: a one-hidden-layer MLP with a 101-logit output per target."""

    def __init__(self, in_dim: int, hidden: int, dropout: float, targets: list[str]) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Dropout(dropout * 0.5),
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
        )
        self.outputs = nn.ModuleDict({t: nn.Linear(hidden, N_BINS) for t in targets})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        return {t: layer(h) for t, layer in self.outputs.items()}
