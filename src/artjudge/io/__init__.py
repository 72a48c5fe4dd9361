"""Input handling: load and validate images (``images``), expand paths (``paths``).

Everything that reaches a model passes through here first, so that a bad file fails with
one clear line naming it and the reason, and a good one arrives as 8-bit sRGB RGB.
"""

from __future__ import annotations

from artjudge.io.images import (
    DEFAULT_MAX_PIXELS,
    MAX_PIXELS_ENV,
    MIN_SIDE,
    ImageSource,
    ImageTooLarge,
    LoadedImage,
    NotAnImage,
    check_pixel_limit,
    image_size,
    load_image,
    resolve_max_pixels,
)
from artjudge.io.paths import IMAGE_EXTENSIONS, expand_inputs, is_image_name, iter_inputs

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS_ENV",
    "MIN_SIDE",
    "ImageSource",
    "ImageTooLarge",
    "LoadedImage",
    "NotAnImage",
    "check_pixel_limit",
    "expand_inputs",
    "image_size",
    "is_image_name",
    "iter_inputs",
    "load_image",
    "resolve_max_pixels",
]
