"""The network's input tensor from PIL images, in NumPy (no torch needed).

Both engines (PyTorch and ONNX Runtime) read exactly this array, so a score cannot move
because the preprocessing was written twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

# EfficientNet-Lite was trained on inputs scaled to [-1, 1].
MEAN = 0.5
STD = 0.5


def preprocess_array(images: Sequence[Image.Image], resolution: int) -> np.ndarray:
    """(B, 3, r, r) float32: each RGB image resized to one fixed square, scaled to [-1, 1].

    A fixed square (no crop) keeps the whole composition in view; ArtiMuse found one
    fixed, larger square better for aesthetics than tiling or cropping.
    """
    out = np.empty((len(images), 3, resolution, resolution), dtype=np.float32)
    for i, img in enumerate(images):
        if img.mode != "RGB":
            img = img.convert("RGB")
        resized = img.resize((resolution, resolution), Image.Resampling.BICUBIC, reducing_gap=3.0)
        # one pass from the 8-bit pixels into the batch, channels first (no stacked or transposed copies)
        out[i] = np.asarray(resized).transpose(2, 0, 1)
    # the same float32 operations in the same order as ever, in place: bit-identical inputs
    out /= np.float32(255.0)
    out -= np.float32(MEAN)
    out /= np.float32(STD)
    return out
