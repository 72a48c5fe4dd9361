"""The paper's adaptation of single-image scorers: average frame embeddings, then an MLP.

Each frame becomes one pooled vector (the mean of its patch tokens); the process is the
mean over frames, concatenated with the pooled reference (zeros when absent), the
prompt embedding (zeros when absent) and the frames' mean concept alignment (zeros when
there is no context; the same grounding features the judge gets). Order is lost by
construction: that is what the temporal model is measured against.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from artjudge.models.process.grounding import N_ALIGN


class AvgEmbedMLP(nn.Module):
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(
        self, token_dim: int, text_dim: int = 384, n_align: int = N_ALIGN, hidden: int = 256, n_out: int = 8
    ) -> None:
        super().__init__()
        n_in = 2 * token_dim + text_dim + n_align
        self.register_buffer("mean", torch.zeros(n_in))
        self.register_buffer("std", torch.ones(n_in))
        self.net = nn.Sequential(
            nn.Linear(n_in, hidden),
            nn.SiLU(),
            nn.Linear(hidden, hidden),
            nn.SiLU(),
            nn.Linear(hidden, n_out),
        )
        self.token_dim = token_dim
        self.text_dim = text_dim
        self.n_align = n_align

    def features(
        self,
        frames: torch.Tensor,
        ref: torch.Tensor | None,
        text: torch.Tensor | None,
        align: torch.Tensor | None = None,
    ) -> torch.Tensor:
        b = frames.shape[0]
        parts = [frames.mean(dim=(1, 2))]
        parts.append(ref.mean(dim=1) if ref is not None else frames.new_zeros(b, self.token_dim))
        parts.append(text if text is not None else frames.new_zeros(b, self.text_dim))
        parts.append(align.mean(dim=1) if align is not None else frames.new_zeros(b, self.n_align))
        return torch.cat(parts, dim=-1)

    def forward(
        self,
        frames: torch.Tensor,
        ref: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        align: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits (B, 8); scores are 1 + 9 * sigmoid(logits), as for the model."""
        return self.net((self.features(frames, ref, text, align) - self.mean) / self.std)


def fit_normaliser(model: AvgEmbedMLP, feats: np.ndarray) -> None:
    model.mean.copy_(torch.from_numpy(feats.mean(axis=0)))
    model.std.copy_(torch.from_numpy(feats.std(axis=0) + 1e-3))
