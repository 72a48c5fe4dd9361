"""Paint the example image shipped in examples/ (our own, procedurally generated).

    python scripts/make_example.py   # writes examples/sunset.jpg

A small landscape: a graded sky, a sun on a rule-of-thirds point, layered hills and a
textured foreground, so the score, the evidence and the critique all have something to
say. Seeded, so the file is reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "examples" / "sunset.jpg"


def paint(width: int = 640, height: int = 448, seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 1, height)[:, None, None]
    top, horizon = np.array([38, 52, 110]), np.array([250, 160, 90])
    sky = (top * (1 - y) + horizon * y) * np.ones((1, width, 1))
    img = Image.fromarray(sky.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    sx, sy, r = int(width * 2 / 3), int(height / 3), 34
    for k in range(6, 0, -1):  # a soft halo, then the sun
        a = k * 9
        draw.ellipse([sx - r - a, sy - r - a, sx + r + a, sy + r + a], fill=(255, 190 - 6 * k, 120 - 8 * k))
    draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 236, 180))
    for layer, (colour, base) in enumerate(
        [((120, 70, 90), 0.58), ((80, 50, 70), 0.68), ((40, 32, 48), 0.8)]
    ):
        xs = np.arange(width + 1)
        ridge = (
            base * height
            + 22 * np.sin(xs / (90 - 15 * layer) + layer)
            + rng.normal(0, 2, xs.size).cumsum() * 0.4
        )
        poly = (
            [(0, height)]
            + [(int(x), int(v)) for x, v in zip(xs[::8], ridge[::8], strict=True)]
            + [(width, height)]
        )
        draw.polygon(poly, fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(0.8))
    arr = np.asarray(img).astype(np.float32)
    grain = rng.normal(0, 4, arr.shape[:2])[..., None]
    mask = (np.arange(height) > 0.8 * height)[:, None, None]
    arr = np.clip(arr + grain * mask, 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


if __name__ == "__main__":
    OUT.parent.mkdir(parents=True, exist_ok=True)
    paint().save(OUT, quality=90)
    print(f"wrote {OUT}")
