"""The PPJudge network: patch tokens of frames (+ reference or prompt) -> 8 process scores.

Sequence layout: a prefix (one context token: the prompt embedding or a learned "no
prompt" token, then the reference image's patch tokens when there is one) at time 0,
then each frame's G*G patch tokens at time t = 1, 2, ... Attention is causal over time
(a token sees the prefix and every token of its own and earlier frames), so the scores
after frame t depend only on frames <= t, and a key-value cache folds in a new frame
without recomputing earlier ones. Each frame token carries its features, its change from
the previous frame at the same patch, and its difference from the reference at the same
patch: the raw material of stability and consistency. When there is a context, each frame
token also carries the frame's concept-alignment features (``grounding``: does the frame
show what the prompt or reference shows?). The scores after frame t are read from the
mean of frame t's tokens by a 3-layer SiLU MLP, as 1 + 9 * sigmoid(logit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from artjudge.models.process.grounding import N_ALIGN, ConceptGrounder
from artjudge.models.process.moe import HeteroMoE
from artjudge.models.process.rope import apply_rope, rope_angles


@dataclass
class ProcessConfig:
    """Sizes of the network; defaults are the shipped CPU-sized model."""

    token_dim: int = 435
    grid: int = 4
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    time_horizon: float = 32.0
    rope_base: float = 100.0
    beta: float = 0.5
    gamma: float = 2.0
    n_shared: int = 2
    expert_hidden: int = 64
    # Scaled down from PPJudge's 16 x depth 1, 6 x 2, 4 x 3, 2 x 4, 2 x 5.
    routed_depths: tuple[int, ...] = field(
        default_factory=lambda: (1,) * 8 + (2,) * 3 + (3,) * 2 + (4,) + (5,)
    )
    top_k: int = 4
    text_dim: int = 384
    head_hidden: int = 128
    n_attributes: int = 8
    n_align: int = N_ALIGN

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["routed_depths"] = list(self.routed_depths)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProcessConfig:
        """From :meth:`to_dict`'s JSON (values typed by the dataclass fields, checked on use)."""
        return cls(**{**d, "routed_depths": tuple(d["routed_depths"])})


