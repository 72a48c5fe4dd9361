"""Load one image into a clean 8-bit sRGB ``PIL.Image`` or reject it with one clear reason.

Every scorer sees the same kind of picture whatever arrived: EXIF rotation applied (people
judge the photo the right way up), colour managed to sRGB, alpha composited on white,
deep and odd modes reduced to 8-bit RGB, the first frame of an animation. What was done is
written into ``LoadedImage.notes`` so that a report can say so instead of hiding it.

Files are read into memory in one go and decoded from there: no file handle outlives the
call, and the SHA-256 of the exact bytes comes for free (the feature cache keys on it).
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import numpy as np
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError

from artjudge.errors import ArtjudgeError, InputError

#: Default pixel limit (width x height). Big enough for a 50-megapixel camera or a large
#: scan, small enough that one image cannot take gigabytes of memory when decoded.
DEFAULT_MAX_PIXELS: Final[int] = 64_000_000
#: Environment variable that overrides :data:`DEFAULT_MAX_PIXELS` (an integer, e.g. ``200000000``).
MAX_PIXELS_ENV: Final[str] = "ARTJUDGE_MAX_PIXELS"
#: Smallest accepted side in pixels: below this there is nothing to judge (icons, tracking pixels).
MIN_SIDE: Final[int] = 16

_ORIENTATION_TAG: Final[int] = 0x0112
_UPLOAD_LABEL: Final[str] = "<upload>"
_MEMORY_LABEL: Final[str] = "<image>"
_ARRAY_LABEL: Final[str] = "<array>"
_ALPHA_MODES: Final[frozenset[str]] = frozenset({"RGBA", "LA", "La", "RGBa"})

#: Everything :func:`load_image` accepts: a path, raw file bytes, a PIL image or an HxW(xC) array.
ImageSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | Image.Image | np.ndarray


class ImageTooLarge(InputError):
    """Over the pixel limit, or a file too big for it (the service answers HTTP 413)."""


class NotAnImage(InputError):
    """Bytes that no image decoder recognises, whatever their name (the service answers HTTP 415)."""


@dataclass
class LoadedImage:
    """A decoded image ready for scoring, plus what was done to get there."""

    image: Image.Image
    sha256: str
    source: str
    original_mode: str
    original_size: tuple[int, int]
    notes: list[str] = field(default_factory=list)
    format: str | None = None
    n_frames: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """Size of the image as scored (after EXIF rotation)."""
        return self.image.size


def resolve_max_pixels(max_pixels: int | None = None) -> int:
    """The pixel limit in force: the argument, else ``$ARTJUDGE_MAX_PIXELS``, else the default."""
    if max_pixels is not None:
        value = int(max_pixels)
        origin = "max_pixels"
    else:
        raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
        if not raw:
            return DEFAULT_MAX_PIXELS
        origin = MAX_PIXELS_ENV
        try:
            value = int(float(raw.replace("_", "")))
        except ValueError:
            raise ArtjudgeError(
                f"{MAX_PIXELS_ENV}={raw!r}: not a number of pixels (e.g. 100000000)"
            ) from None
    if value < MIN_SIDE * MIN_SIDE:
        raise ArtjudgeError(f"{origin}={value}: the pixel limit must be at least {MIN_SIDE * MIN_SIDE}")
    return value


def load_image(
    source: ImageSource,
    *,
    name: str | None = None,
    what: str | None = None,
    max_pixels: int | None = None,
    keep_alpha: bool = False,
    target_size: tuple[int, int] | None = None,
) -> LoadedImage:
    """Decode ``source`` (a path, raw file bytes, a PIL image or an array) to 8-bit sRGB RGB.

    This is the only place artjudge decodes a still image from user input, so every entry
    point (scorers, VLM, process judge, key frames, critique, service) applies the same
    limits, EXIF rotation, colour management and mode handling.

    ``name`` labels bytes, in-memory images and arrays in messages and records (default
    ``<upload>`` / ``<image>`` / ``<array>``); for paths it overrides the path shown.
    ``what`` says what role the image plays (``"reference"``, ``"frame"``): errors then read
    ``"reference ref.png: file not found"``. ``keep_alpha=True`` returns images that carry
    transparency as RGBA (colour-managed and rotated, not composited on white) for callers
    that measure transparency; images without it still come back as RGB. Raises
    :class:`artjudge.errors.InputError` (:class:`ImageTooLarge`, :class:`NotAnImage` for those
    two cases) with one reason for anything that cannot be scored.

    ``target_size=(short, long)`` lets a JPEG much larger than every consumer needs be decoded
    at a reduced size (libjpeg's DCT scaling, 1/2 to 1/8, via ``Image.draft``) as long as its
    shorter side stays >= ``short`` and its longer side >= ``long``; the record's notes say so.
    A scorer sets it to its largest analysis size, so the pixels it never looks at are never
    decoded; callers that need full resolution leave it None.
    """
    try:
        return _load(source, name, what, resolve_max_pixels(max_pixels), keep_alpha, target_size)
    except InputError as err:
        if what is None:
            raise
        raise type(err)(f"{what} {err.source}", err.reason) from None


def _load(
    source: ImageSource,
    name: str | None,
    what: str | None,
    limit: int,
    keep_alpha: bool,
    target_size: tuple[int, int] | None = None,
) -> LoadedImage:
    if isinstance(source, Image.Image):
        return _load_pil(source, name or _MEMORY_LABEL, limit, keep_alpha)
    if isinstance(source, np.ndarray):
        label = name or _ARRAY_LABEL
        return _load_pil(_from_array(source, label), label, limit, keep_alpha)
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or _UPLOAD_LABEL
        data = bytes(source)
        if not data:
            raise InputError(label, "empty upload (0 bytes)")
        return _decode(data, label, limit, keep_alpha, target_size)
    path = os.fspath(source)
    label = name or str(path)
    data = _read_file(path, label, limit, dir_hint=what is None)
    return _decode(data, label, limit, keep_alpha, target_size)


def image_size(
    path: str | os.PathLike[str], *, what: str | None = None, max_pixels: int | None = None
) -> tuple[int, int]:
    """Size of an image file as :func:`load_image` would return it, without decoding pixels.

    For callers that must know the sizes of many files before decoding a few (key frames of
    a folder). The file checks, the header checks, EXIF rotation and the pixel limit are the
    loader's, with its messages; only corrupt pixel data is left for :func:`load_image`.
    """
    try:
        limit = resolve_max_pixels(max_pixels)
        label = str(os.fspath(path))
        data = _read_file(label, label, limit, dir_hint=what is None)
        im = _open(data, label, limit)
        try:
            _check_size(im.size, label, limit)
            w, h = im.size
            return (h, w) if _orientation(im) in (5, 6, 7, 8) else (w, h)
        finally:
            im.close()
    except InputError as err:
        if what is None:
            raise
        raise type(err)(f"{what} {err.source}", err.reason) from None


def check_pixel_limit(size: tuple[int, int], label: str, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageTooLarge` when ``size`` (width, height) is over the pixel limit.

    Decoders outside Pillow (video frames from PyAV) call this so that they refuse what
    :func:`load_image` refuses, with the same message.
    """
    limit = resolve_max_pixels(max_pixels)
    w, h = size
    if w * h > limit:
        raise ImageTooLarge(
            label,
            f"image is {w}x{h} = {_mp(w * h)}, over the limit of {_mp(limit)} "
            f"(decompression bomb guard; raise it with max_pixels= or {MAX_PIXELS_ENV})",
        )


def _from_array(arr: np.ndarray, label: str) -> Image.Image:
    """An HxW, HxWx1, HxWx3 or HxWx4 array of 0-255 values as a PIL image (never a silent cast)."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise InputError(label, f"image array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.dtype.kind not in "biuf" or arr.size == 0:
            raise InputError(label, f"image array of dtype {arr.dtype} is not supported; give uint8 0-255")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < 0 or hi > 255 or not np.array_equal(arr, np.round(arr)):
            raise InputError(
                label, f"image array of dtype {arr.dtype} holds values {lo:g}..{hi:g}; give uint8 0-255"
            )
        arr = arr.astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr))


# --------------------------------------------------------------------------- reading


def _read_file(path: str, label: str, limit: int, *, dir_hint: bool = True) -> bytes:
    """Read the whole file, turning every OS-level failure into one clear reason."""
    if not path:
        raise InputError(label or "''", "empty path")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(label, "file not found") from None
    except PermissionError:
        raise InputError(label, "permission denied") from None
    except OSError as e:
        raise InputError(label, f"cannot access file ({e.strerror or e})") from None
    if os.path.isdir(path):
        hint = " (pass it to the CLI to score the images inside)" if dir_hint else ""
        raise InputError(label, f"is a directory, not an image file{hint}")
    if st.st_size == 0:
        raise InputError(label, "empty file (0 bytes)")
    # A compressed image is rarely bigger than 8 bytes per pixel (16-bit RGBA, uncompressed):
    # anything past that cannot decode within the pixel limit, so don't read gigabytes for nothing.
    max_bytes = limit * 8 + 64 * 2**20
    if st.st_size > max_bytes:
        raise ImageTooLarge(
            label,
            f"file too large ({st.st_size / 2**20:.0f} MiB) for the pixel limit of {_mp(limit)} "
            f"(raise it with max_pixels= or {MAX_PIXELS_ENV})",
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except PermissionError:
        raise InputError(label, "permission denied") from None
    except OSError as e:
        raise InputError(label, f"cannot read file ({e.strerror or e})") from None
    if not data:
        raise InputError(label, "empty file (0 bytes)")
    return data


def sniff(data: bytes) -> tuple[str, str | None] | None:
    """A cheap guess at what unreadable bytes are: ``(kind, hint)`` for the error message, or None."""
    head = data[:512]
    low = head.lstrip().lower()
    if head.startswith(b"%PDF"):
        return "PDF", None
    if head.startswith(b"PK\x03\x04"):
        return "ZIP archive", None
    if head.startswith(b"\x1f\x8b"):
        return "gzip archive", None
    if head.startswith(b"\x1aE\xdf\xa3"):
        return "Matroska/WebM video", None
    if len(head) >= 12 and head[4:8] == b"ftyp":
        if head[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "HEIC/HEIF", "not supported here; convert it to JPEG or PNG"
        return "MP4/MOV video", None
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI video", None
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3"):
        return "MP3 audio", None
    if low.startswith(b"<svg") or (low.startswith(b"<?xml") and b"<svg" in low):
        return "SVG", "vector images are not supported; rasterise it to PNG first"
    if low.startswith((b"<!doctype html", b"<html")):
        return "HTML", None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:  # the 512-byte cut may split a multi-byte character
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if text and printable >= 0.95 * len(text):
        return ("JSON" if low.startswith((b"{", b"[")) else "text"), None
    return None


def _magic_format(data: bytes) -> str | None:
    """The image format a file's first bytes announce, for messages about broken headers."""
    for magic, fmt in (
        (b"\xff\xd8\xff", "JPEG"),
        (b"\x89PNG", "PNG"),
        (b"GIF8", "GIF"),
        (b"BM", "BMP"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
    ):
        if data.startswith(magic):
            return fmt
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WebP"
    return None


# --------------------------------------------------------------------------- decoding


def _open(data: bytes, label: str, limit: int) -> Image.Image:
    """Pillow's lazy open (header only), every failure turned into the loader's one reason."""
    _allow_limit_in_pillow(limit)
    try:
        with warnings.catch_warnings():
            # We apply our own (configurable) limit right below; PIL's warning is noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(label, _bomb_reason(e, limit)) from None
    except UnidentifiedImageError:
        what = sniff(data)
        if what is None:
            fmt = _magic_format(data)
            reason = (
                f"corrupt {fmt} file (header unreadable)" if fmt else "not an image (unrecognised format)"
            )
        else:
            kind, hint = what
            reason = f"not an image (looks like {kind})" if hint is None else f"{kind} file: {hint}"
        raise NotAnImage(label, reason) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        fmt = _magic_format(data) or "image"
        if "truncat" in str(e).lower() or isinstance(e, EOFError):
            raise InputError(label, f"truncated {fmt} file: it ends inside the header") from None
        raise InputError(label, f"corrupt {fmt} header ({e})") from None
    return im


def draft_request(size: tuple[int, int], target_size: tuple[int, int]) -> tuple[int, int] | None:
    """The size to ask ``Image.draft`` for so both sides stay at or above ``target_size``, or None.

    None when the image is not at least twice the target (no DCT scale would apply).
    """
    w, h = size
    short, long_ = target_size
    scale = max(short / max(1, min(w, h)), long_ / max(1, max(w, h)))
    if scale > 0.5:
        return None
    return (max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale)))


