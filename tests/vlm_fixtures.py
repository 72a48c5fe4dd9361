"""Tiny VLMs for the tests: built once per test process by :mod:`artjudge.models.vlm.tiny`.

The builder lives in the package (``artjudge vlm-tiny OUT`` writes the same folder);
this module only caches the folders per process and makes small real test images.
"""

from __future__ import annotations

from pathlib import Path

from artjudge.models.vlm.tiny import FAMILIES, build_tiny_vlm, build_tokenizer

__all__ = ["FAMILIES", "build_tiny_vlm", "build_tokenizer", "tiny_vlm_dir", "write_images"]

_CACHE: dict[tuple[str, int], Path] = {}


def tiny_vlm_dir(family: str, image_size: int = 112) -> Path:
    """Build once per test process (shared by every test file), removed at exit."""
    import atexit
    import shutil
    import tempfile

    key = (family, image_size)
    if key not in _CACHE:
        root = Path(tempfile.mkdtemp(prefix=f"artjudge-tiny-{family}-"))
        atexit.register(shutil.rmtree, root, True)
        _CACHE[key] = build_tiny_vlm(family, root / family, image_size=image_size)
    return _CACHE[key]


def write_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    """Small real PNGs of different sizes and aspect ratios (smooth gradients plus noise)."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = int(rng.integers(40, 120)), int(rng.integers(40, 160))
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([xx / w, yy / h, np.full((h, w), (i % 5) / 4)], axis=-1) * 200
        img = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype("uint8")
        p = folder / f"img{i}.png"
        Image.fromarray(img).save(p)
        out.append(p)
    return out
