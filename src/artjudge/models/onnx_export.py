"""Export the encoder and a head checkpoint to ONNX graphs (needs torch and onnx; build time only).

``scripts/export_onnx.py`` calls these to make the graphs shipped in ``weights/``. The
export is deterministic for a given torch version (fixed opset, TorchScript exporter, fixed
example input), so rerunning it reproduces the shipped files byte for byte; their SHA-256
goes beside them as ``NAME.sha256``, checked on every load.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any, cast

from artjudge.models.weights import (
    _SCALE,
    ENCODER_ONNX,
    HEAD_ONNX,
    PROCESS_CLASSIFIER_ONNX,
    PROCESS_TOKENS_ONNX,
    load_checkpoint,
    load_weights_file,
    write_verified,
)

OPSET = 17


def _to_bytes(
    module: Any,
    args: tuple[Any, ...],
    inputs: list[str],
    outputs: list[str],
    dynamic: dict[str, dict[int, str]],
    *,
    fold: bool = True,
) -> bytes:
    import torch

    buf = io.BytesIO()
    # The TorchScript exporter is deprecated but deterministic; its warnings are about that.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            args,
            cast(Any, buf),  # a file object is accepted; the stubs name paths only
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=fold,
            dynamo=False,
        )
    return buf.getvalue()


def export_encoder(path: Path = ENCODER_ONNX) -> str:
    """The multi-scale encoder (outputs ``pooled`` and ``trunk``) to ``path``; returns its SHA-256."""
    import torch

    from artjudge.features.encoder import MultiScaleEncoder

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc = MultiScaleEncoder()

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.enc(x)
            return out.pooled, out.trunk

    torch.manual_seed(0)
    example = torch.zeros(1, 3, 384, 384)
    data = _to_bytes(
        _Graph(),
        (example,),
        ["image"],
        ["pooled", "trunk"],
        {
            "image": {0: "batch", 2: "height", 3: "width"},
            "pooled": {0: "batch"},
            "trunk": {0: "batch", 2: "th", 3: "tw"},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_verified(path, data)


def export_process_encoder(
    tokens_path: Path = PROCESS_TOKENS_ONNX, classifier_path: Path = PROCESS_CLASSIFIER_ONNX
) -> tuple[str, str]:
    """The process judge's frame encoder (128 px, 4 x 4 grid) and its Lite0 classifier; their SHA-256."""
    import torch

    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.onnx_encoder import ONNX_GRID, ONNX_RESOLUTION

    enc = PatchEncoder(resolution=ONNX_RESOLUTION, grid=ONNX_GRID)

    class _Tokens(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = enc.net

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return enc.tokens_of(x, fixed_size=True)

    class _Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = enc.net

        def forward(self, cells: torch.Tensor) -> torch.Tensor:
            return enc.logits_of_cells(cells)

    torch.manual_seed(0)
    frames = torch.zeros(1, 3, ONNX_RESOLUTION, ONNX_RESOLUTION)
    tokens = _to_bytes(
        _Tokens(), (frames,), ["frames"], ["tokens"], {"frames": {0: "batch"}, "tokens": {0: "batch"}}
    )
    classifier = _to_bytes(
        _Classifier(),
        (torch.zeros(2, ONNX_GRID * ONNX_GRID, 320),),
        ["cells"],
        ["logits"],
        {"cells": {0: "batch", 1: "cells"}, "logits": {0: "batch"}},
    )
    tokens_path.parent.mkdir(parents=True, exist_ok=True)
    return write_verified(tokens_path, tokens), write_verified(classifier_path, classifier)


def _keep_int8(head: Any, compact: dict[str, Any]) -> None:
    """Swap each Linear whose weight ``head.pt`` stores as int8 for one that expands it in the graph.

    The graph then computes ``int8 * row scale`` in float32 exactly as ``expand_state`` does.
    """
    import torch

    class _Int8Linear(torch.nn.Module):
        def __init__(self, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> None:
            super().__init__()
            self.register_buffer("q", q)
            self.register_buffer("scale", scale)
            self.bias = None if bias is None else torch.nn.Parameter(bias.detach().clone())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, scale = cast(torch.Tensor, self.q), cast(torch.Tensor, self.scale)
            return torch.nn.functional.linear(x, q.float() * scale, self.bias)

    for name, module in list(head.named_modules()):
        key = f"{name}.weight"
        if isinstance(module, torch.nn.Linear) and key + _SCALE in compact:
            parent_name, _, child = name.rpartition(".")
            parent = head.get_submodule(parent_name) if parent_name else head
            setattr(parent, child, _Int8Linear(compact[key], compact[key + _SCALE].float(), module.bias))


def export_head(folder: Path) -> str:
    """``folder/head.onnx`` from ``folder/head.pt`` (MLP-ensemble heads); returns its SHA-256."""
    import torch

    from artjudge.features.encoder import POOLED_DIM
    from artjudge.features.handcrafted import HANDCRAFTED_NAMES
    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.models.head_onnx import TRUNK_CHANNELS, exportable

    state, card = load_checkpoint(folder)
    config = HeadConfig(**card["config"]["head"])
    if not exportable(config):
        raise ValueError(f"{folder}: closed-form heads have no ONNX export; they run on torch")
    head = ScoringHead(config)
    head.load_state_dict(state)
    head.eval()
    _keep_int8(head, load_weights_file(folder / "head.pt", card_sha256=str(card.get("sha256") or "")))
    targets = list(config.targets)

    class _Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = head

        def forward(self, pooled: torch.Tensor, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
            handcrafted = rest[0] if config.use_handcrafted else None
            trunk = rest[-1] if config.tune_top else None  # a tune-top head re-runs the tuned top on it
            logp = self.head(pooled, handcrafted, trunk)
            return (self.head.frozen_input(pooled, handcrafted), *(logp[t] for t in targets))

    n_hand = len(HANDCRAFTED_NAMES)
    inputs = ["pooled", "handcrafted"] if config.use_handcrafted else ["pooled"]
    args: tuple[Any, ...] = (torch.zeros(2, POOLED_DIM),) + (
        (torch.zeros(2, n_hand),) if config.use_handcrafted else ()
    )
    if config.tune_top:
        inputs.append("trunk")
        args += (torch.zeros(2, TRUNK_CHANNELS, config.resolution // 32, config.resolution // 32),)
    outputs = ["frozen", *(f"logp_{t}" for t in targets)]
    dynamic = {name: {0: "batch"} for name in inputs + outputs}
    if config.tune_top:
        dynamic["trunk"] = {0: "batch", 2: "th", 3: "tw"}
    # No constant folding: the int8 matrices stay int8 in the file (ONNX Runtime expands them
    # once when the session is made), so the graph is as small as head.pt.
    data = _to_bytes(_Graph(), args, inputs, outputs, dynamic, fold=False)
    digest = write_verified(folder / HEAD_ONNX, data)
    meta = {"source_sha256": card.get("sha256"), "opset": OPSET, "torch": torch.__version__, "sha256": digest}
    from artjudge.io.files import atomic_write_json

    atomic_write_json(folder / (HEAD_ONNX + ".json"), meta, indent=2)
    from artjudge.models.weights import seal_folder

    seal_folder(folder)  # the graph changes the folder's outputs: its seal (and version) follow
    return digest
