"""Training the process judge: pretrain on synthetic processes, then fine-tune on real ones
(Sheep Market stroke orders, AGIQA-3K prompt alignment) with synthetic replay, all on
cached frozen patch tokens.

Loss (PPJudge): ``style_loss + 10 * MSE`` (MSE on labels mapped to 0-1, only where a label
exists) plus a small load-balancing term for the router. The style loss is ``1 - cos``
between the shared experts' pooled output (projected to 384 dims) and the MiniLM
embedding of "This is a {style} painting.", where the style is known.

Sources and their labels:
- synthetic processes: all 8 labels (from injected faults) and the stroke style;
- Sheep Market (train split): process stability only, from pairs of one drawing: its true
  stroke order and a random permutation of the same strokes. Each pair gets the weak
  labels 9 and 4 (the MSE term) and a pairwise ranking term, ``softplus(s_shuffled -
  s_true)`` on the 1-10 scale: what is known is the *order* of the two, and ranking
  learns it directly while the labels keep the scale;
- AGIQA-3K (train split by prompt): consistency only (``mos_align``), with the prompt as
  the context token, the image as a one-frame process and the image's concept alignment
  with the prompt (``grounding``); style where AGIQA gives one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn
from tqdm import tqdm

from artjudge.data.process.synthetic import STYLES, generate_dataset
from artjudge.io.files import atomic_path, atomic_write_json
from artjudge.io.images import load_image
from artjudge.models.process.baseline import AvgEmbedMLP, fit_normaliser
from artjudge.models.process.encoder import PatchEncoder
from artjudge.models.process.grounding import ConceptGrounder, concept_names
from artjudge.models.process.model import (
    PPJudgeNet,
    ProcessConfig,
    logits_to_scores,
    scores_to_logits,
    scores_to_unit,
)
from artjudge.taxonomy import PROCESS

GENERATOR_VERSION = "synthetic-v1"
AGIQA_STYLES: tuple[str, ...] = ("anime", "realistic", "sci-fi", "baroque", "abstract")
ALL_STYLES: tuple[str, ...] = STYLES + AGIQA_STYLES
STABILITY_TRUE, STABILITY_SHUFFLED = 9.0, 4.0


@dataclass
class Bundle:
    """Cached tokens of one data source, ready for batching."""

    name: str
    frames: np.ndarray  # (N, T, P, F) float32
    labels: np.ndarray  # (N, 8), NaN where unknown
    style: np.ndarray  # (N,) index into ALL_STYLES, -1 unknown
    ref: np.ndarray | None = None  # (N, P, F)
    text: np.ndarray | None = None  # (N, 384)
    align: np.ndarray | None = None  # (N, T, N_ALIGN), normalised; set by ``add_alignment``

    def __len__(self) -> int:
        return len(self.frames)

    def subset(self, idx: np.ndarray) -> Bundle:
        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return Bundle(
            self.name,
            self.frames[idx],
            self.labels[idx],
            self.style[idx],
            pick(self.ref),
            pick(self.text),
            pick(self.align),
        )


@dataclass
class OrderPairs:
    """Real processes in their true order and shuffled orders of the same strokes.

    Only the order within a pair is known (the true order is the more stable process),
    so these train process stability through a ranking term, not labels alone.
    """

    name: str
    true: np.ndarray  # (N, T, P, F)
    shuffled: np.ndarray  # (N, K, T, P, F)
    attribute: int  # index of the attribute the order speaks to

    def __len__(self) -> int:
        return len(self.true)


Source = Bundle | OrderPairs


@dataclass
class ProcessTrainConfig:
    n_synthetic: int = 480
    n_frames: int = 8
    size: int = 128
    n_targets: int = 160
    n_sheep: int = 4000
    sheep_frames: int = 6
    sheep_shuffles: int = 2
    sheep_passes: float = 0.25  # share of the Sheep Market pairs seen per fine-tuning epoch
    agiqa_passes: float = 0.5  # share of the AGIQA-3K train split seen per fine-tuning epoch
    ema_decay: float = 0.998  # fine-tuning keeps an exponential moving average of the weights
    # the network's share of the consistency logit; the rest is a closed-form ridge readout
    # of the same wide inputs on AGIQA-3K (1.0: network only); chosen by
    # benchmarks/consistency_cv.py, 5-fold CV by prompt over train + val
    consistency_blend: float = 0.5
    epochs_pretrain: int = 15
    epochs_finetune: int = 16
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    threads: int = 1
    cache_dir: Path = Path(".cache/process")
    agiqa_root: Path | None = None
    sheep_root: Path | None = None
    model: ProcessConfig = field(default_factory=ProcessConfig)


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:20]


def _cached(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    arrays = build()
    with atomic_path(path) as tmp:  # keeps the .npz suffix, so np.savez adds none
        np.savez(tmp, **arrays)  # type: ignore[arg-type]  # numpy stub: **kwds might fill allow_pickle: bool
    return arrays


def load_targets(
    agiqa_root: Path | None, n: int, size: int, seed: int, split: str = "train"
) -> list[Image.Image]:
    """AGIQA-3K images of one split (by prompt) to paint; [] without the data."""
    if agiqa_root is None or not (agiqa_root / "data.csv").is_file():
        return []
    from artjudge.data.process.agiqa_align import load_align_pairs

    pairs = [p for p in load_align_pairs(agiqa_root) if p.split == split]
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(pairs), size=min(n, len(pairs)), replace=False)
    out = []
    for i in pick:
        im = load_image(pairs[int(i)].path).image
        out.append(im.resize((size, size), Image.Resampling.BILINEAR))
    return out


def synthetic_bundle(
    encoder: PatchEncoder,
    n: int,
    seed: int,
    targets: Sequence[Image.Image],
    cache_dir: Path | None,
    n_frames: int = 8,
    size: int = 128,
    name: str = "synthetic",
    progress: bool = True,
) -> Bundle:
    def build() -> dict[str, np.ndarray]:
        frames, refs, labels, styles = [], [], [], []
        for p in tqdm(
            generate_dataset(n, seed, targets, n_frames=n_frames, size=size),
            desc=f"encode {name}",
            disable=not progress,
        ):
            toks = encoder.encode([*p.frames, p.reference])
            frames.append(toks[:-1])
            refs.append(toks[-1])
            labels.append(p.labels)
            styles.append(ALL_STYLES.index(p.style))
        return {
            "frames": np.stack(frames).astype(np.float16),
            "ref": np.stack(refs).astype(np.float16),
            "labels": np.stack(labels),
            "style": np.array(styles),
        }

    key = _key(
        GENERATOR_VERSION,
        n,
        seed,
        n_frames,
        size,
        len(targets),
        hashlib.sha256(b"".join(t.tobytes()[:4096] for t in targets)).hexdigest(),
        encoder.resolution,
        encoder.grid,
    )
    a = build() if cache_dir is None else _cached(cache_dir / f"{name}-{key}.npz", build)
    return Bundle(
        name,
        a["frames"].astype(np.float32),
        a["labels"].astype(np.float32),
        a["style"],
        ref=a["ref"].astype(np.float32),
    )


def sheep_pairs(
    encoder: PatchEncoder,
    root: Path,
    split: str,
    n: int,
    seed: int,
    cache_dir: Path | None,
    n_frames: int = 6,
    size: int = 128,
    progress: bool = True,
    shuffles: int = 1,
) -> OrderPairs:
    """``n`` drawings (at least 4 strokes) in their true order and ``shuffles`` random orders."""
    from artjudge.data.process.sheep import load_sheep, rasterise

    def build() -> dict[str, np.ndarray]:
        drawings = [d for d in load_sheep(root, split) if len(d.strokes) >= 4]
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(drawings), size=min(n, len(drawings)), replace=False)
        true_f, shuf_f = [], []
        for i in tqdm(pick, desc=f"encode sheep-{split}", disable=not progress):
            d = drawings[int(i)]
            imgs = rasterise(d.strokes, n_frames, size)
            for _ in range(shuffles):
                imgs += rasterise(d.strokes, n_frames, size, rng.permutation(len(d.strokes)))
            toks = encoder.encode(imgs)
            true_f.append(toks[:n_frames])
            shuf_f += [toks[n_frames * (k + 1) : n_frames * (k + 2)] for k in range(shuffles)]
        return {"true": np.stack(true_f).astype(np.float16), "shuffled": np.stack(shuf_f).astype(np.float16)}

    extra = () if shuffles == 1 else (shuffles,)
    key = _key("sheep-v1", split, n, seed, n_frames, size, encoder.resolution, encoder.grid, *extra)
    a = build() if cache_dir is None else _cached(cache_dir / f"sheep-{key}.npz", build)
    true = a["true"].astype(np.float32)
    shuffled = a["shuffled"].astype(np.float32).reshape(len(true), shuffles, *true.shape[1:])
    return OrderPairs(f"sheep-{split}", true, shuffled, PROCESS.keys().index("process_stability"))


def agiqa_bundle(
    encoder: PatchEncoder, root: Path, cache_dir: Path | None, progress: bool = True
) -> tuple[Bundle, list[str]]:
    """Every AGIQA-3K image as a one-frame process with its prompt; and each row's split."""
    from artjudge.data.process.agiqa_align import load_align_pairs
    from artjudge.models.process.text import embed_texts

    pairs = load_align_pairs(root)

    def build() -> dict[str, np.ndarray]:
        toks = []
        for start in tqdm(range(0, len(pairs), 32), desc="encode agiqa", disable=not progress):
            imgs = []
            for p in pairs[start : start + 32]:
                im = load_image(p.path).image
                imgs.append(im.resize((encoder.resolution, encoder.resolution), Image.Resampling.BILINEAR))
            toks.append(encoder.encode(imgs))
        return {
            "frames": np.concatenate(toks).astype(np.float16),
            "text": embed_texts([p.prompt for p in pairs]),
        }

    key = _key("agiqa-v1", len(pairs), encoder.resolution, encoder.grid)
    a = build() if cache_dir is None else _cached(cache_dir / f"agiqa-{key}.npz", build)
    lab = np.full((len(pairs), 8), np.nan, dtype=np.float32)
    lab[:, 0] = [p.consistency for p in pairs]
    style = np.array([ALL_STYLES.index(p.style) if p.style in ALL_STYLES else -1 for p in pairs])
    b = Bundle(
        "agiqa", a["frames"].astype(np.float32)[:, None], lab, style, text=a["text"].astype(np.float32)
    )
    return b, [p.split for p in pairs]


