"""Checking uploaded bytes by their content: magic bytes and the image loader, never the file name."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from artjudge.errors import InputError

IMAGE_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
SUFFIX: dict[str, str] = {
    "JPEG": ".jpg",
    "PNG": ".png",
    "WEBP": ".webp",
    "GIF": ".gif",
    "BMP": ".bmp",
    "TIFF": ".tif",
}


class PayloadTooLarge(InputError):
    """An upload over the size or pixel limit (HTTP 413)."""


class UnsupportedMedia(InputError):
    """Bytes that are not a supported image or video, whatever their name says (HTTP 415)."""


@dataclass
class CheckedImage:
    data: bytes
    sha256: str
    format: str
    media_type: str
    width: int
    height: int

    @property
    def suffix(self) -> str:
        return SUFFIX[self.format]


def check_image(name: str, data: bytes, max_bytes: int, max_pixels: int) -> CheckedImage:
    """Accept only bytes that the one image loader decodes, in a supported format, within the limits.

    The decode is :func:`artjudge.io.load_image`'s, so an upload is refused for exactly the
    reasons (and with the words) a file on the command line would be; its two refusal types
    map to HTTP 413 (over the pixel limit) and 415 (not an image).
    """
    from artjudge.io.images import ImageTooLarge, NotAnImage, load_image

    if len(data) == 0:
        raise InputError(name, "empty upload (0 bytes)")
    if len(data) > max_bytes:
        raise PayloadTooLarge(name, f"{len(data)} bytes is over the upload limit of {max_bytes} bytes")
    try:
        loaded = load_image(data, name=name, max_pixels=max_pixels)
    except ImageTooLarge as err:
        raise PayloadTooLarge(err.source, err.reason) from None
    except NotAnImage as err:
        raise UnsupportedMedia(err.source, err.reason) from None
    fmt = loaded.format or ""
    if fmt not in IMAGE_FORMATS:
        raise UnsupportedMedia(
            name, f"{fmt or 'unknown'} content is not a supported image ({', '.join(IMAGE_FORMATS)})"
        )
    width, height = loaded.original_size
    return CheckedImage(
        data=data, sha256=loaded.sha256, format=fmt, media_type=IMAGE_FORMATS[fmt], width=width, height=height
    )


VIDEO_MAGIC: tuple[tuple[int, bytes], ...] = (
    (4, b"ftyp"),  # MP4 / MOV / M4V
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska / WebM
    (0, b"RIFF"),  # AVI
)


@dataclass
class StoredUpload:
    """An upload (or an allowed file) on disk with its content hash: what waits for a model, not its bytes."""

    name: str
    path: Path
    sha256: str
    size: int


CHUNK = 1 << 20


def spool_upload(name: str, src: BinaryIO, dest: Path, max_bytes: int, what: str = "upload") -> StoredUpload:
    """Copy an upload's (already spooled) file to ``dest`` in chunks, hashing it and enforcing ``max_bytes``.

    Runs in a worker thread: the copy and the hash never block the event loop, and memory
    holds one chunk whatever the upload's size.
    """
    h = hashlib.sha256()
    size = 0
    src.seek(0)
    with open(dest, "wb") as out:
        while chunk := src.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(name, f"over the {what} limit of {max_bytes} bytes")
            h.update(chunk)
            out.write(chunk)
    if size == 0:
        raise InputError(name, "empty upload (0 bytes)")
    return StoredUpload(name=name, path=dest, sha256=h.hexdigest(), size=size)


def hash_file(name: str, path: Path, max_bytes: int) -> StoredUpload:
    """A file inside an allowed folder, size-checked and hashed in chunks (for the cache lookup)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise PayloadTooLarge(name, f"{size} bytes is over the limit of {max_bytes} bytes")
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    if size == 0:
        raise InputError(name, "empty file (0 bytes)")
    return StoredUpload(name=name, path=path, sha256=h.hexdigest(), size=size)


def check_image_file(upload: StoredUpload, max_pixels: int) -> str:
    """Decode a stored upload with the one image loader (413/415 as :func:`check_image`); returns its suffix."""
    from artjudge.io.images import ImageTooLarge, NotAnImage, load_image

    try:
        loaded = load_image(upload.path, name=upload.name, max_pixels=max_pixels)
    except ImageTooLarge as err:
        raise PayloadTooLarge(err.source, err.reason) from None
    except NotAnImage as err:
        raise UnsupportedMedia(err.source, err.reason) from None
    fmt = loaded.format or ""
    if fmt not in IMAGE_FORMATS:
        raise UnsupportedMedia(
            upload.name, f"{fmt or 'unknown'} content is not a supported image ({', '.join(IMAGE_FORMATS)})"
        )
    return SUFFIX[fmt]


def image_suffix(path: Path, name: str) -> str:
    """The file suffix of an image by its header (no pixel decode); 415 for formats not served."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            fmt = im.format or ""
    except (UnidentifiedImageError, OSError):
        raise UnsupportedMedia(name, "content is not a supported image") from None
    if fmt not in SUFFIX:
        raise UnsupportedMedia(
            name, f"{fmt or 'unknown'} content is not a supported image ({', '.join(IMAGE_FORMATS)})"
        )
    return SUFFIX[fmt]


def check_video_file(upload: StoredUpload, max_seconds: float, max_frames: int) -> str:
    """Magic bytes, then the container header: duration and frame count refused before any decode.

    A 4-hour video of 32x32 frames is small in bytes but held the only process slot for
    99 s; its header already says how long it is. Messages name the upload, never a server path.
    """
    with open(upload.path, "rb") as fh:
        head = fh.read(16)
    suffix = None
    for offset, magic in VIDEO_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            suffix = {b"ftyp": ".mp4", b"\x1a\x45\xdf\xa3": ".webm", b"RIFF": ".avi"}[magic]
            break
    if suffix is None:
        raise UnsupportedMedia(upload.name, "content is not a supported video (MP4/MOV, WebM/MKV, AVI)")
    try:
        import av
    except ImportError:
        return suffix  # the process judge reports the missing extra itself
    try:
        container = av.open(str(upload.path))
    except Exception as err:  # PyAV raises its own error types; the message carries the server path
        raise UnsupportedMedia(upload.name, f"not a readable video ({type(err).__name__})") from None
    try:
        if not container.streams.video:
            raise UnsupportedMedia(upload.name, "the file holds no video stream")
        stream = container.streams.video[0]
        seconds = None
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / 1_000_000
        frames = int(stream.frames or 0)
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        if not frames and seconds is not None and rate:
            frames = int(seconds * rate)
    finally:
        container.close()
    if seconds is not None and seconds > max_seconds:
        raise PayloadTooLarge(
            upload.name, f"video is {seconds:.0f} s long, over the limit of {max_seconds:.0f} s"
        )
    if frames > max_frames:
        raise PayloadTooLarge(upload.name, f"video has {frames} frames, over the limit of {max_frames}")
    return suffix
