"""Prompt sidecars: ``cat.png`` carries its prompt in ``cat.txt`` beside it.

Why this convention: folders written by text-to-image pipelines and caption tools (kohya /
LoRA training sets, most "save prompt" options) already keep one caption file per image
with the image's stem and ``.txt``, so such a folder gets per-image consistency with no
manifest to write. A manifest's ``prompt`` column is the other way in (docs/consistency.md).
"""

from __future__ import annotations

import os
import stat

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

    Raises :class:`InputError` naming the sidecar when it exists but cannot be used (a link
    out of the image's folder, not a regular file, unreadable, not UTF-8 text, over
    :data:`MAX_SIDECAR_BYTES`), so the row fails with the reason rather than being scored
    against a wrong or missing prompt. Why so strict: the text goes verbatim into records and
    tables, so ``ln -s /etc/passwd cat.txt`` must not publish the password file, and the
    limit is counted on the bytes read, not the size the file claims (``/proc`` files say 0).
    """
    path = sidecar_path(image_path)
    if path == image_path or not os.path.lexists(path):
        return None
    if os.path.isdir(path):
        return None
    data = read_text_file_limited(path, MAX_SIDECAR_BYTES, what="prompt sidecar")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "prompt sidecar is not UTF-8 text") from None
    if "\x00" in text:
        raise InputError(path, "prompt sidecar is not text (it holds NUL bytes)")
    text = " ".join(text.split())
    return text or None


def read_text_file_limited(path: str, limit: int, *, what: str) -> bytes:
    """At most ``limit`` bytes of the regular file ``path``, which must not lead out of its folder.

    The file's real path (links resolved) must lie in the real folder ``path`` names, and it
    is opened with ``O_NOFOLLOW`` (a link swapped in after the check is refused by the OS) and
    ``O_NONBLOCK`` (a FIFO cannot hang the run); over ``limit`` bytes read is an error.
    """
    folder = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    real = os.path.realpath(path)
    if os.path.dirname(real) != folder and not real.startswith(folder + os.sep):
        raise InputError(path, f"{what} is a link out of its folder: refusing to read it")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(real, flags)
    except OSError as err:
        raise InputError(path, f"cannot read the {what} ({err.strerror or err})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(path, f"{what} is not a regular file")
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            block = os.read(fd, limit + 1 - got)
            if not block:
                break
            chunks.append(block)
            got += len(block)
    except OSError as err:
        raise InputError(path, f"cannot read the {what} ({err.strerror or err})") from None
    finally:
        os.close(fd)
    if got > limit:
        raise InputError(path, f"{what} is over the limit of {limit} bytes")
    return b"".join(chunks)