def style_embeddings(cache_dir: Path | None) -> np.ndarray:
    from artjudge.models.process.text import embed_texts, style_sentences

    if cache_dir is None:
        return embed_texts(style_sentences(ALL_STYLES))
    return _cached(
        cache_dir / f"styles-{_key(*ALL_STYLES)}.npz",
        lambda: {"emb": embed_texts(style_sentences(ALL_STYLES))},
    )["emb"]


def concept_embeddings(cache_dir: Path | None) -> np.ndarray:
    """MiniLM embeddings of the 1,000 ImageNet concept names (see ``grounding``)."""
    from artjudge.models.process.text import embed_texts

    names = concept_names()
    if cache_dir is None:
        return embed_texts(names)
    return _cached(cache_dir / f"concepts-{_key(*names)}.npz", lambda: {"emb": embed_texts(names)})["emb"]


def _raw_alignment(b: Bundle, encoder: PatchEncoder, grounder: ConceptGrounder) -> np.ndarray | None:
    if b.text is not None:
        relevance = grounder.relevance_from_text(torch.from_numpy(b.text))
    elif b.ref is not None:
        relevance = grounder.relevance_from_logits(torch.from_numpy(encoder.class_logits(b.ref)))
    else:
        return None
    logits = torch.from_numpy(encoder.class_logits(b.frames))
    return grounder.raw_features(logits, relevance).numpy()


