"""Turn what a user typed (files, folders, globs) into image paths, lazily, one at a time.

A folder may hold millions of images, so nothing here lists a whole tree into memory:
folders are walked with ``os.scandir``, one directory at a time, and results stream out
as a generator. Problems (a missing path, a glob that matches nothing, a folder without
images) are reported per input so a batch can record them and go on.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from typing import Final

from PIL import features

from artjudge.errors import InputError

_BASE_EXTENSIONS: Final[frozenset[str]] = frozenset(
    {
        ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".webp", ".bmp", ".dib",
        ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm", ".tga", ".mpo",
    }
)  # fmt: skip


def _optional_extensions() -> frozenset[str]:
    extra: set[str] = set()
    if features.check("jpg_2000"):
        extra |= {".jp2", ".j2k", ".jpx"}
    if features.check("avif"):
        extra |= {".avif"}
    return frozenset(extra)


#: Extensions picked up when walking folders and globs (lower case, with the dot). Files named
#: explicitly are passed on whatever their extension: ``load_image`` decides from the bytes.
IMAGE_EXTENSIONS: Final[frozenset[str]] = _BASE_EXTENSIONS | _optional_extensions()


#: Image formats people keep beside their JPEGs that Pillow cannot read here, and what to do.
#: A folder walk reports each such file (one line naming it and why) instead of skipping it
#: silently; files of other kinds (.txt, .json, ...) are not images and stay out of the walk.
_UNSUPPORTED_IMAGE_HINTS: Final[dict[str, str]] = {
    ".heic": "HEIC/HEIF is not supported here; convert it to JPEG or PNG",
    ".heif": "HEIC/HEIF is not supported here; convert it to JPEG or PNG",
    ".avif": "AVIF is not supported by this Pillow build; convert it to JPEG or PNG",
    ".jxl": "JPEG XL is not supported here; convert it to JPEG or PNG",
    ".jp2": "JPEG 2000 is not supported by this Pillow build; convert it to JPEG or PNG",
    ".j2k": "JPEG 2000 is not supported by this Pillow build; convert it to JPEG or PNG",
    ".jpx": "JPEG 2000 is not supported by this Pillow build; convert it to JPEG or PNG",
    ".svg": "vector images are not supported; rasterise it to PNG first",
    ".psd": "Photoshop files are not read from folders; export a JPEG or PNG (or name the file directly)",
    ".dng": "camera raw files are not supported; export a JPEG or PNG",
    ".cr2": "camera raw files are not supported; export a JPEG or PNG",
    ".cr3": "camera raw files are not supported; export a JPEG or PNG",
    ".nef": "camera raw files are not supported; export a JPEG or PNG",
    ".arw": "camera raw files are not supported; export a JPEG or PNG",
    ".orf": "camera raw files are not supported; export a JPEG or PNG",
    ".rw2": "camera raw files are not supported; export a JPEG or PNG",
    ".raf": "camera raw files are not supported; export a JPEG or PNG",
}


def unsupported_image_reason(name: str) -> str | None:
    """Why a file that looks like an image by its name cannot be read here, or None."""
    ext = os.path.splitext(name)[1].lower()
    return None if ext in IMAGE_EXTENSIONS else _UNSUPPORTED_IMAGE_HINTS.get(ext)


def is_image_name(name: str) -> bool:
    """True when the file name has an image extension (case-insensitive)."""
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _looked_for() -> str:
    common = [".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".bmp"]
    return ", ".join(common) + ", ..."


def iter_inputs(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    sort: bool = True,
) -> Iterator[tuple[str, InputError | None]]:
    """Yield ``(path, None)`` for each candidate image and ``(input, InputError)`` for each problem.

    - a file is passed through as given, whatever its extension;
    - a folder yields its images (by extension; hidden files and folders skipped), walked
      with ``os.scandir``, into sub-folders when ``recursive``; a folder with none is an error;
      an image in a format not read here (``.heic``, camera raw, ...) is an error naming it;
    - a glob (``*``, ``?``, ``[``; ``**`` spans folders) yields matching image files and,
      unless it has ``**``, the images of matching folders; a glob matching no image is an error;
    - anything else is an error ("no such file or directory").

    ``sort=True`` gives a stable order by holding one directory's image names at a time
    (not the tree); pass ``sort=False`` for filesystem order with constant memory.
    """
    for raw in inputs:
        inp = os.fspath(raw)
        if not inp:
            yield inp, InputError("''", "empty path")
            continue
        if os.path.isdir(inp):
            yield from _expand_dir(inp, recursive=recursive, sort=sort)
        elif os.path.lexists(inp):
            yield inp, None
        elif glob.has_magic(inp):
            yield from _expand_glob(inp, recursive=recursive, sort=sort)
        else:
            yield inp, InputError(inp, "no such file or directory")


def expand_inputs(
    inputs: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = True,
    sort: bool = True,
) -> Iterator[str]:
    """Like :func:`iter_inputs` but strict: raises the first :class:`InputError` met."""
    for path, err in iter_inputs(inputs, recursive=recursive, sort=sort):
        if err is not None:
            raise err
        yield path


def _expand_glob(pattern: str, *, recursive: bool, sort: bool) -> Iterator[tuple[str, InputError | None]]:
    matches: Iterable[str] = glob.iglob(pattern, recursive=True)
    if sort:
        matches = sorted(matches)
    found = 0
    matched = 0
    reported = 0
    # With "**" the pattern itself reaches every file below, so expanding the folders it also
    # matches would yield those files twice.
    expand_dirs = "**" not in pattern
    for m in matches:
        matched += 1
        if os.path.isdir(m):
            if not expand_dirs:
                continue
            for item in _expand_dir(m, recursive=recursive, sort=sort, report_empty=False):
                found += item[1] is None
                yield item
        elif is_image_name(m):
            found += 1
            yield m, None
        elif (reason := unsupported_image_reason(m)) is not None and not os.path.basename(m).startswith("."):
            reported += 1
            yield m, InputError(m, reason)
    if not found and not reported:
        if matched:
            reason = f"pattern matches {matched} path(s) but no images (looked for {_looked_for()})"
        else:
            reason = "pattern matches nothing"
        yield pattern, InputError(pattern, reason)


def _expand_dir(
    root: str, *, recursive: bool, sort: bool, report_empty: bool = True
) -> Iterator[tuple[str, InputError | None]]:
    """Depth-first walk: a folder's images first, then its sub-folders, each level in name order."""
    found = 0
    reported = 0  # unsupported images named in their own error lines (unsorted walk)
    seen: set[tuple[int, int]] = set()
    stack: list[str] = [root]
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
        except OSError as e:
            yield d, InputError(d, f"cannot read directory ({e.strerror or e})")
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or the same folder reached twice
            continue
        seen.add(key)
        subdirs: list[str] = []
        try:
            with os.scandir(d) as it:
                if sort:
                    files: list[str] = []
                    for entry in it:
                        _classify(entry, files, subdirs, recursive)
                    files.sort()
                    for name in files:
                        path = os.path.join(d, name)
                        reason = unsupported_image_reason(name)
                        if reason is None:
                            found += 1
                            yield path, None
                        else:
                            reported += 1
                            yield path, InputError(path, reason)
                else:
                    for entry in it:
                        if _is_visible_image(entry):
                            found += 1
                            yield entry.path, None
                        elif _is_visible_unsupported(entry):
                            reported += 1
                            yield (
                                entry.path,
                                InputError(entry.path, str(unsupported_image_reason(entry.name))),
                            )
                        elif recursive and _is_visible_dir(entry):
                            subdirs.append(entry.name)
        except OSError as e:
            yield d, InputError(d, f"cannot read directory ({e.strerror or e})")
            continue
        # pop() takes from the end: push in reverse so sub-folders come out in name order
        for name in sorted(subdirs, reverse=True) if sort else reversed(subdirs):
            stack.append(os.path.join(d, name))
    if not found and report_empty and not reported:
        where = " (including sub-folders)" if recursive else ""
        yield root, InputError(root, f"directory has no images{where} (looked for {_looked_for()})")


def _classify(entry: os.DirEntry[str], files: list[str], subdirs: list[str], recursive: bool) -> None:
    if _is_visible_image(entry) or _is_visible_unsupported(entry):
        files.append(entry.name)
    elif recursive and _is_visible_dir(entry):
        subdirs.append(entry.name)


def _is_visible_image(entry: os.DirEntry[str]) -> bool:
    # Hidden files include macOS "._name.jpg" resource forks, which are not images.
    if entry.name.startswith(".") or not is_image_name(entry.name):
        return False
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_visible_unsupported(entry: os.DirEntry[str]) -> bool:
    """A visible file in an image format this build cannot read (reported, not skipped)."""
    if entry.name.startswith(".") or unsupported_image_reason(entry.name) is None:
        return False
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_visible_dir(entry: os.DirEntry[str]) -> bool:
    if entry.name.startswith("."):
        return False
    try:
        return entry.is_dir()
    except OSError:
        return False
