"""The process judge's training loops: batches, losses, the epoch schedule, prediction.

The loss is PPJudge's (``style_loss + 10 * MSE`` on labels mapped to 0-1, plus a small
load-balancing term); order pairs (Sheep Market) add a pairwise ranking term. The same
schedule trains the averaged-embedding baseline, so the two are compared on equal terms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from artjudge.models.process.baseline import AvgEmbedMLP, fit_normaliser
from artjudge.models.process.model import PPJudgeNet, logits_to_scores, scores_to_unit
from artjudge.train.process_data import STABILITY_SHUFFLED, STABILITY_TRUE, Bundle, OrderPairs, Source


def _batch(
    b: Bundle, idx: np.ndarray
) -> tuple[
    torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, torch.Tensor, torch.Tensor
]:
    def opt(a: np.ndarray | None) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(a[idx])

    fr = torch.from_numpy(b.frames[idx])
    return (
        fr,
        opt(b.ref),
        opt(b.text),
        opt(b.align),
        torch.from_numpy(b.labels[idx]),
        torch.from_numpy(b.style[idx]),
    )


def masked_mse(pred_unit: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    mask = ~torch.isnan(labels)
    if not mask.any():
        return pred_unit.sum() * 0
    target = scores_to_unit(torch.nan_to_num(labels))
    return ((pred_unit - target) ** 2)[mask].mean()


FinalLogits = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def pair_loss(
    forward: FinalLogits, pairs: OrderPairs, idx: np.ndarray, rng: np.random.Generator
) -> torch.Tensor:
    """10 x MSE to the weak labels (9 true, 4 shuffled) + softplus ranking on the 1-10 scale
    (+ the model's auxiliary loss); ``forward`` maps frames to (final logits, aux loss)."""
    k = rng.integers(0, pairs.shuffled.shape[1], len(idx))
    x = torch.from_numpy(np.concatenate([pairs.true[idx], pairs.shuffled[idx, k]]))
    logits, aux = forward(x)
    logit = logits[:, pairs.attribute]
    n = len(idx)
    target = torch.cat([torch.full((n,), STABILITY_TRUE), torch.full((n,), STABILITY_SHUFFLED)])
    mse = ((torch.sigmoid(logit) - scores_to_unit(target)) ** 2).mean()
    score = logits_to_scores(logit)
    rank = F.softplus(score[n:] - score[:n]).mean()
    return 10 * mse + rank + aux


def fit_feature_normaliser(
    net: PPJudgeNet, sources: Sequence[Source], rows_per_source: int = 20000, seed: int = 0
) -> None:
    """Token mean and std with every source weighted alike: line drawings on white paper
    (Sheep Market) outnumber the rest by far and would otherwise set the scale."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in sources:
        frames = _frames_of(s)
        flat = frames.reshape(-1, frames.shape[-1])
        parts.append(flat[rng.choice(len(flat), size=min(rows_per_source, len(flat)), replace=False)])
    flat = np.concatenate(parts)
    net.feat_mean.copy_(torch.from_numpy(flat.mean(axis=0)))
    net.feat_std.copy_(torch.from_numpy(flat.std(axis=0) + 1e-3))


def _frames_of(s: Source) -> np.ndarray:
    return s.frames if isinstance(s, Bundle) else s.true


def _schedule(
    sources: Sequence[tuple[Source, float]], batch_size: int, rng: np.random.Generator
) -> list[tuple[Source, np.ndarray]]:
    """One epoch: ``weight`` passes over each source in shuffled batches, interleaved at random.

    A fractional weight takes that share of the source (a fresh random subset each epoch);
    order pairs go in half-size batches, as each pair is two sequences.
    """
    steps: list[tuple[Source, np.ndarray]] = []
    for s, weight in sources:
        bs = batch_size // 2 if isinstance(s, OrderPairs) else batch_size
        whole, part = int(weight), weight - int(weight)
        orders = [rng.permutation(len(s)) for _ in range(whole)]
        if part > 0:
            orders.append(rng.permutation(len(s))[: max(1, int(round(part * len(s))))])
        for order in orders:
            steps += [(s, order[i : i + bs]) for i in range(0, len(order), bs)]
    rng.shuffle(steps)
    return steps


def train_net(
    net: PPJudgeNet,
    sources: Sequence[tuple[Source, float]],
    style_emb: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = True,
    desc: str = "train",
    ema_decay: float | None = None,
) -> list[float]:
    """Train in place; with ``ema_decay``, end on the moving average of the weights.

    The real sources are small (1,666 AGIQA-3K images) and a network this size memorises
    them within a few epochs, so the final weights of a run vary with the last batches;
    the average over the last few hundred steps does not.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    total = epochs * len(_schedule(sources, batch_size, np.random.default_rng(0)))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(1, total), pct_start=0.1)
    semb = torch.from_numpy(style_emb)
    losses = []
    net.train()
    bar = tqdm(total=total, desc=desc, disable=not progress)
    ema = None
    if ema_decay is not None:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(ema_decay))

    def final_logits(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = net(x)
        return out["logits"][:, -1], 0.01 * out["balance"]

    for _ in range(epochs):
        ep = []
        for s, idx in _schedule(sources, batch_size, rng):
            if isinstance(s, OrderPairs):
                loss = pair_loss(final_logits, s, idx, rng)
            else:
                fr, ref, txt, align, lab, sty = _batch(s, idx)
                out = net(fr, ref, txt, align)
                mse = masked_mse(torch.sigmoid(out["logits"][:, -1]), lab)
                known = sty >= 0
                style_loss = fr.new_zeros(())
                if known.any():
                    cos = F.cosine_similarity(out["style"][known], semb[sty[known]], dim=-1)
                    style_loss = (1 - cos).mean()
                loss = style_loss + 10 * mse + 0.01 * out["balance"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(net)
            ep.append(float(loss.detach()))
            bar.update(1)
        losses.append(float(np.mean(ep)))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")
    bar.close()
    if ema is not None:
        net.load_state_dict(ema.module.state_dict())
    net.eval()
    return losses


def train_baseline(
    sources: Sequence[tuple[Source, float]],
    *,
    epochs: int = 60,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool = False,
) -> AvgEmbedMLP:
    """The averaged-embedding MLP trained on the same sources with the same losses."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    bundles = [s for s, _ in sources if isinstance(s, Bundle)]
    model = AvgEmbedMLP(_frames_of(sources[0][0]).shape[-1])
    with torch.no_grad():
        feats = torch.cat([model.features(*_batch(b, np.arange(len(b)))[:4]) for b in bundles]).numpy()
    fit_normaliser(model, feats)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    for _ in tqdm(range(epochs), desc="baseline", disable=not progress):
        model.train()
        for s, idx in _schedule(sources, batch_size, rng):
            if isinstance(s, OrderPairs):
                loss = pair_loss(lambda x: (model(x), x.new_zeros(())), s, idx, rng)
            else:
                fr, ref, txt, align, lab, _ = _batch(s, idx)
                loss = 10 * masked_mse(torch.sigmoid(model(fr, ref, txt, align)), lab)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: PPJudgeNet | AvgEmbedMLP, b: Bundle, batch_size: int = 64) -> np.ndarray:
    """(N, 8) final scores on 1-10, as the judge gives them: for the network, every attribute
    but consistency from the pass without the reference or prompt (the judge never lets the
    context move them), consistency from the pass with it."""
    out = []
    for i in range(0, len(b), batch_size):
        fr, ref, txt, align, _, _ = _batch(b, np.arange(i, min(len(b), i + batch_size)))
        if isinstance(model, PPJudgeNet):
            logits = model(fr)["logits"][:, -1]
            if ref is not None or txt is not None:
                logits[:, 0] = model(fr, ref, txt, align)["logits"][:, -1, 0]
        else:
            logits = model(fr, ref, txt, align)
        out.append(logits_to_scores(logits).numpy())
    return np.concatenate(out)