def add_alignment(
    bundles: Sequence[Bundle], encoder: PatchEncoder, grounder: ConceptGrounder, fit: bool = True
) -> None:
    """Set each bundle's ``align`` (frames against its prompt or reference); with ``fit``,
    first fit the grounder's normaliser on all of them."""
    raw = {id(b): _raw_alignment(b, encoder, grounder) for b in bundles}
    if fit:
        parts = [r.reshape(-1, r.shape[-1]) for r in raw.values() if r is not None]
        if parts:
            grounder.fit_normaliser(torch.from_numpy(np.concatenate(parts)))
    for b in bundles:
        r = raw[id(b)]
        if r is not None:
            b.align = ((torch.from_numpy(r) - grounder.feat_mean) / grounder.feat_std).numpy()


# ----- training loops ----------------------------------------------------------------------
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
    """(N, 8) final scores on 1-10."""
    out = []
    for i in range(0, len(b), batch_size):
        fr, ref, txt, align, _, _ = _batch(b, np.arange(i, min(len(b), i + batch_size)))
        logits = model(fr, ref, txt, align)
        if isinstance(logits, dict):
            logits = logits["logits"][:, -1]
        out.append(logits_to_scores(logits).numpy())
    return np.concatenate(out)


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


# ----- the whole recipe ---------------------------------------------------------------------
@dataclass
class TrainingData:
    """Every source of the recipe, built (or read from the feature cache) once."""

    synthetic: Bundle
    sheep: OrderPairs | None
    agiqa_train: Bundle | None
    style_emb: np.ndarray
    concept_emb: np.ndarray | None
    seconds: float


