"""Prompt sidecars: ``cat.png`` carries its prompt in ``cat.txt`` beside it.

Why this convention: folders written by text-to-image pipelines and caption tools (kohya /
LoRA training sets, most "save prompt" options) already keep one caption file per image
with the image's stem and ``.txt``, so such a folder gets per-image consistency with no
manifest to write. A manifest's ``prompt`` column is the other way in (docs/consistency.md).
"""

from __future__ import annotations

import os

from artjudge.errors import InputError

#: The sidecar's extension: ``IMAGE_STEM.txt`` in the image's folder.
PROMPT_SIDECAR_SUFFIX = ".txt"

#: Larger sidecars are refused: a prompt is a sentence or two, a bigger file is something else.
MAX_SIDECAR_BYTES = 8192


def sidecar_path(image_path: str) -> str:
    """Where ``image_path``'s prompt sidecar would be (``a/cat.png`` -> ``a/cat.txt``)."""
    return os.path.splitext(image_path)[0] + PROMPT_SIDECAR_SUFFIX


def read_prompt_sidecar(image_path: str) -> str | None:
    """The prompt in ``image_path``'s sidecar; None when there is none or it is blank.

    Raises :class:`InputError` naming the sidecar when it exists but cannot be used
    (unreadable, not UTF-8, over :data:`MAX_SIDECAR_BYTES`), so the row fails with the reason
    rather than being scored against a wrong or missing prompt.
    """
    path = sidecar_path(image_path)
    if path == image_path or not os.path.isfile(path):
        return None
    try:
        size = os.path.getsize(path)
        if size > MAX_SIDECAR_BYTES:
            raise InputError(path, f"prompt sidecar is {size} bytes, over the limit of {MAX_SIDECAR_BYTES}")
        with open(path, "rb") as fh:
            data = fh.read(MAX_SIDECAR_BYTES + 1)
    except OSError as err:
        raise InputError(path, f"cannot read the prompt sidecar ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "prompt sidecar is not UTF-8 text") from None
    text = " ".join(text.split())
    return text or None
