"""Consistency with a text prompt or a reference image, offline (issue 17).

Prompt consistency checks each element of the prompt (``features.prompt_elements``)
against evidence the installed models can measure, and reports what it could not check:

- **objects**: the Lite0 ImageNet classifier's probabilities, matched to the object word
  through the MiniLM text encoder (cosine of the word with each of the 1,000 concept
  names). A word whose best concept is below ``object_threshold`` (chosen on AGIQA-3K
  train) is an unknown object: reported ``checked=False``, never scored.
- **colours**: the share of that colour in the salient region (soft CIELAB colour naming,
  ``features.colour.soft_colour_fractions``) against its typical share in training images;
  "warm/cold color" checks the palette the same way.
- **styles**: a logistic regression on the frozen Lite0 features, trained on AGIQA-3K's
  ``style`` column (train split only); styles it was not trained on are unchecked.
- **counts** and camera/lighting attributes are not measured: unchecked.

The score (0-100) is a small ridge fitted on AGIQA-3K train ``mos_align`` over the image's
quality score (the shipped default's overall) and prompt evidence: whole-prompt concept
grounding (as in ``models.process.grounding``), the same grounding ranked against a bank of
training prompts (does the image fit *this* prompt better than prompts in general), the
colour check, and the prompt's length and camera/lighting attributes (long prompts are met
less often). Each input's coefficient has a fixed sign (``SIGNS``: evidence can only raise the
score, prompt difficulty only lower it), so a swapped colour or object cannot score higher
through a fitted negative weight. The quality input is fitted on *out-of-fold* quality for
the training images (the shipped quality score has seen them, so there it is near-perfect
and a fit would lean on it). Which inputs enter was chosen by 5-fold cross-validation grouped
by prompt over train+val (``train.consistency``); figures in docs/consistency.md.

Reference consistency compares two images by content (cosine of centred deep features),
layout (correlation of low-resolution saliency and edge maps) and palette (Lab histogram
intersection); each is calibrated to 0-100 as its percentile among *different-prompt*
AGIQA-3K training pairs; the overall score weighs the three by how well each separates
same-prompt from different-prompt training pairs (AUC - 0.5), so it rises with each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.features.colour import COLOURS, lab_histogram, layout_map, soft_colour_fractions
from artjudge.features.prompt_elements import PromptElement, parse_prompt
from artjudge.models.weights import (
    PACKAGE_WEIGHTS,
    SEAL_FILE,
    files_digest,
    folder_digest,
    load_weights_file,
    read_card,
    versioned,
)
from artjudge.record import Consistency, ConsistencyElement
from artjudge.scoring.intervals import IntervalCalibration, interval, read_calibration

WEIGHTS_PATH = PACKAGE_WEIGHTS / "consistency" / "consistency.pt"
HEAD_MEAN = slice(-2560, -1280)  # the classifier's pooled input inside the scorer's pooled features
WARM = ("red", "orange", "yellow", "brown", "pink")
COLD = ("blue", "green", "purple")
TOP_K = 20
N_GROUNDING = 8
N_CONTRAST = 4
N_COLOUR = 1
FEATURE_NAMES = (
    ["quality"]
    + [
        f"grounding_{k}"
        for k in ("top1", "top5max", "top5mean", "top20mean", "expected", "best", "mean", "logp_best")
    ]
    + ["contrast_expected_z", "contrast_expected_rank", "contrast_top5_z", "contrast_top5_rank"]
    + ["colour_match"]
    + ["prompt_words", "prompt_attributes"]
)
# The sign each input's coefficient may take in a sign-constrained fit: evidence raises the
# score, prompt difficulty lowers it.
SIGNS = {name: (-1.0 if name.startswith("prompt_") else 1.0) for name in FEATURE_NAMES}
COLOUR_FLOOR = 0.02  # added to both shares in the colour log-ratio: a colour absent from both is 0, not -inf


@dataclass
class ImageSignals:
    """What one image offers the checks; computed once per image by the scorer."""

    probs: np.ndarray  # (1000,) ImageNet class probabilities at the scorer's resolution
    head_mean: np.ndarray  # (1280,) the classifier's pooled input: content and style features
    thumb: np.ndarray  # (64, 64, 3) uint8 thumbnail: colour, layout, palette
    quality: float  # the shipped default's overall score, 0-100
    image: Any = None  # the decoded PIL image, for components that read pixels themselves (CLIP)


def load_consistency(spec: str = "offline") -> Any:
    """``offline`` (the shipped weights), ``clip:PATH`` (a local CLIP/SigLIP folder, never downloaded) or a weights file.

    The spec goes through the one parser (:func:`artjudge.models.spec.parse_spec`): anything
    else is one ModelNotAvailable line listing what works.
    """
    from artjudge.models.spec import parse_spec

    parsed = parse_spec(spec, "consistency")
    if parsed.scheme == "clip":
        from artjudge.models.clip_consistency import ClipConsistency

        return ClipConsistency(parsed.target)
    return OfflineConsistency.load(None if parsed.shipped else Path(parsed.target).expanduser())


def card_calibration(weights: Path) -> dict[str, IntervalCalibration]:
    """Interval calibrations from the card beside a weights file, when that card describes this file.

    A weights file from ``train.consistency`` without its own card has none: its scores then
    carry no interval rather than the shipped model's.
    """
    card_path = weights.parent / "card.json"
    if not card_path.is_file():
        return {}
    card = read_card(weights.parent)
    return read_calibration(card) if card.get("file") == weights.name else {}


def image_signals(pooled: np.ndarray, classifier: Any, image: Any, quality: float) -> ImageSignals:
    """Signals of one image from the scorer's pooled features (``classifier`` is Lite0's ``_fc``)."""
    import torch

    head_mean = np.asarray(pooled[HEAD_MEAN], dtype=np.float32)
    with torch.inference_mode():
        logits = classifier(torch.from_numpy(head_mean[None])).numpy()[0]
    from artjudge.features.colour import thumbnail

    return ImageSignals(
        softmax(logits.astype(np.float64)),
        head_mean.astype(np.float64),
        thumbnail(image),
        float(quality),
        image,
    )


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def grounding_features(probs: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """(N_GROUNDING,) how relevant the image's likely concepts are to the prompt."""
    order = np.argsort(-probs)[:TOP_K]
    top = relevance[order]
    best = int(relevance.argmax())
    return np.array(
        [
            top[0],
            top[:5].max(),
            top[:5].mean(),
            top[:20].mean(),
            float(probs @ relevance),
            relevance.max(),
            relevance.mean(),
            np.log(probs[best] + 1e-12),
        ],
        dtype=np.float64,
    )


