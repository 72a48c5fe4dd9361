"""The process judge's frame encoder on ONNX Runtime (the default engine), with no torch in it.

The judge turns each frame into 4 x 4 patch tokens of the frozen Lite0 network at 128 px
(:class:`artjudge.models.process.encoder.PatchEncoder`); the same computation is exported
by ``scripts/export_onnx.py`` as two graphs shipped with their SHA-256: frames -> tokens,
and last-block cells -> ImageNet logits (the concept grounding reads those). Only the
judge's small transformer still runs on torch. Tokens agree with the torch encoder to about
1e-5, scores to well under the calibration tolerance (``tests/test_process_engines.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from artjudge.models.weights import PROCESS_CLASSIFIER_ONNX, PROCESS_TOKENS_ONNX, read_verified
from artjudge.threads import ort_session_options, policy_for

TOKEN_DIM = 112 + 320 + 3  # mid-block channels, last-block channels, mean RGB
LAST_SLICE = slice(112, 112 + 320)
#: The only frame size and grid the shipped graphs take (the shipped judge's); other
#: checkpoints run their encoder on torch.
ONNX_RESOLUTION = 128
ONNX_GRID = 4


def frame_batch(images: Sequence[Image.Image], resolution: int) -> np.ndarray:
    """(B, 3, r, r) float32 in [0, 1]: each frame as RGB, bilinearly resized to r x r (both engines)."""
    arr = np.stack(
        [
            np.asarray(
                im.convert("RGB").resize((resolution, resolution), Image.Resampling.BILINEAR), np.float32
            )
            for im in images
        ]
    )
    return np.ascontiguousarray(arr.transpose(0, 3, 1, 2)) / np.float32(255.0)


class OnnxPatchEncoder:
    """Images -> (N, 16, TOKEN_DIM) patch tokens and tokens -> ImageNet logits, on ONNX Runtime."""

    engine = "onnx"

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        """``threads``: ONNX Runtime's intra-op threads (default: the thread policy's, docs/performance.md)."""
        import onnxruntime as ort

        self.resolution = ONNX_RESOLUTION
        self.grid = ONNX_GRID
        self.batch_size = batch_size
        opts = ort_session_options(policy_for(threads=threads))
        self._tokens: Any = ort.InferenceSession(
            read_verified(PROCESS_TOKENS_ONNX), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._classifier: Any = ort.InferenceSession(
            read_verified(PROCESS_CLASSIFIER_ONNX), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    @property
    def token_dim(self) -> int:
        return TOKEN_DIM

    def encode(self, images: Sequence[Image.Image]) -> np.ndarray:
        out = [
            self._tokens.run(
                ["tokens"], {"frames": frame_batch(images[s : s + self.batch_size], self.resolution)}
            )[0]
            for s in range(0, len(images), self.batch_size)
        ]
        if not out:
            return np.zeros((0, self.grid * self.grid, TOKEN_DIM), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    def class_logits(self, tokens: Any, batch_size: int = 512) -> np.ndarray:
        """ImageNet logits (..., 1000) from patch tokens (..., P, TOKEN_DIM), as ``PatchEncoder.class_logits``."""
        t = np.asarray(tokens, dtype=np.float32)
        lead, p = t.shape[:-2], t.shape[-2]
        cells = np.ascontiguousarray(t.reshape(-1, p, t.shape[-1])[..., LAST_SLICE])
        out = [
            self._classifier.run(["logits"], {"cells": cells[s : s + batch_size]})[0]
            for s in range(0, len(cells), batch_size)
        ]
        logits = np.concatenate(out) if out else np.zeros((0, 1000), np.float32)
        return logits.reshape(*lead, -1)
