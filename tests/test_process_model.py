"""The PPJudge network: KV cache == full pass, temporal RoPE, MoE, the judge API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artjudge.errors import InputError, ModelNotAvailable
from artjudge.models.process.encoder import TOKEN_DIM, PatchEncoder
from artjudge.models.process.judge import ProcessJudge, load_net, save_checkpoint
from artjudge.models.process.model import PPJudgeNet, ProcessConfig
from artjudge.models.process.moe import HeteroMoE
from artjudge.models.process.rope import apply_rope, rope_angles, time_angles
from artjudge.taxonomy import PROCESS

PROCESS_KEYS = [a.key for a in PROCESS.attributes]

TINY = ProcessConfig(
    d_model=48,
    n_heads=2,
    n_layers=2,
    expert_hidden=16,
    head_hidden=32,
    routed_depths=(1, 1, 1, 2, 3),
    top_k=2,
)


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    """The test machine is shared; one thread avoids oversubscription stalls."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def encoder() -> PatchEncoder:
    return PatchEncoder(resolution=64, grid=4)


def _images(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    canvas = np.full((64, 64, 3), 240, dtype=np.uint8)
    out = []
    for _ in range(n):
        x, y = rng.integers(0, 48, 2)
        canvas[y : y + 16, x : x + 16] = rng.integers(0, 255, 3)
        out.append(Image.fromarray(canvas.copy()))
    return out


@pytest.mark.parametrize("grounded", [False, True])
@pytest.mark.parametrize("context", ["reference", "text", "none"])
def test_kv_cache_matches_full_pass(context: str, grounded: bool) -> None:
    torch.manual_seed(0)
    net = PPJudgeNet(TINY).eval()
    b, t, p = 2, 6, TINY.grid**2
    frames = torch.randn(b, t, p, TINY.token_dim)
    ref = torch.randn(b, p, TINY.token_dim) if context == "reference" else None
    text = torch.randn(b, TINY.text_dim) if context == "text" else None
    align = torch.randn(b, t, TINY.n_align) if grounded else None
    with torch.no_grad():
        full = net(frames, ref, text, align)["logits"]
    cache = net.start(ref, text, batch=b)
    steps = torch.stack(
        [net.step(cache, frames[:, i], None if align is None else align[:, i]) for i in range(t)], dim=1
    )
    assert cache.t == t
    assert torch.allclose(full, steps, atol=1e-4)
    if grounded:  # the alignment features reach the scores
        with torch.no_grad():
            assert not torch.allclose(full, net(frames, ref, text)["logits"], atol=1e-3)


def test_causal_scores_do_not_see_the_future() -> None:
    torch.manual_seed(1)
    net = PPJudgeNet(TINY).eval()
    frames = torch.randn(1, 5, 16, TINY.token_dim)
    changed = frames.clone()
    changed[:, 3:] += 5.0
    with torch.no_grad():
        a, b = net(frames)["logits"], net(changed)["logits"]
    assert torch.allclose(a[:, :3], b[:, :3], atol=1e-6)
    assert not torch.allclose(a[:, 3:], b[:, 3:], atol=1e-3)


def test_temporal_rope_correction() -> None:
    t = torch.arange(0, 33, dtype=torch.float64)
    plain = time_angles(t, 4, base=100.0, horizon=32.0, beta=0.0, gamma=2.0)
    corr = time_angles(t, 4, base=100.0, horizon=32.0, beta=0.5, gamma=2.0)
    theta = plain[1]  # theta_i at t = 1
    # theta_time(t) = -beta * (theta_i * T) * (t / T) ** gamma, exactly
    expected = -0.5 * theta * 32.0 * (t.unsqueeze(-1) / 32.0) ** 2
    assert torch.allclose(corr - plain, expected)
    # neighbouring late frames rotate apart less than neighbouring early frames
    step_early = (corr[2] - corr[1]).abs()
    step_late = (corr[31] - corr[30]).abs()
    assert (step_late < step_early).all()
    # rotation preserves norms and makes q.k depend on relative position only
    q = torch.randn(1, 12)
    a1 = rope_angles(torch.tensor([3.0]), torch.tensor([1.0]), torch.tensor([2.0]), 12, beta=0.0)
    a2 = rope_angles(torch.tensor([5.0]), torch.tensor([1.0]), torch.tensor([2.0]), 12, beta=0.0)
    assert torch.allclose(apply_rope(q, a1).norm(), q.norm(), atol=1e-5)
    b1 = rope_angles(torch.tensor([7.0]), torch.tensor([1.0]), torch.tensor([2.0]), 12, beta=0.0)
    b2 = rope_angles(torch.tensor([9.0]), torch.tensor([1.0]), torch.tensor([2.0]), 12, beta=0.0)
    k = torch.randn(1, 12)
    d1 = (apply_rope(q, a1) * apply_rope(k, a2)).sum()
    d2 = (apply_rope(q, b1) * apply_rope(k, b2)).sum()
    assert torch.allclose(d1, d2, atol=1e-5)


def test_moe_routes_top_k_and_balances() -> None:
    torch.manual_seed(0)
    moe = HeteroMoE(16, 8, n_shared=2, routed_depths=(1, 1, 2, 3, 5), top_k=2)
    assert [e.depth for e in moe.routed] == [1, 1, 2, 3, 5]
    x = torch.randn(4, 10, 16, requires_grad=True)
    out, shared, balance = moe(x)
    assert out.shape == shared.shape == x.shape
    assert balance.item() >= 1.0 - 1e-5  # n * sum(f * P) >= 1 by Cauchy-Schwarz-like bound at uniform
    (out.sum() + balance).backward()
    assert moe.router.weight.grad is not None and moe.router.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        HeteroMoE(16, 8, 1, (1, 2), top_k=3)


def test_judge_api_update_equals_full_pass(encoder: PatchEncoder, tmp_path: Path) -> None:
    torch.manual_seed(0)
    judge = ProcessJudge(PPJudgeNet(TINY), encoder)
    frames = _images(5)
    ref = _images(8, seed=3)[-1]
    full = judge.full_pass(frames, reference=ref)
    judge.start(reference=ref)
    inc = [judge.update(f) for f in frames]
    assert judge.frames_seen == 5
    inc_arr = np.array([[s[k] for k in PROCESS_KEYS] for s in inc])
    np.testing.assert_allclose(inc_arr, full, atol=1e-4)
    res = judge.judge(frames, reference=ref)
    assert list(res.scores) == PROCESS.keys()
    assert all(10.0 <= v <= 100.0 for v in res.scores.values())  # the record: PPJudge's 1-10 x 10
    np.testing.assert_allclose([res.scores[k] / 10 for k in PROCESS_KEYS], inc_arr[-1], atol=1e-3)
    assert len(res.timeline) == 5 and res.keyframe_indices == [0, 1, 2, 3, 4]
    emb = np.random.default_rng(0).normal(size=384).astype(np.float32)
    res_p = judge.judge(frames, prompt_embedding=emb)
    assert res_p.scores != res.scores


def test_judge_bad_reference_and_context(encoder: PatchEncoder, tmp_path: Path) -> None:
    judge = ProcessJudge(PPJudgeNet(TINY), encoder)
    frames = _images(3)
    with pytest.raises(InputError, match="^reference .*nope.png: file not found"):
        judge.judge(frames, reference=tmp_path / "nope.png")
    with pytest.raises(InputError, match="^reference .*: is a directory, not an image file$"):
        judge.judge(frames, reference=tmp_path)
    txt = tmp_path / "ref.txt"
    txt.write_text("a painting of a cat")
    with pytest.raises(InputError, match=r"^reference .*ref\.txt: not an image \(looks like text\)"):
        judge.judge(frames, reference=txt)
    with pytest.raises(InputError, match="not both"):
        judge.judge(frames, reference=frames[0], prompt_embedding=np.zeros(384, np.float32))
    with pytest.raises(InputError, match="dims"):
        judge.judge(frames, prompt_embedding=np.zeros(12, np.float32))
    with pytest.raises(InputError, match="no frames"):
        judge.judge([])
    mixed = [frames[0], frames[1].resize((40, 30))]
    res = judge.judge(mixed)
    assert any("differ in size" in n for n in res.notes)


def test_checkpoint_roundtrip_and_hash(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = PPJudgeNet(TINY)
    path = tmp_path / "w.pt"
    digest = save_checkpoint(path, net, version="t", styles=["a"], meta={"resolution": 64})
    assert (tmp_path / "w.pt.sha256").read_text().startswith(digest)
    loaded, blob = load_net(path)
    frames = torch.randn(1, 3, 16, TOKEN_DIM)
    with torch.no_grad():
        a = net(frames)["logits"]
        b = loaded(frames)["logits"]
    assert torch.allclose(a, b, atol=2e-2)  # float16 storage
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ModelNotAvailable, match="SHA-256"):
        load_net(path)
    with pytest.raises(ModelNotAvailable, match="train-process"):
        load_net(tmp_path / "missing.pt")


def _grounded(net: PPJudgeNet, seed: int = 0) -> PPJudgeNet:
    """Give a net random concept embeddings, as training gives it real ones."""
    g = torch.Generator().manual_seed(seed)
    net.grounder.set_concepts(torch.randn(1000, net.cfg.text_dim, generator=g))
    return net


def test_grounding_features_follow_the_prompt() -> None:
    from artjudge.models.process.grounding import N_ALIGN, ConceptGrounder

    g = ConceptGrounder(text_dim=8)
    assert not g.ready
    concepts = torch.eye(8).repeat(125, 1)[:1000] + 0.01 * torch.randn(1000, 8)
    g.set_concepts(concepts)
    assert g.ready
    prompt = torch.zeros(1, 8)
    prompt[0, 3] = 1.0  # talks about concept family 3 (classes 3, 11, 19, ...)
    rel = g.relevance_from_text(prompt)
    logits_match = torch.full((1, 2, 1000), -5.0)
    logits_match[0, :, 3] = 5.0  # both frames show a class of family 3
    logits_other = torch.full((1, 2, 1000), -5.0)
    logits_other[0, :, 4] = 5.0
    f_match, f_other = g.raw_features(logits_match, rel), g.raw_features(logits_other, rel)
    assert f_match.shape == (1, 2, N_ALIGN)
    # the most likely classes' relevance (top 1, 3, 5) and the expected relevance
    assert (f_match[..., [0, 1, 2, 7]] > f_other[..., [0, 1, 2, 7]] + 0.5).all()
    # a reference that shows family 3 makes family 3 relevant, like the prompt did
    rel_ref = g.relevance_from_logits(logits_match[:, 0])
    assert rel_ref[0, 3] > 0.9 and rel_ref[0, 4] < 0.2
    g.fit_normaliser(torch.cat([f_match, f_other]))
    normed = g.features(torch.cat([logits_match, logits_other]), rel.expand(2, -1))
    assert torch.allclose(normed.reshape(-1, N_ALIGN).mean(dim=0), torch.zeros(N_ALIGN), atol=1e-4)


def test_class_logits_from_tokens_equal_the_classifier() -> None:
    enc = PatchEncoder(resolution=128, grid=4)  # at 128 px the 4x4 grid is the last block's map
    ims = [im.resize((128, 128)) for im in _images(3)]
    logits = enc.class_logits(enc.encode(ims))
    with torch.no_grad():
        full = enc.net((enc._prep(ims) - 0.5) / 0.5).numpy()
    assert logits.shape == (3, 1000)
    np.testing.assert_allclose(logits, full, atol=1e-4)


@pytest.mark.parametrize("context", ["reference", "prompt"])
def test_grounded_judge_update_equals_full_pass(encoder: PatchEncoder, context: str) -> None:
    torch.manual_seed(0)
    judge = ProcessJudge(_grounded(PPJudgeNet(TINY)), encoder)
    frames = _images(4)
    kwargs = (
        {"reference": _images(8, seed=3)[-1]}
        if context == "reference"
        else {"prompt_embedding": np.random.default_rng(1).normal(size=384).astype(np.float32)}
    )
    full = judge.full_pass(frames, **kwargs)
    judge.start(**kwargs)
    inc = np.array([[s[k] for k in PROCESS_KEYS] for s in (judge.update(f) for f in frames)])
    np.testing.assert_allclose(inc, full, atol=1e-4)
    ungrounded = ProcessJudge(PPJudgeNet(TINY), encoder)
    ungrounded.net.load_state_dict(
        {k: v for k, v in judge.net.state_dict().items() if not k.startswith("grounder.")}, strict=False
    )
    assert not np.allclose(ungrounded.full_pass(frames, **kwargs), full, atol=1e-3)
