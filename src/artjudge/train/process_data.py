"""The process judge's training data: cached frozen tokens of each source, ready to batch.

Synthetic processes (all 8 labels), Sheep Market stroke orders (true vs shuffled: process
stability by ranking), AGIQA-3K images with their prompts (consistency), the style and
concept-name embeddings, and the concept alignment of frames with their context. Every
source is encoded once and cached by a key over what made it (:func:`_cached`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from artjudge.data.process.synthetic import STYLES, generate_dataset
from artjudge.io.files import atomic_path
from artjudge.io.images import load_image
from artjudge.models.process.encoder import PatchEncoder
from artjudge.models.process.grounding import ConceptGrounder, concept_names
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
