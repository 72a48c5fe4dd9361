"""The head's shape, without torch: what a checkpoint's card says and both engines read.

Kept apart from :mod:`artjudge.models.head` (the PyTorch module) so that scoring with ONNX
Runtime can read a checkpoint's configuration without importing torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

N_BINS = 101
CLOSED_FAMILIES: tuple[str, ...] = ("ridge", "kernel")


@dataclass
class HeadConfig:
    """Shape of the head; saved inside every checkpoint so loading needs no guesswork."""

    resolution: int = 384
    hidden: int = 256
    dropout: float = 0.5
    tune_top: bool = False
    targets: list[str] = field(default_factory=lambda: ["overall"])
    use_handcrafted: bool = True
    members: int = 8
    # Closed-form heads (small-data training, artjudge.train.small): target -> "ridge" or
    # "kernel"; every other target is read by the MLP ensemble. ``n_anchors`` is the number of
    # standardised training rows kept for kernel heads and for the distance-based uncertainty.
    families: dict[str, str] = field(default_factory=dict)
    n_anchors: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
