"""The scoring head run by ONNX Runtime: the shipped ensemble as one small graph.

``scripts/export_onnx.py`` exports :class:`artjudge.models.head.ScoringHead` (MLP ensemble
heads: standardisation, every member, the mixture of their distributions) with two kinds of
output: ``frozen`` (the standardised frozen features, what ``embed`` returns) and one
``logp_<target>`` (101 log-probabilities) per target. The graph sits beside ``head.pt`` as
``head.onnx`` with its ``head.onnx.sha256``; ``head.onnx.json`` names the ``head.pt`` digest
it was exported from, so a retrained checkpoint never runs a stale graph.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.errors import ModelNotAvailable
from artjudge.models.head_config import HeadConfig
from artjudge.models.weights import HEAD_ONNX, read_verified
from artjudge.threads import ThreadPolicy, ort_session_options, policy_for

#: Channels of the encoder's trunk map (Lite0 block 13's output), the input of a tune-top head.
TRUNK_CHANNELS = 192


def head_graph_usable(folder: Path, card: dict[str, Any]) -> bool:
    """Whether ``folder`` has a head graph exported from the ``head.pt`` its card names."""
    graph = folder / HEAD_ONNX
    meta = folder / (HEAD_ONNX + ".json")
    if not graph.is_file() or not meta.is_file():
        return False
    try:
        source = json.loads(meta.read_text()).get("source_sha256")
    except (OSError, ValueError):
        return False
    return bool(source) and source == card.get("sha256")


def exportable(config: HeadConfig) -> bool:
    """ONNX covers MLP-ensemble heads, tune-top ones too (closed-form heads stay torch)."""
    return not config.families


class OnnxHead:
    """Per-target probabilities and standardised features from a verified head graph."""

    engine = "onnx"

    def __init__(self, folder: Path, config: HeadConfig, *, policy: ThreadPolicy | None = None) -> None:
        import onnxruntime as ort

        self.config = config
        graph = folder / HEAD_ONNX
        self.session: Any = ort.InferenceSession(
            read_verified(graph),
            sess_options=ort_session_options(policy or policy_for()),
            providers=["CPUExecutionProvider"],
        )
        names = {o.name for o in self.session.get_outputs()}
        wanted = {"frozen", *(f"logp_{t}" for t in config.targets)}
        if not wanted <= names:
            raise ModelNotAvailable(
                f"{graph}: outputs {sorted(wanted - names)} missing; re-export it with scripts/export_onnx.py"
            )

    def _feeds(
        self, pooled: np.ndarray, handcrafted: np.ndarray, trunk: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        feeds = {"pooled": np.ascontiguousarray(pooled, dtype=np.float32)}
        if self.config.use_handcrafted:
            feeds["handcrafted"] = np.ascontiguousarray(handcrafted, dtype=np.float32)
        if self.config.tune_top:  # the tuned top reads the trunk map (1x1 zeros when only `frozen` is wanted)
            blank = np.zeros((len(pooled), TRUNK_CHANNELS, 1, 1))
            feeds["trunk"] = np.ascontiguousarray(trunk if trunk is not None else blank, dtype=np.float32)
        return feeds

    def probabilities(
        self, pooled: np.ndarray, handcrafted: np.ndarray, trunk: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Per-target (B, 101) float64 probabilities (softmax of the graph's log-probabilities)."""
        names = [f"logp_{t}" for t in self.config.targets]
        outs = self.session.run(names, self._feeds(pooled, handcrafted, trunk))
        return {t: softmax64(o) for t, o in zip(self.config.targets, outs, strict=True)}

    def frozen_input(self, pooled: np.ndarray, handcrafted: np.ndarray) -> np.ndarray:
        return np.asarray(self.session.run(["frozen"], self._feeds(pooled, handcrafted))[0])


def softmax64(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in float64, as the torch engine computes it."""
    x = np.asarray(logits, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