def _draft(im: Image.Image, target_size: tuple[int, int], notes: list[str]) -> None:
    """Ask libjpeg for a reduced decode (before any pixel is read) and note it."""
    request = draft_request(im.size, target_size)
    if request is None:
        return
    before = im.size
    im.draft(im.mode, request)
    if im.size != before:
        notes.append(
            f"JPEG decoded at reduced size {im.size[0]}x{im.size[1]} (of {before[0]}x{before[1]}; "
            f"the scorer reads at most {target_size[0]} px short side / {target_size[1]} px long side)"
        )


def _decode(
    data: bytes, label: str, limit: int, keep_alpha: bool = False, target_size: tuple[int, int] | None = None
) -> LoadedImage:
    # The bytes were read once (``_read_file``); the digest is taken from that same buffer.
    digest = hashlib.sha256(data).hexdigest()
    im = _open(data, label, limit)
    try:
        notes: list[str] = []
        _check_size(im.size, label, limit)
        n_frames = int(getattr(im, "n_frames", 1) or 1)
        fmt = im.format
        original_mode, original_size = im.mode, im.size
        if target_size is not None and fmt == "JPEG":
            _draft(im, target_size, notes)
        _load_fully(im, label, fmt, limit)
        if fmt == "PNG" and _png_bit_depth(data) == 16 and im.mode in ("RGB", "RGBA"):
            # Pillow has no 16-bit colour modes; it keeps the high byte, which is the correct 8-bit value.
            notes.append("16-bit PNG reduced to 8-bit")
        rgb = _to_rgb(im, label, notes, fmt, n_frames, keep_alpha)
        if rgb is im:  # nothing to convert: detach the pixels from the (about to close) file object
            rgb = im.copy()
    finally:
        im.close()
    return LoadedImage(
        image=rgb,
        sha256=digest,
        source=label,
        original_mode=original_mode,
        original_size=original_size,
        notes=notes,
        format=fmt,
        n_frames=n_frames,
    )


