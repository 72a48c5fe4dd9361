"""Frozen patch-token encoder for process frames (EfficientNet-Lite0, a small spatial grid).

A process judge compares the *same place* of the canvas across frames, so each frame
becomes a G x G grid of patch tokens rather than one pooled vector. Each token joins an
intermediate block (112 channels, texture and local structure), the last block (320
channels, content and layout) and the patch's mean RGB (colour is the cheapest, most
direct cue for colour stability and colour jumps). The encoder is frozen, which makes the
tokens cacheable: training and benchmarks compute them once (``.cache/``).

The package is used directly (not ``artjudge.features``) so that this judge stays
independent of the still-image scorer's evolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from artjudge.features.encoder import load_backbone
from artjudge.models.process.onnx_encoder import TOKEN_DIM, frame_batch

MID_BLOCK = 10  # 112 channels at stride 16
LAST_BLOCK = 15  # 320 channels at stride 32
LAST_SLICE = slice(112, 112 + 320)


def _load_lite0() -> nn.Module:
    """The same frozen ImageNet Lite0 the still-image scorer loads, with gradients off."""
    net = load_backbone()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


class PatchEncoder:
    """Images -> (N, G*G, TOKEN_DIM) float32 patch tokens; frozen, deterministic."""

    def __init__(self, resolution: int = 128, grid: int = 4, batch_size: int = 32) -> None:
        self.resolution = resolution
        self.grid = grid
        self.batch_size = batch_size
        self.net: Any = _load_lite0()

    @property
    def token_dim(self) -> int:
        return TOKEN_DIM

    engine = "torch"

    def _prep(self, images: Sequence[Image.Image]) -> torch.Tensor:
        return torch.from_numpy(frame_batch(images, self.resolution))

    def tokens_of(self, x: torch.Tensor, fixed_size: bool = False) -> torch.Tensor:
        """(B, 3, r, r) frames in [0, 1] -> (B, G*G, TOKEN_DIM) tokens; also the exported ONNX graph.

        ``fixed_size`` pools with a fixed window instead (the ONNX export: its sizes are known
        and divisible, where the two poolings are the same average).
        """
        g = self.grid

        def pool(t: torch.Tensor) -> torch.Tensor:
            if not fixed_size:
                return F.adaptive_avg_pool2d(t, g)
            k = int(t.shape[-1]) // g
            return F.avg_pool2d(t, k) if k > 1 else t

        rgb = pool(x)
        h = self.net._swish(self.net._bn0(self.net._conv_stem((x - 0.5) / 0.5)))
        mid = h
        for i, block in enumerate(self.net._blocks):
            h = block(h)
            if i == MID_BLOCK:
                mid = h
        tokens = torch.cat([pool(mid), pool(h), rgb], dim=1)
        return tokens.flatten(2).transpose(1, 2)  # (B, C, g, g) -> (B, g*g, C)

    def logits_of_cells(self, cells: torch.Tensor) -> torch.Tensor:
        """(B, P, 320) last-block cells -> (B, 1000) ImageNet logits; also the exported ONNX graph."""
        x = cells.transpose(1, 2).unsqueeze(-1)  # (B, 320, P, 1)
        h = self.net._swish(self.net._bn1(self.net._conv_head(x))).mean(dim=(2, 3))
        return self.net._fc(h)

    @torch.no_grad()
    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        out: list[np.ndarray] = []
        for start in range(0, len(images), self.batch_size):
            x = self._prep(images[start : start + self.batch_size])
            out.append(self.tokens_of(x).numpy().astype(np.float32))
        if not out:
            return np.zeros((0, self.grid * self.grid, TOKEN_DIM), dtype=np.float32)
        return np.concatenate(out)

    @torch.no_grad()
    def class_logits(self, tokens: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
        """ImageNet logits (..., 1000) from patch tokens (..., G*G, TOKEN_DIM).

        The classifier's head (1x1 conv, batch norm, swish, average pool, linear) runs on
        the last block's G x G cells. At 128 px with a 4 x 4 grid those cells *are* the
        last block's map, so the logits equal the full network's; elsewhere they are the
        logits of the pooled map. Computing them from tokens keeps cached tokens enough
        for training: nothing is re-encoded.
        """
        t = torch.as_tensor(np.asarray(tokens, dtype=np.float32))
        lead, (p, _) = t.shape[:-2], t.shape[-2:]
        flat = t.reshape(-1, p, t.shape[-1])[..., LAST_SLICE]
        out = [
            self.logits_of_cells(flat[start : start + batch_size])
            for start in range(0, len(flat), batch_size)
        ]
        logits = torch.cat(out) if out else torch.zeros(0, 1000)
        return logits.reshape(*lead, -1).numpy()
