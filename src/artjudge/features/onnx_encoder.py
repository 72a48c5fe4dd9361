"""The multi-scale encoder run by ONNX Runtime: the default inference engine.

The graph is the same EfficientNet-Lite0 with the same five stage taps and head map as
:class:`artjudge.features.encoder.MultiScaleEncoder`, exported by ``scripts/export_onnx.py``
(outputs ``pooled`` and ``trunk``). ONNX Runtime runs it about five times faster than
PyTorch eager on a small CPU and needs no torch at all. The bytes handed in here have
already been checked against their SHA-256 (``artjudge.models.weights.read_verified``).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from artjudge.threads import ThreadPolicy, lane_policy, ort_session_options, policy_for


class OnnxEncoder:
    """Pooled multi-scale statistics (and the trunk map on request) from a verified ONNX graph."""

    engine = "onnx"

    def __init__(self, model_bytes: bytes, *, policy: ThreadPolicy | None = None) -> None:
        import onnxruntime as ort

        self.policy = policy or policy_for()
        self.session: Any = ort.InferenceSession(
            model_bytes, sess_options=ort_session_options(self.policy), providers=["CPUExecutionProvider"]
        )
        # Kept for the lane encoder, built on first use by a stream (13 MB; the graph is verified once).
        self._model_bytes = model_bytes if self.policy.compute > 1 else None
        self._lane: OnnxEncoder | None = self if self.policy.compute == 1 else None
        self._lane_lock = threading.Lock()
        self._input = self.session.get_inputs()[0].name
        names = {o.name for o in self.session.get_outputs()}
        missing = {"pooled", "trunk"} - names
        if missing:
            raise ValueError(
                f"encoder graph: outputs {sorted(missing)} missing (found {sorted(names)}); "
                "re-export it with scripts/export_onnx.py"
            )

    def encode_array(
        self, x: np.ndarray, *, keep_trunk: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(pooled (B, POOLED_DIM) float32, trunk (B, 192, r/32, r/32) or None) for a preprocessed batch."""
        feeds = {self._input: np.ascontiguousarray(x, dtype=np.float32)}
        if keep_trunk:
            pooled, trunk = self.session.run(["pooled", "trunk"], feeds)
            return pooled, trunk
        return self.session.run(["pooled"], feeds)[0], None

    def lane_encoder(self) -> OnnxEncoder:
        """The same graph in a session with one intra-op thread, shared by the pipeline lanes.

        ONNX Runtime runs concurrent ``run`` calls on one session safely; with one intra-op
        thread each runs on its caller's thread, so N lanes use N cores without a shared pool.
        """
        with self._lane_lock:
            if self._lane is None:
                assert self._model_bytes is not None
                self._lane = OnnxEncoder(self._model_bytes, policy=lane_policy(self.policy))
                self._model_bytes = None
            return self._lane

    def bare(self, x: np.ndarray) -> np.ndarray:
        """The graph's pooled output only: what the speed benchmark calls the ONNX ceiling."""
        return self.session.run(["pooled"], {self._input: x})[0]