def pixel_sha256(im: Image.Image) -> str:
    """The content hash of an image already in memory: its mode, size and pixels (the one pixel hash)."""
    h = hashlib.sha256(f"{im.mode} {im.size[0]}x{im.size[1]}\n".encode())
    h.update(im.tobytes())
    return h.hexdigest()


def _load_pil(im: Image.Image, label: str, limit: int, keep_alpha: bool = False) -> LoadedImage:
    """An image already in memory: same checks and conversions, the caller's object untouched."""
    _check_size(im.size, label, limit)
    fmt = im.format
    n_frames = int(getattr(im, "n_frames", 1) or 1)
    _load_fully(im, label, fmt, limit)
    digest = pixel_sha256(im)
    notes: list[str] = []
    rgb = _to_rgb(im.copy(), label, notes, fmt, n_frames, keep_alpha)
    return LoadedImage(
        image=rgb,
        sha256=digest,
        source=label,
        original_mode=im.mode,
        original_size=im.size,
        notes=notes,
        format=fmt,
        n_frames=n_frames,
    )


def _allow_limit_in_pillow(limit: int) -> None:
    """Let Pillow's own bomb guard sit at or above ours, so a raised limit actually works.

    Pillow refuses images over ``2 * Image.MAX_IMAGE_PIXELS`` before we see their size.
    We only ever raise that global (to the limit the user asked for), never lower it.
    """
    current = Image.MAX_IMAGE_PIXELS
    if current is not None and limit > current:
        Image.MAX_IMAGE_PIXELS = limit