def build_training_data(
    cfg: ProcessTrainConfig, encoder: PatchEncoder, progress: bool = True
) -> TrainingData:
    t0 = time.time()
    targets = load_targets(cfg.agiqa_root, cfg.n_targets, cfg.size, cfg.seed)
    synth = synthetic_bundle(
        encoder, cfg.n_synthetic, cfg.seed, targets, cfg.cache_dir, cfg.n_frames, cfg.size, progress=progress
    )
    sheep = None
    if cfg.sheep_root is not None and cfg.n_sheep > 0:
        sheep = sheep_pairs(
            encoder,
            cfg.sheep_root,
            "train",
            cfg.n_sheep,
            cfg.seed,
            cfg.cache_dir,
            cfg.sheep_frames,
            cfg.size,
            progress=progress,
            shuffles=cfg.sheep_shuffles,
        )
    agiqa_train = None
    if cfg.agiqa_root is not None and (cfg.agiqa_root / "data.csv").is_file():
        agiqa, splits = agiqa_bundle(encoder, cfg.agiqa_root, cfg.cache_dir, progress=progress)
        agiqa_train = agiqa.subset(np.array([s == "train" for s in splits]))
    return TrainingData(
        synth,
        sheep,
        agiqa_train,
        style_embeddings(cfg.cache_dir),
        concept_embeddings(cfg.cache_dir),
        time.time() - t0,
    )


def fit_process_net(
    cfg: ProcessTrainConfig, data: TrainingData, encoder: PatchEncoder, progress: bool = True
) -> tuple[PPJudgeNet, list[float], list[float]]:
    """The recipe on built data: pretrain on synthetic, fine-tune on the real sources with
    synthetic replay; returns the network and both stages' per-epoch losses.

    Sets ``align`` on ``data.synthetic`` and ``data.agiqa_train`` (the grounder's normaliser
    is fitted on them), so held-out bundles need ``add_alignment(..., fit=False)`` with this
    network's grounder afterwards.
    """
    torch.manual_seed(cfg.seed)
    net = PPJudgeNet(cfg.model)
    if data.concept_emb is not None:
        net.grounder.set_concepts(torch.from_numpy(data.concept_emb))
        add_alignment([b for b in (data.synthetic, data.agiqa_train) if b is not None], encoder, net.grounder)
    real: list[tuple[Source, float]] = []
    if data.sheep is not None:
        real.append((data.sheep, cfg.sheep_passes))
    if data.agiqa_train is not None:
        real.append((data.agiqa_train, cfg.agiqa_passes))
    fit_feature_normaliser(net, [data.synthetic, *[s for s, _ in real]])
    loss_pre = train_net(
        net,
        [(data.synthetic, 1.0)],
        data.style_emb,
        epochs=cfg.epochs_pretrain,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        progress=progress,
        desc="pretrain",
    )
    loss_ft: list[float] = []
    if real and cfg.epochs_finetune > 0:
        loss_ft = train_net(
            net,
            [*real, (data.synthetic, 1.0)],
            data.style_emb,
            epochs=cfg.epochs_finetune,
            lr=cfg.lr / 2,
            batch_size=cfg.batch_size,
            seed=cfg.seed + 1,
            progress=progress,
            desc="finetune",
            ema_decay=cfg.ema_decay,
        )
    if data.agiqa_train is not None and cfg.consistency_blend < 1.0:
        blend_ridge_readout(net, data.agiqa_train, PROCESS.keys().index("consistency"), cfg.consistency_blend)
    return net, loss_pre, loss_ft


def train_process_judge(cfg: ProcessTrainConfig, out_path: Path, progress: bool = True) -> dict[str, object]:
    """Build (or read cached) features, pretrain, fine-tune, save weights; return a summary."""
    from artjudge.models.process.judge import save_checkpoint

    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    encoder = PatchEncoder(resolution=cfg.size, grid=cfg.model.grid)
    data = build_training_data(cfg, encoder, progress)
    net, loss_pre, loss_ft = fit_process_net(cfg, data, encoder, progress)
    version = time.strftime("%Y-%m-%d", time.gmtime())
    meta = {
        "resolution": cfg.size,
        "n_synthetic": cfg.n_synthetic,
        "n_sheep": cfg.n_sheep,
        "sheep_shuffles": cfg.sheep_shuffles,
        "sheep_passes": cfg.sheep_passes,
        "agiqa_passes": cfg.agiqa_passes,
        "ema_decay": cfg.ema_decay,
        "consistency_blend": cfg.consistency_blend,
        "epochs_pretrain": cfg.epochs_pretrain,
        "epochs_finetune": cfg.epochs_finetune,
        "seed": cfg.seed,
        "grounding": data.concept_emb is not None,
        "feature_seconds": round(data.seconds, 1),
        "total_seconds": round(time.time() - t0, 1),
        "loss_pretrain": [round(x, 5) for x in loss_pre],
        "loss_finetune": [round(x, 5) for x in loss_ft],
    }
    digest = save_checkpoint(out_path, net, version=version, styles=ALL_STYLES, meta=meta)
    summary = {
        "weights": str(out_path),
        "sha256": digest,
        "parameters": sum(p.numel() for p in net.parameters()),
        **meta,
    }
    atomic_write_json(out_path.with_suffix(".json"), summary, ensure_ascii=True)
    return summary
