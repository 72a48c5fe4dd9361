"""Pairwise judging with a VLM: "which of these two is better, and how sure are you".

Both images go into one prompt; the answer is read from the logits of the "A" and "B"
tokens after the answer prefix. Each pair is asked in both orders, because VLMs favour a
position: ``p_a_better`` averages the two, and ``confidence`` is how decided the judge is
(``|2p - 1|``) discounted by how much its verdict moves when the order flips.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from artjudge.io import ImageSource, load_image
from artjudge.models.vlm.core import VLM, load_vlm


class VLMPairJudge:
    """``judge(a, b) -> (p_a_better, confidence)``, the judge interface of ``artjudge.preference``."""

    def __init__(self, vlm: VLM, paths: Mapping[str, str] | None = None, batch_size: int = 8) -> None:
        self.vlm = vlm
        self.paths = dict(paths or {})
        self.batch_size = max(2, batch_size)
        self.name = f"vlm:{vlm.name}"
        self.ids = list(vlm.pair_token_ids())

    def _img(self, x: ImageSource) -> Any:
        if isinstance(x, str):
            x = self.paths.get(x, x)
        return load_image(x).image

    def judge_many(self, pairs: Sequence[tuple[ImageSource, ImageSource]]) -> list[tuple[float, float]]:
        samples = []
        for a, b in pairs:
            ia, ib = self._img(a), self._img(b)
            samples += [self.vlm.pair_sample(ia, ib), self.vlm.pair_sample(ib, ia)]
        probs = (
            np.concatenate(
                [
                    self.vlm.token_probs(samples[i : i + self.batch_size], self.ids)
                    for i in range(0, len(samples), self.batch_size)
                ]
            )
            if samples
            else np.zeros((0, 2))
        )
        out = []
        for k in range(len(pairs)):
            p1 = float(probs[2 * k, 0])  # a shown first, answer "A"
            p2 = float(probs[2 * k + 1, 1])  # a shown second, answer "B"
            p = 0.5 * (p1 + p2)
            out.append((p, abs(2 * p - 1) * (1 - abs(p1 - p2))))
        return out

    def __call__(self, a: ImageSource, b: ImageSource) -> tuple[float, float]:
        return self.judge_many([(a, b)])[0]


def load_vlm_judge(path: str, paths: Mapping[str, str] | None = None, **kw: Any) -> VLMPairJudge:
    return VLMPairJudge(load_vlm(path, **kw), paths=paths)