def _bomb_reason(err: Exception, limit: int) -> str:
    """Pillow's own refusal, reworded to match ours (Pillow stops at twice its limit, >= ours)."""
    m = re.search(r"\((\d+) pixels\)", str(err))
    claimed = f"claims {_mp(int(m.group(1)))}" if m else "is too large"
    return (
        f"image {claimed}, over the limit of {_mp(limit)} "
        f"(decompression bomb guard; raise it with max_pixels= or {MAX_PIXELS_ENV})"
    )


def _check_size(size: tuple[int, int], label: str, limit: int) -> None:
    check_pixel_limit(size, label, limit)
    w, h = size
    if min(w, h) < MIN_SIDE:
        raise InputError(
            label, f"image is {w}x{h} pixels, too small to assess (each side must be >= {MIN_SIDE} px)"
        )


def _load_fully(im: Image.Image, label: str, fmt: str | None, limit: int) -> None:
    """Decode every pixel now, so a truncated or corrupt file fails here and not in a model."""
    kind = f"{fmt} " if fmt else ""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched on Pillow's "pad truncated files with grey"; we would score grey.
        warnings.warn(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is True: truncated images will not be detected",
            RuntimeWarning,
            stacklevel=3,
        )
    try:
        im.load()
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(label, _bomb_reason(e, limit)) from None
    except (OSError, SyntaxError, EOFError) as e:
        msg = str(e)
        if "truncated" in msg or isinstance(e, EOFError) or "broken data stream" in msg:
            raise InputError(
                label, f"truncated {kind}file: image data ends early ({msg or 'unexpected end of file'})"
            ) from None
        raise InputError(label, f"corrupt {kind}image data ({msg})") from None
    except (ValueError, MemoryError, Image.DecompressionBombWarning) as e:
        raise InputError(label, f"cannot decode {kind}image ({e})") from None