@dataclass
class KVCache:
    """Per-layer keys and values seen so far, plus what a new frame's token needs."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    t: int
    ref: torch.Tensor | None  # (B, P, F) normalised reference tokens
    prev: torch.Tensor | None  # (B, P, F) normalised tokens of the last frame


class Attention(nn.Module):
    def __init__(self, cfg: ProcessConfig) -> None:
        super().__init__()
        self.h = cfg.n_heads
        self.hd = cfg.d_model // cfg.n_heads
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.out = nn.Linear(cfg.d_model, cfg.d_model)

    def project(
        self, x: torch.Tensor, angles: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.h, self.hd).permute(2, 0, 3, 1, 4)
        return apply_rope(q, angles), apply_rope(k, angles), v

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        b, _, n, _ = o.shape
        return self.out(o.transpose(1, 2).reshape(b, n, self.h * self.hd))


class Block(nn.Module):
    def __init__(self, cfg: ProcessConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.moe = HeteroMoE(cfg.d_model, cfg.expert_hidden, cfg.n_shared, cfg.routed_depths, cfg.top_k)


class PPJudgeNet(nn.Module):
    """Temporal-RoPE transformer with heterogeneous MoE; see the module docstring."""

    feat_mean: torch.Tensor
    feat_std: torch.Tensor

    def __init__(self, cfg: ProcessConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_heads:
            raise ValueError("d_model must be divisible by n_heads")
        self.cfg = cfg
        f, d = cfg.token_dim, cfg.d_model
        self.register_buffer("feat_mean", torch.zeros(f))
        self.register_buffer("feat_std", torch.ones(f))
        self.in_proj = nn.Linear(f, d)
        self.delta_proj = nn.Linear(f, d)
        self.refdiff_proj = nn.Linear(f, d)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.align_proj = nn.Linear(cfg.n_align, d)
        self.grounder = ConceptGrounder(cfg.text_dim)
        self.null_context = nn.Parameter(torch.zeros(d))
        self.type_emb = nn.Parameter(torch.zeros(3, d))  # context, reference patch, frame patch
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.n_layers)])
        self.ln_out = nn.LayerNorm(d)
        self.head = nn.Sequential(
            nn.Linear(d, cfg.head_hidden),
            nn.SiLU(),
            nn.Linear(cfg.head_hidden, cfg.head_hidden),
            nn.SiLU(),
            nn.Linear(cfg.head_hidden, cfg.n_attributes),
        )
        self.style_proj = nn.Linear(d, cfg.text_dim)
        # "wide" path: a linear readout of the frame's pooled tokens and alignment, next to
        # the deep one. Real labels are few (1,666 AGIQA images); a linear view of the same
        # features is the low-variance part of the fit, the transformer adds what it can.
        self.wide = nn.Linear(f + cfg.n_align, cfg.n_attributes)
        nn.init.zeros_(self.wide.weight)
        nn.init.zeros_(self.wide.bias)
        nn.init.normal_(self.type_emb, std=0.02)
        nn.init.normal_(self.null_context, std=0.02)

    def _layers(self) -> list[Block]:
        return [cast(Block, b) for b in self.blocks]

    # ----- positions -------------------------------------------------------------------
    def _angles(self, times: list[int], n_context: int, with_ref: bool) -> torch.Tensor:
        """Rotary angles for the prefix (when n_context) followed by frames at ``times``."""
        g = self.cfg.grid
        rows = torch.arange(g).repeat_interleave(g)
        cols = torch.arange(g).repeat(g)
        t_parts, r_parts, c_parts = [], [], []
        if n_context:
            t_parts.append(torch.zeros(1))
            r_parts.append(torch.full((1,), (g - 1) / 2))
            c_parts.append(torch.full((1,), (g - 1) / 2))
            if with_ref:
                t_parts.append(torch.zeros(g * g))
                r_parts.append(rows.float())
                c_parts.append(cols.float())
        for t in times:
            t_parts.append(torch.full((g * g,), float(t)))
            r_parts.append(rows.float())
            c_parts.append(cols.float())
        c = self.cfg
        return rope_angles(
            torch.cat(t_parts),
            torch.cat(r_parts),
            torch.cat(c_parts),
            c.d_model // c.n_heads,
            c.rope_base,
            c.time_horizon,
            c.beta,
            c.gamma,
        )

    # ----- tokens ----------------------------------------------------------------------
    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.feat_mean) / self.feat_std

    def _prefix(self, ref: torch.Tensor | None, text: torch.Tensor | None, batch: int) -> torch.Tensor:
        if text is not None:
            ctx = self.text_proj(text).unsqueeze(1)
        else:
            ctx = self.null_context.expand(batch, 1, -1)
        parts = [ctx + self.type_emb[0]]
        if ref is not None:
            parts.append(self.in_proj(ref) + self.type_emb[1])
        return torch.cat(parts, dim=1)

    def _frame_tokens(
        self, x: torch.Tensor, prev: torch.Tensor, ref: torch.Tensor | None, align: torch.Tensor | None
    ) -> torch.Tensor:
        tok = self.in_proj(x) + self.delta_proj(x - prev) + self.type_emb[2]
        if ref is not None:
            tok = tok + self.refdiff_proj(x - ref)
        if align is not None:  # (..., n_align) per frame, shared by its patches
            tok = tok + self.align_proj(align).unsqueeze(-2)
        return tok

    def _readout(self, h: torch.Tensor, x: torch.Tensor, align: torch.Tensor | None) -> torch.Tensor:
        """Scores after a frame: the deep head on its tokens ``h`` plus the wide linear path on
        its normalised input tokens ``x`` (..., P, F) and alignment (zeros without context)."""
        pooled = x.mean(dim=-2)
        if align is None:
            align = pooled.new_zeros(*pooled.shape[:-1], self.cfg.n_align)
        return self.head(self.ln_out(h.mean(dim=-2))) + self.wide(torch.cat([pooled, align], dim=-1))

    # ----- full pass -------------------------------------------------------------------
    def forward(
        self,
        frames: torch.Tensor,
        ref: torch.Tensor | None = None,
        text: torch.Tensor | None = None,
        align: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """frames (B, T, P, F) raw tokens (+ align (B, T, n_align) from ``grounder``) ->
        logits (B, T, 8) after each frame, style vector, balance."""
        b, t_len, p, _ = frames.shape
        x = self.normalise(frames)
        r = self.normalise(ref) if ref is not None else None
        prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)
        tok = self._frame_tokens(x, prev, r.unsqueeze(1) if r is not None else None, align)
        prefix = self._prefix(r, text, b)
        n_pre = prefix.shape[1]
        seq = torch.cat([prefix, tok.reshape(b, t_len * p, -1)], dim=1)
        times = torch.cat([torch.zeros(n_pre), torch.arange(1, t_len + 1).repeat_interleave(p).float()])
        mask = times.unsqueeze(0) <= times.unsqueeze(1)  # (L, L): key time <= query time
        angles = self._angles(list(range(1, t_len + 1)), 1, r is not None)
        balance = seq.new_zeros(())
        shared = seq
        for blk in self._layers():
            q, k, v = blk.attn.project(blk.ln1(seq), angles)
            seq = seq + blk.attn.attend(q, k, v, mask)
            out, shared, bal = blk.moe(blk.ln2(seq))
            seq = seq + out
            balance = balance + bal
        frames_h = seq[:, n_pre:].reshape(b, t_len, p, -1)
        logits = self._readout(frames_h, x, align)
        style = self.style_proj(shared[:, n_pre:].mean(dim=1))
        return {"logits": logits, "style": style, "balance": balance / len(self.blocks)}

    # ----- incremental pass ------------------------------------------------------------
    @torch.no_grad()
    def start(
        self, ref: torch.Tensor | None = None, text: torch.Tensor | None = None, batch: int = 1
    ) -> KVCache:
        """Run the prefix once and keep its keys and values."""
        if ref is not None:
            batch = ref.shape[0]
        elif text is not None:
            batch = text.shape[0]
        r = self.normalise(ref) if ref is not None else None
        seq = self._prefix(r, text, batch)
        angles = self._angles([], 1, r is not None)
        keys, values = [], []
        for blk in self._layers():
            q, k, v = blk.attn.project(blk.ln1(seq), angles)
            keys.append(k)
            values.append(v)
            seq = seq + blk.attn.attend(q, k, v, None)
            seq = seq + blk.moe(blk.ln2(seq))[0]
        return KVCache(keys=keys, values=values, t=0, ref=r, prev=None)

    @torch.no_grad()
    def step(self, cache: KVCache, frame: torch.Tensor, align: torch.Tensor | None = None) -> torch.Tensor:
        """Fold one frame (B, P, F) (+ its align (B, n_align)) into the cache; logits (B, 8) after it."""
        x = self.normalise(frame)
        prev = cache.prev if cache.prev is not None else x
        seq = self._frame_tokens(x, prev, cache.ref, align)
        t = cache.t + 1
        angles = self._angles([t], 0, False)
        for i, blk in enumerate(self._layers()):
            q, k, v = blk.attn.project(blk.ln1(seq), angles)
            cache.keys[i] = torch.cat([cache.keys[i], k], dim=2)
            cache.values[i] = torch.cat([cache.values[i], v], dim=2)
            seq = seq + blk.attn.attend(q, cache.keys[i], cache.values[i], None)
            seq = seq + blk.moe(blk.ln2(seq))[0]
        cache.t = t
        cache.prev = x
        return self._readout(seq, x, align)


def logits_to_scores(logits: torch.Tensor) -> torch.Tensor:
    """Map logits to the 1-10 attribute scale."""
    return 1.0 + 9.0 * torch.sigmoid(logits)


def scores_to_unit(scores: torch.Tensor) -> torch.Tensor:
    """Map 1-10 labels to 0-1, the scale the MSE is computed on."""
    return (scores - 1.0) / 9.0


def scores_to_logits(scores: torch.Tensor, margin: float = 0.02) -> torch.Tensor:
    """Inverse of ``logits_to_scores``, clipped ``margin`` inside 0-1 so that labels at the
    ends of the scale stay finite."""
    unit = scores_to_unit(scores).clamp(margin, 1.0 - margin)
    return torch.log(unit / (1.0 - unit))
