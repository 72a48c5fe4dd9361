"""CLIPScore-style consistency from a CLIP or SigLIP folder the user already has.

``--consistency-model clip:PATH`` loads the folder with ``transformers`` (``AutoModel`` and
``AutoTokenizer``, ``local_files_only=True``: nothing is ever downloaded) and scores

    score = min(100, 100 * w * max(cos(image, text), 0)),  w = 2.5

the CLIPScore of Hessel et al. (2021) on 0-100 (their w = 2.5 stretches CLIP's typical
cosines, about 0.2-0.4, over the range). A reference image is scored the same way with
the image-image cosine and w = 1. It fills the same ``Consistency`` record as the offline
component: one ``clip`` element, checked, with the cosine as its evidence. The std is not
estimated (0): CLIPScore has no calibrated spread.

Pixels are prepared as the folder's ``preprocessor_config.json`` says (size, mean, std;
CLIP's defaults otherwise) with PIL and NumPy, so no torchvision is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.errors import ModelNotAvailable
from artjudge.models.weights import SEAL_FILE, folder_digest, versioned
from artjudge.record import Consistency, ConsistencyElement

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
W_TEXT = 2.5
W_IMAGE = 1.0


class ClipConsistency:
    """Prompt/reference consistency from a local CLIP-like model (same interface as the offline one)."""

    def __init__(self, path: str | Path) -> None:
        folder = Path(path).expanduser()
        if not (folder / "config.json").is_file():
            raise ModelNotAvailable(f"clip:{path}: no config.json there; give a local CLIP or SigLIP folder")
        try:
            from transformers import AutoModel, AutoTokenizer
        except ImportError as err:  # pragma: no cover - transformers is installed with the vlm extra
            raise ModelNotAvailable("clip: needs transformers (pip install 'artjudge[vlm]')") from err
        from artjudge.models.vlm.backbone import refuse_pickled_weights

        refuse_pickled_weights(folder, f"clip:{path}")
        # A sealed folder has every file checked before transformers reads any; its digest joins the version.
        digest = folder_digest(folder) if (folder / SEAL_FILE).is_file() else ""
        try:
            self.model: Any = AutoModel.from_pretrained(
                folder, local_files_only=True, use_safetensors=True
            ).eval()
        except (OSError, ValueError) as err:
            raise ModelNotAvailable(
                f"clip:{path}: cannot load the model ({str(err).splitlines()[0][:200]})"
            ) from None
        self.tokenizer: Any = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        if not hasattr(self.model, "get_image_features") or not hasattr(self.model, "get_text_features"):
            raise ModelNotAvailable(
                f"clip:{path}: {type(self.model).__name__} is not a CLIP-like image-text model"
            )
        pre = folder / "preprocessor_config.json"
        cfg = json.loads(pre.read_text()) if pre.is_file() else {}
        size: Any = cfg.get("crop_size") or cfg.get("size") or self.model.config.vision_config.image_size
        if isinstance(size, dict):
            size = (
                size.get("height") or size.get("shortest_edge") or self.model.config.vision_config.image_size
            )
        self.size = int(size)
        self.mean = np.array(cfg.get("image_mean", CLIP_MEAN), np.float32)
        self.std = np.array(cfg.get("image_std", CLIP_STD), np.float32)
        self.model_id = f"clip:{folder.name}"
        self.version = str(getattr(self.model.config, "_name_or_path", "") or folder.name)
        if digest:
            self.version = versioned(self.version, digest)

    def _pixels(self, image: Any) -> Any:
        import torch
        from PIL import Image

        img = image.convert("RGB").resize((self.size, self.size), Image.Resampling.BICUBIC)
        arr = (np.asarray(img, np.float32) / 255.0 - self.mean) / self.std
        return torch.from_numpy(arr).permute(2, 0, 1)[None]

    @staticmethod
    def _unit(x: Any) -> np.ndarray:
        t = x if not hasattr(x, "pooler_output") else x.pooler_output
        v = t.detach().float().numpy()[0]
        return v / (np.linalg.norm(v) + 1e-9)

    def image_embedding(self, image: Any) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self._unit(self.model.get_image_features(pixel_values=self._pixels(image)))

    def text_embedding(self, text: str) -> np.ndarray:
        import torch

        max_len = int(getattr(self.model.config.text_config, "max_position_embeddings", 77))
        tokens = self.tokenizer(
            [text],
            return_tensors="pt",
            truncation=True,
            max_length=max_len,
            padding="max_length" if "siglip" in type(self.model).__name__.lower() else True,
        )
        with torch.inference_mode():
            return self._unit(
                self.model.get_text_features(
                    input_ids=tokens["input_ids"], attention_mask=tokens.get("attention_mask")
                )
            )

    def _record(self, cos: float, w: float, **kw: Any) -> Consistency:
        score = float(min(100.0, 100.0 * w * max(cos, 0.0)))
        kind_of = "prompt" if kw.get("prompt") else "reference"
        return Consistency(
            score=round(score, 4),
            std=0.0,
            source="clip",
            model=self.model_id,
            **kw,
            elements=[
                ConsistencyElement(
                    kind_of,
                    "clip",
                    True,
                    round(max(cos, 0.0), 4),
                    f"CLIP cosine {cos:.3f} (score = 100 x {w} x max(cos, 0))",
                )
            ],
            components={"cosine": round(cos, 4)},
        )

    def assess_prompt(self, signals: Any, prompt: str) -> Consistency:
        if not prompt.strip():
            raise ValueError("prompt: empty; give the text the image was generated from")
        cos = float(self.image_embedding(signals.image) @ self.text_embedding(prompt))
        return self._record(cos, W_TEXT, prompt=prompt)

    def assess_reference(self, signals: Any, reference: Any, name: str = "") -> Consistency:
        cos = float(self.image_embedding(signals.image) @ self.image_embedding(reference.image))
        return self._record(cos, W_IMAGE, reference=name)