def _png_bit_depth(data: bytes) -> int | None:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) > 24:
        return data[24]
    return None


def _to_rgb(
    im: Image.Image, label: str, notes: list[str], fmt: str | None, n_frames: int, keep_alpha: bool = False
) -> Image.Image:
    """Bring a loaded first frame to 8-bit sRGB RGB (RGBA with ``keep_alpha``), noting each change."""
    fate = "kept as alpha" if keep_alpha else "composited on white"
    if n_frames > 1:
        kind = {
            "GIF": "animated GIF",
            "WEBP": "animated WebP",
            "PNG": "animated PNG",
            "MPO": "multi-picture JPEG",
            "TIFF": "multi-page TIFF",
        }.get(fmt or "", f"multi-frame {fmt or 'image'}")
        unit = "pages" if fmt == "TIFF" else "pictures" if fmt == "MPO" else "frames"
        notes.append(f"{kind}: first of {n_frames} {unit} scored")

    orientation = _orientation(im)
    if orientation in range(2, 9):
        im = ImageOps.exif_transpose(im) or im
        notes.append(f"rotated per EXIF orientation {orientation}")

    icc = im.info.get("icc_profile")
    mode = im.mode
    alpha_noted = False
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = _deep_gray_to_l(im, notes)
    elif mode == "1":
        im = im.convert("L")
        notes.append("1-bit image expanded to RGB")
    elif mode in ("P", "PA"):
        has_alpha = (
            mode == "PA"
            or "transparency" in im.info
            or (im.palette is not None and im.palette.mode == "RGBA")
        )
        im = im.convert("RGBA" if has_alpha else "RGB")
        if has_alpha:
            notes.append(f"palette with transparency {fate}")
            alpha_noted = True
    elif mode in ("L", "RGB") and "transparency" in im.info:
        im = im.convert("LA" if mode == "L" else "RGBA")
        notes.append(f"transparent colour key {fate}")
        alpha_noted = True

    if icc and im.mode in ("RGB", "RGBA", "CMYK", "L"):
        im = _icc_to_srgb(im, icc, notes)

    if im.mode == "CMYK":
        im = im.convert("RGB")
        notes.append("converted from CMYK")
    elif im.mode in _ALPHA_MODES and keep_alpha:
        im = im.convert("RGBA")
    elif im.mode in _ALPHA_MODES:
        im = _composite_on_white(im, notes, already_noted=alpha_noted)
    if im.mode == "L":
        im = im.convert("RGB")
    elif im.mode != "RGB" and not (keep_alpha and im.mode == "RGBA"):
        before = im.mode
        try:
            im = im.convert("RGB")
        except ValueError as e:
            raise InputError(label, f"unsupported colour mode {before} ({e})") from None
        notes.append(f"converted from {before}")
    if mode in _GRAY_MODES:
        notes.append("grayscale expanded to RGB")
    return im


