"""Rotary position encoding over (time, row, col) with PPJudge's temporal angular correction.

Each attention head's dimensions are split in three groups of rotation pairs: one rotates
with the frame's time index, one with the patch row, one with the patch column, so a
query-key dot product depends on the *relative* time and place of two patches.

Plain RoPE would rotate the time group by ``theta_i * t``: frames far apart in index look
far apart even when the painting barely changed (late, fine-detail frames). PPJudge adds a
time-dependent correction ``theta_time(t) = -beta * theta_base * (t / T) ** gamma``; here
``theta_base = theta_i * T`` is the angle frequency ``i`` would reach at the horizon ``T``,
so the time angle is ``phi_i(t) = theta_i * t * (1 - beta * (t / T) ** (gamma - 1))``.
With gamma > 1 the rotation slows as the process advances, so the same spatial patch in
neighbouring late frames stays close. ``T`` is a fixed horizon (not the video's length),
so a frame's angle never depends on frames that have not arrived: the key-value cache
stays exact.
"""

from __future__ import annotations

import torch


def split_pairs(head_dim: int) -> tuple[int, int, int]:
    """Rotation pairs for (time, row, col); time gets the remainder."""
    if head_dim % 2:
        raise ValueError("head_dim must be even for rotary encoding")
    pairs = head_dim // 2
    spatial = pairs // 3
    return pairs - 2 * spatial, spatial, spatial


def _freqs(n: int, base: float) -> torch.Tensor:
    return base ** (-torch.arange(n, dtype=torch.float64) / max(n, 1))


def time_angles(
    t: torch.Tensor, n: int, base: float, horizon: float, beta: float, gamma: float
) -> torch.Tensor:
    """phi_i(t) = theta_i * t + theta_time_i(t), theta_time_i(t) = -beta * (theta_i*T) * (t/T)^gamma."""
    theta = _freqs(n, base)  # (n,)
    t = t.to(torch.float64).unsqueeze(-1)  # (L, 1)
    theta_base = theta * horizon
    correction = -beta * theta_base * (t.clamp(min=0) / horizon) ** gamma
    return theta * t + correction


def rope_angles(
    t: torch.Tensor,
    row: torch.Tensor,
    col: torch.Tensor,
    head_dim: int,
    base: float = 100.0,
    horizon: float = 32.0,
    beta: float = 0.5,
    gamma: float = 2.0,
) -> torch.Tensor:
    """Angles (L, head_dim // 2) for positions given as three (L,) tensors."""
    nt, nr, nc = split_pairs(head_dim)
    a_t = time_angles(t, nt, base, horizon, beta, gamma)
    a_r = row.to(torch.float64).unsqueeze(-1) * _freqs(nr, base)
    a_c = col.to(torch.float64).unsqueeze(-1) * _freqs(nc, base)
    return torch.cat([a_t, a_r, a_c], dim=-1)


def apply_rope(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate consecutive pairs of the last dimension of x (..., L, D) by angles (L, D/2)."""
    cos = torch.cos(angles).to(x.dtype)
    sin = torch.sin(angles).to(x.dtype)
    x1 = x[..., 0::2]
    x2 = x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)
