"""Losses: zero or minimal at the target, agree with torch/scipy references, carry gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from artjudge import scoring as S
from artjudge.eval import metrics
from artjudge.scoring import losses as L

torch.set_num_threads(1)


def _targets(n: int = 6, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.tensor(S.soft_labels(rng.uniform(0, 100, n), rng.uniform(2, 20, n)))


def _logits_of(t: torch.Tensor) -> torch.Tensor:
    return torch.log(t.clamp_min(1e-300)).clone().requires_grad_(True)


def test_kl_and_emd_are_zero_and_ce_is_the_entropy_at_the_target() -> None:
    t = _targets()
    logits = _logits_of(t)
    assert L.kl_loss(logits, t).item() == pytest.approx(0.0, abs=1e-9)
    assert L.emd_loss(logits, t).item() == pytest.approx(0.0, abs=1e-9)
    entropy = -(torch.xlogy(t, t)).sum(-1).mean()
    assert L.ce_loss(logits, t).item() == pytest.approx(entropy.item(), abs=1e-9)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_any_other_prediction_costs_more(seed: int) -> None:
    t = _targets(4, seed % 97)
    at_target = _logits_of(t).detach()
    other = at_target + torch.tensor(np.random.default_rng(seed).normal(0, 1.0, at_target.shape))
    for fn in (L.kl_loss, L.ce_loss, L.emd_loss):
        assert fn(other, t).item() > fn(at_target, t).item() - 1e-12


def test_kl_matches_torch_reference_and_gradients_flow() -> None:
    t = _targets()
    logits = torch.randn(t.shape, dtype=torch.float64, requires_grad=True)
    ref = F.kl_div(F.log_softmax(logits, -1), t, reduction="batchmean")
    assert L.kl_loss(logits, t).item() == pytest.approx(ref.item(), rel=1e-9)
    loss = L.combined_loss(logits, t, emd_weight=1.0, rank_weight=0.1)
    loss.backward()
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad)) and logits.grad.abs().sum() > 0
    # CE and KL differ by a constant (the target entropy): identical gradients.
    g = [torch.autograd.grad(fn(logits, t), logits)[0] for fn in (L.ce_loss, L.kl_loss)]
    torch.testing.assert_close(g[0], g[1])


def test_emd_gradient_is_finite_at_the_target_and_matches_metrics() -> None:
    t = _targets()
    logits = _logits_of(t)
    L.emd_loss(logits, t).backward()
    assert logits.grad is not None and torch.all(torch.isfinite(logits.grad))
    p = torch.softmax(torch.randn(t.shape, dtype=torch.float64), -1)
    # r = 1: mean |CDF gap| over 101 bins = Wasserstein-1 on the 0..100 bins / 101.
    ours = L.emd_loss(torch.log(p), t, r=1.0, reduction="none").numpy()
    ref = np.asarray(metrics.emd(p.numpy(), t.numpy(), reduction="none")) / 101.0
    np.testing.assert_allclose(ours, ref, rtol=1e-9)


def test_training_on_the_kl_loss_recovers_the_score() -> None:
    """A few steps of gradient descent on free logits land on the label's score and std."""
    target = torch.tensor(S.soft_label(72.0, 6.0)).unsqueeze(0)
    logits = torch.zeros(1, 101, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=0.5)
    for _ in range(300):
        opt.zero_grad()
        L.combined_loss(logits, target).backward()
        opt.step()
    score, std, _ = S.score_from_logits(logits)
    assert float(score[0]) == pytest.approx(72.0, abs=0.2)
    assert float(std[0]) == pytest.approx(6.0, abs=0.3)


def test_ranking_hinge_is_zero_when_ordered_and_counts_all_pairs() -> None:
    targets = torch.tensor([1.0, 2.0, 3.0, 3.0])
    good = torch.tensor([10.0, 20.0, 30.0, 25.0], requires_grad=True)
    assert L.pairwise_ranking_loss(good, targets).item() == 0.0
    bad = torch.tensor([30.0, 20.0, 10.0, 10.0], requires_grad=True)
    loss = L.pairwise_ranking_loss(bad, targets)
    # Pairs (i above j): (1,0): 10, (2,0): 20, (2,1): 10, (3,0): 20, (3,1): 10; the tie (2,3) is no pair.
    assert loss.item() == pytest.approx((10 + 20 + 10 + 20 + 10) / 5)
    loss.backward()
    assert bad.grad is not None and bad.grad.abs().sum() > 0
    assert L.pairwise_ranking_loss(good, targets, margin=8.0).item() == pytest.approx((0 + 0 + 0 + 0 + 3) / 5)


def test_ranking_weights_and_logistic_form() -> None:
    targets = torch.tensor([0.0, 1.0, 2.0])
    s = torch.tensor([0.0, 2.0, 1.0], requires_grad=True)  # only the pair (2 above 1) is wrong
    w = torch.zeros(3, 3)
    w[2, 1] = 1.0  # trust only that pair
    assert L.pairwise_ranking_loss(s, targets, weights=w).item() == pytest.approx(1.0)
    w[2, 1] = 0.0
    w[1, 0] = 1.0  # trust only a correctly ordered pair
    assert L.pairwise_ranking_loss(s, targets, weights=w).item() == 0.0
    item_w = torch.tensor([1.0, 0.0, 1.0])  # item 1 unreliable: pairs touching it vanish
    assert L.pairwise_ranking_loss(s, targets, weights=item_w).item() == 0.0
    logistic = L.pairwise_ranking_loss(s, targets, kind="logistic")
    expected = (
        F.softplus(torch.tensor(-2.0)) + F.softplus(torch.tensor(-1.0)) + F.softplus(torch.tensor(1.0))
    ) / 3
    assert logistic.item() == pytest.approx(expected.item())
    none = L.pairwise_ranking_loss(s, torch.ones(3))
    assert none.item() == 0.0 and none.requires_grad


def test_loss_inputs_are_checked() -> None:
    t = _targets(2)
    with pytest.raises(ValueError, match="does not match"):
        L.kl_loss(torch.zeros(2, 5), t)
    with pytest.raises(ValueError, match="weights"):
        L.pairwise_ranking_loss(torch.zeros(3), torch.zeros(3), weights=torch.ones(2))
    with pytest.raises(ValueError, match="every weight"):
        L.combined_loss(torch.zeros(2, 101), t, ce_weight=0, kl_weight=0)
    parts = L.loss_parts(torch.zeros(2, 101, dtype=torch.float64), t, emd_weight=0.5)
    assert set(parts) == {"ce", "kl", "emd", "total"}
    assert parts["total"].item() == pytest.approx(sum(parts[k].item() for k in ("ce", "kl", "emd")))