_GRAY_MODES: Final[frozenset[str]] = frozenset({"L", "LA", "La", "I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except (ValueError, TypeError, OSError, SyntaxError):
        return 1  # unreadable EXIF: score as stored rather than reject the image


def _deep_gray_to_l(im: Image.Image, notes: list[str]) -> Image.Image:
    """16/32-bit integer and float grayscale to 8-bit by scaling, never by clipping."""
    mode = im.mode
    a = np.asarray(im).astype(np.float64)
    if mode.startswith("I;16"):
        out = a / 257.0
        notes.append("16-bit grayscale reduced to 8-bit")
    else:
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if mode == "F" and lo >= 0.0 and hi <= 1.0:
            out = a * 255.0
            notes.append("float grayscale (0-1) scaled to 8-bit")
        elif lo >= 0.0 and hi <= 255.0:
            out = a
            notes.append(f"{mode}-mode grayscale (8-bit range) converted to 8-bit")
        elif lo >= 0.0 and hi <= 65535.0:
            out = a / 257.0
            notes.append("16-bit grayscale reduced to 8-bit")
        else:
            out = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
            notes.append(f"{mode}-mode grayscale range {lo:g}..{hi:g} stretched to 8-bit")
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="L")


_SRGB: ImageCms.ImageCmsProfile | None = None


def _srgb() -> ImageCms.ImageCmsProfile:
    global _SRGB
    if _SRGB is None:
        _SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return _SRGB


def _icc_to_srgb(im: Image.Image, icc: bytes, notes: list[str]) -> Image.Image:
    """Colour-manage to sRGB with the embedded profile; an unusable profile is noted, not fatal."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = (ImageCms.getProfileDescription(profile) or "").strip()
    except (OSError, ImageCms.PyCMSError, ValueError, TypeError):
        notes.append("embedded ICC profile unreadable; colours taken as they are")
        return im
    if im.mode in ("RGB", "RGBA") and "srgb" in desc.lower().replace(" ", ""):
        return im  # already sRGB: nothing to do
    out_mode = "RGBA" if im.mode == "RGBA" else "RGB"  # a gray (L) profile maps to RGB output
    try:
        converted = ImageCms.profileToProfile(im, profile, _srgb(), outputMode=out_mode)
    except (ImageCms.PyCMSError, ValueError, OSError, TypeError):
        notes.append(
            f"embedded ICC profile '{desc or 'unnamed'}' could not be applied; colours taken as they are"
        )
        return im
    if converted is None:  # pragma: no cover - only with inPlace=True
        return im
    if im.mode == "CMYK":
        notes.append(f"converted from CMYK via embedded ICC profile '{desc or 'unnamed'}'")
    else:
        notes.append(f"converted from embedded ICC profile '{desc or 'unnamed'}' to sRGB")
    return converted


def _composite_on_white(im: Image.Image, notes: list[str], *, already_noted: bool) -> Image.Image:
    """Transparent pixels become white, as on a page; fully opaque alpha is just dropped."""
    rgba = im.convert("RGBA")
    alpha_min = rgba.getchannel("A").getextrema()[0]
    if isinstance(alpha_min, tuple):  # pragma: no cover - defensive, single band gives ints
        alpha_min = alpha_min[0]
    if alpha_min == 255:
        if not already_noted:
            notes.append("opaque alpha channel dropped")
        return rgba.convert("RGB")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    out = Image.alpha_composite(white, rgba).convert("RGB")
    if not already_noted:
        notes.append("alpha channel composited on white")
    return out


def _mp(pixels: int) -> str:
    return f"{pixels / 1e6:,.1f} megapixels"
