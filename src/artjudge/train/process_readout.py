"""Folding a closed-form ridge readout into the process network's consistency logit.

A network this size memorises the 1,666 labelled AGIQA-3K images; a linear readout of the
same wide-path inputs, fitted in closed form, is the low-variance view of them. The blend
folds exactly into the weights (:func:`blend_ridge_readout`).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn

from artjudge.models.process.model import PPJudgeNet, scores_to_logits
from artjudge.train.process_data import Bundle


@torch.no_grad()
def wide_inputs(net: PPJudgeNet, b: Bundle) -> np.ndarray:
    """(N, F + N_ALIGN): what the network's linear "wide" path reads at the last frame, its
    pooled normalised tokens and alignment (zeros without a context)."""
    frames = torch.from_numpy(b.frames[:, -1])
    pooled = net.normalise(frames).mean(dim=-2)
    if b.align is None:
        align = pooled.new_zeros(len(b), net.cfg.n_align)
    else:
        align = torch.from_numpy(b.align[:, -1])
    return torch.cat([pooled, align], dim=-1).numpy()


def ridge_readout(x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Ridge of ``target`` on ``x`` (standardised, alpha by leave-one-out CV), returned as
    weights and intercept on the raw ``x``, with the chosen alpha."""
    from sklearn.linear_model import RidgeCV

    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    model = RidgeCV(alphas=np.logspace(-2, 5, 15)).fit((x - mu) / sd, target)
    coef = np.asarray(model.coef_) / sd
    return coef, float(model.intercept_ - (mu * coef).sum()), float(model.alpha_)


@torch.no_grad()
def blend_ridge_readout(net: PPJudgeNet, b: Bundle, attribute: int, share: float) -> None:
    """Make one attribute's logit ``share * network + (1 - share) * ridge`` in place.

    The ridge reads the wide path's inputs, so the blend folds exactly into the weights: the
    head's last row scales by ``share`` and the wide row becomes the mix. Scores after every
    frame (full pass and KV cache alike) carry it. A linear readout fitted in closed form is
    the low-variance view of 1,666 labelled images that the network, which memorises them,
    is not.
    """
    rows = ~np.isnan(b.labels[:, attribute])
    target = scores_to_logits(torch.from_numpy(b.labels[rows, attribute])).numpy()
    coef, intercept, _ = ridge_readout(wide_inputs(net, b.subset(rows)), target)
    last = cast(nn.Linear, net.head[-1])
    last.weight[attribute] *= share
    last.bias[attribute] *= share
    net.wide.weight[attribute] = (
        share * net.wide.weight[attribute] + (1 - share) * torch.from_numpy(coef).float()
    )
    net.wide.bias[attribute] = share * net.wide.bias[attribute] + (1 - share) * intercept