def contrast_features(probs: np.ndarray, own: np.ndarray, bank: np.ndarray) -> np.ndarray:
    """(N_CONTRAST,) the prompt's grounding against a bank of other prompts' (z-score and rank).

    ``own`` is (1000,) relevance of the prompt, ``bank`` (P, 1000) of the training prompts:
    an image that shows *something* recognisable scores high on every prompt; this asks
    whether it fits this prompt better than prompts in general.
    """
    allrel = np.vstack([bank, own[None]])
    expected = allrel @ probs
    order = np.argsort(-probs)[:5]
    top5 = allrel[:, order].max(axis=1)
    out = []
    for v in (expected, top5):
        out += [(v[-1] - v.mean()) / (v.std() + 1e-9), float((v < v[-1]).mean())]
    return np.array(out, dtype=np.float64)


def colour_columns(el: PromptElement) -> list[int]:
    """The COLOURS indices a colour element asks for (one bound colour, or a warm/cold palette)."""
    idx = {c: i for i, c in enumerate(COLOURS)}
    if el.target or el.value not in ("warm", "cold"):
        return [idx[el.value]]
    return [idx[c] for c in (WARM if el.value == "warm" else COLD)]


def colour_features(elements: list[PromptElement], salient: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(N_COLOUR,) mean log-ratio of each asked colour's salient share to its training prior; 0 if none.

    A log-ratio, not a difference: "red" at 30% of the salient region where 5% is typical
    is strong evidence, and the same 25 points on a colour typical at 40% is weak.
    """
    ratios = [
        np.log(salient[cols].sum() + COLOUR_FLOOR) - np.log(prior[cols].sum() + COLOUR_FLOOR)
        for cols in (colour_columns(el) for el in elements if el.kind == "colour")
    ]
    return np.array([float(np.mean(ratios)) if ratios else 0.0])


def prompt_features(prompt: str, elements: list[PromptElement]) -> np.ndarray:
    """(2,) words and camera/lighting attributes in the prompt: long, detailed prompts are met less often."""
    return np.array(
        [float(len(prompt.split())), float(sum(e.kind == "attribute" for e in elements))], dtype=np.float64
    )


class OfflineConsistency:
    """Prompt and reference consistency from the shipped weights (see the module docstring)."""

    model_id = "artjudge-consistency-offline"

    def __init__(self, blob: dict[str, Any]) -> None:
        def arr(key: str) -> np.ndarray:
            return np.asarray(blob[key].float().numpy(), dtype=np.float64)

        self.version = str(blob["version"])
        self.concepts = arr("concepts")  # (1000, 384) L2-normalised
        self.concept_names: list[str] = list(blob["concept_names"])
        self.bank = arr("prompt_bank") @ self.concepts.T  # (P, 1000) relevance of the training prompts
        self.object_threshold = float(blob["object_threshold"])
        self.colour_prior = arr("colour_prior")
        self.feat_mean, self.feat_std = arr("feat_mean"), arr("feat_std")
        self.coef, self.intercept = arr("coef"), float(blob["intercept"])
        self.residual_std = float(blob["residual_std"])
        #: The prompt score's error-interval calibration (the card beside the weights); None: no interval.
        self.prompt_calibration: IntervalCalibration | None = None
        self.style_classes: list[str] = list(blob["style_classes"])
        self.style_coef, self.style_intercept = arr("style_coef"), arr("style_intercept")
        self.style_mean, self.style_std = arr("style_mean"), arr("style_std")
        self.content_mean = arr("content_mean")
        self.ref_quantiles = {k: arr(f"ref_q_{k}") for k in ("content", "layout", "palette")}
        self.ref_weights = arr("ref_weights")

    @classmethod
    def load(cls, path: Path | None = None) -> OfflineConsistency:
        """The shipped weights (SHA-256 checked, the folder against its seal), or a file written by ``train.consistency``.

        Its version carries the digest of what made it, as every model's does.
        """
        path = path or WEIGHTS_PATH
        sealed = (path.parent / SEAL_FILE).is_file()
        digest = folder_digest(path.parent) if sealed else files_digest([path])
        model = cls(load_weights_file(path))
        model.version = versioned(model.version, digest)
        cal = card_calibration(path).get("prompt")
        model.prompt_calibration = cal if cal is not None and cal.scale == "constant" else None
        return model

    # ------------------------------------------------------------------ prompt
    def _embed(self, texts: list[str]) -> np.ndarray:
        from artjudge.models.process.text import embed_texts

        return np.asarray(embed_texts(texts), dtype=np.float64)

    def features(
        self,
        signals: ImageSignals,
        prompt: str,
        elements: list[PromptElement] | None = None,
        prompt_emb: np.ndarray | None = None,
    ) -> np.ndarray:
        """The calibration's raw inputs (FEATURE_NAMES order) for one image and prompt."""
        elements = parse_prompt(prompt) if elements is None else elements
        emb = self._embed([prompt])[0] if prompt_emb is None else prompt_emb
        rel = self.concepts @ emb
        return np.concatenate(
            [
                [signals.quality],
                grounding_features(signals.probs, rel),
                contrast_features(signals.probs, rel, self.bank),
                colour_features(elements, soft_colour_fractions(signals.thumb), self.colour_prior),
                prompt_features(prompt, elements),
            ]
        )

    def score_features(self, feats: np.ndarray) -> float:
        """Predicted prompt alignment (AGIQA ``mos_align``, 0-5) mapped to 0-100."""
        pred = float(((feats - self.feat_mean) / self.feat_std) @ self.coef + self.intercept)
        return float(np.clip(pred * 20.0, 0.0, 100.0))

    def style_probs(self, head_mean: np.ndarray) -> dict[str, float]:
        z = (head_mean - self.style_mean) / self.style_std
        p = softmax(self.style_coef @ z + self.style_intercept)
        return {c: float(v) for c, v in zip(self.style_classes, p, strict=True)}

    def check_elements(
        self, signals: ImageSignals, elements: list[PromptElement]
    ) -> list[ConsistencyElement]:
        """One record entry per element: what was looked for, found, how sure, or why unchecked."""
        out: list[ConsistencyElement] = []
        objects = [e.value for e in elements if e.kind == "object"]
        obj_emb = dict(zip(objects, self._embed(objects), strict=True)) if objects else {}
        salient = soft_colour_fractions(signals.thumb)
        styles: dict[str, float] | None = None
        for el in elements:
            name = el.label()
            if el.kind == "object":
                rel = self.concepts @ obj_emb[el.value]
                best = int(rel.argmax())
                if rel[best] < self.object_threshold:
                    out.append(
                        ConsistencyElement(
                            name,
                            el.kind,
                            False,
                            0.0,
                            f"unknown object: no ImageNet concept is close to '{el.value}' "
                            f"(closest '{self.concept_names[best]}', cosine {rel[best]:.2f} "
                            f"< {self.object_threshold:.2f})",
                        )
                    )
                    continue
                matched = rel >= max(self.object_threshold, rel[best] - 0.1)
                mass = float(signals.probs[matched].sum())
                top = int(np.argmax(np.where(matched, signals.probs, -1.0)))
                out.append(
                    ConsistencyElement(
                        name,
                        el.kind,
                        True,
                        round(min(1.0, mass), 4),
                        f"'{self.concept_names[top]}' p={signals.probs[top]:.2f}; "
                        f"{int(matched.sum())} matching concepts hold p={mass:.2f}",
                    )
                )
            elif el.kind == "colour":
                cols = colour_columns(el)
                share, prior = float(salient[cols].sum()), float(self.colour_prior[cols].sum())
                if el.target:
                    where = "the salient region (no object segmentation offline)"
                else:
                    where = f"the salient region ({el.value} hues)"
                conf = share / (share + prior) if share + prior > 0 else 0.0
                out.append(
                    ConsistencyElement(
                        name, el.kind, True, round(conf, 4), f"{share:.0%} of {where} (typical {prior:.0%})"
                    )
                )
            elif el.kind == "style" and el.value in self.style_classes:
                styles = styles if styles is not None else self.style_probs(signals.head_mean)
                top_style = max(styles, key=lambda s: styles[s] if styles is not None else 0.0)
                out.append(
                    ConsistencyElement(
                        name,
                        el.kind,
                        True,
                        round(styles[el.value], 4),
                        f"style classifier p={styles[el.value]:.2f} (most likely: {top_style})",
                    )
                )
            else:
                why = {
                    "count": "counting is not measured offline",
                    "style": "the style classifier knows only "
                    + ", ".join(s for s in self.style_classes if s != "none"),
                    "attribute": "camera and lighting attributes are not measured offline",
                }.get(el.kind, "")
                out.append(ConsistencyElement(name, el.kind, False, 0.0, why))
        return out

    def assess_prompt(self, signals: ImageSignals, prompt: str) -> Consistency:
        """The ``consistency`` entry of a record for one image and its prompt."""
        if not prompt.strip():
            raise ValueError("prompt: empty; give the text the image was generated from")
        elements = parse_prompt(prompt)
        score = self.score_features(self.features(signals, prompt, elements))
        cal = self.prompt_calibration
        ends = None if cal is None else [round(v, 2) for v in interval(score, cal.q)]
        return Consistency(
            score=round(score, 4),
            std=round(self.residual_std, 4),
            interval=ends,
            interval_level=None if cal is None else cal.level,
            source="prompt",
            prompt=prompt,
            model=self.model_id + "@" + self.version,
            elements=self.check_elements(signals, elements),
            components={"quality": round(signals.quality, 4)},
        )

    # ------------------------------------------------------------------ reference
    def reference_similarities(self, a: ImageSignals, b: ImageSignals) -> dict[str, float]:
        """Raw similarities: content cosine, layout correlation, palette intersection."""
        return reference_similarities(a, b, self.content_mean)

    def assess_reference(self, signals: ImageSignals, reference: ImageSignals, name: str = "") -> Consistency:
        raw = self.reference_similarities(signals, reference)
        comps = {
            k: round(100.0 * float(np.searchsorted(self.ref_quantiles[k], v) / len(self.ref_quantiles[k])), 2)
            for k, v in raw.items()
        }
        score = float(np.array([comps["content"], comps["layout"], comps["palette"]]) @ self.ref_weights)
        elements = [
            ConsistencyElement(
                k,
                "reference",
                True,
                round(comps[k] / 100.0, 4),
                f"similarity {raw[k]:.3f} (percentile {comps[k]:.0f} among unrelated pairs)",
            )
            for k in ("content", "layout", "palette")
        ]
        return Consistency(
            score=round(float(score), 4),
            std=round(float(np.std(list(comps.values()))), 4),
            source="reference",
            reference=name,
            model=self.model_id + "@" + self.version,
            elements=elements,
            components=comps,
        )


def reference_similarities(a: ImageSignals, b: ImageSignals, content_mean: np.ndarray) -> dict[str, float]:
    """Content: cosine of centred deep features; layout: mean correlation of the saliency and edge maps;
    palette: intersection of the Lab histograms (1 = same palette)."""
    ca, cb = a.head_mean - content_mean, b.head_mean - content_mean
    content = float(ca @ cb / (np.linalg.norm(ca) * np.linalg.norm(cb) + 1e-9))
    la, lb = layout_map(a.thumb), layout_map(b.thumb)
    corrs = []
    for x, y in zip(la, lb, strict=True):
        x, y = x.ravel() - x.mean(), y.ravel() - y.mean()
        den = float(np.linalg.norm(x) * np.linalg.norm(y))
        corrs.append(float(x @ y) / den if den > 1e-9 else 0.0)
    palette = float(np.minimum(lab_histogram(a.thumb), lab_histogram(b.thumb)).sum())
    return {"content": content, "layout": float(np.mean(corrs)), "palette": palette}
