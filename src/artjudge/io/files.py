"""The one place files are written atomically, and content hashes.

Every output (JSON, text, weights, Parquet, PNG, whole folders) goes to a temporary name
beside its target, is flushed and fsynced, then moved into place with ``os.replace`` and the
directory entry fsynced too. A crash or power loss therefore leaves either the old file or
the new one, never a half-written file where a finished one is expected. Writers that need
a path rather than bytes (``torch.save``, ``savefig``, Parquet, ``np.save``) use
:func:`atomic_path`; writers that build a folder use :func:`atomic_dir`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from artjudge.errors import ArtjudgeError

#: Mode of every file written here: readable by all, unlike mkstemp's 0600. Secrets pass 0o600.
DEFAULT_MODE = 0o644


def _fsync_dir(folder: Path) -> None:
    """Persist a rename: fsync the directory entry (a no-op where the OS cannot, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


#: The public name, for writers that rename files themselves.
fsync_dir = _fsync_dir


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _temp_name(path: Path, suffix: str) -> Path:
    """A fresh hidden name beside ``path`` (same filesystem, so the final rename is atomic)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    return Path(tmp)


@contextmanager
def atomic_path(path: str | Path, *, mode: int = DEFAULT_MODE, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is fsynced and replaces ``path``.

    ``suffix`` defaults to the target's own suffix so writers that pick a format from the
    name (matplotlib's ``savefig``, ``np.save``) write the right one. On an exception the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(target, target.suffix if suffix is None else suffix)
    try:
        yield tmp
        if not tmp.is_file():
            raise FileNotFoundError(f"{tmp}: the writer produced no file for {target}")
        os.chmod(tmp, mode)
        _fsync_file(tmp)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int = DEFAULT_MODE) -> Path:
    """Write ``data`` to ``path`` atomically and durably; returns the path."""
    target = Path(path)
    with atomic_path(target, mode=mode, suffix=".tmp") as tmp, open(tmp, "wb") as fh:
        fh.write(data)
    return target


def atomic_write_text(path: str | Path, text: str, *, mode: int = DEFAULT_MODE) -> Path:
    """UTF-8 text, atomically (see :func:`atomic_write_bytes`)."""
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def atomic_write_json(
    path: str | Path,
    obj: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    ensure_ascii: bool = False,
    default: Any = None,
    mode: int = DEFAULT_MODE,
) -> Path:
    """``obj`` as strict JSON (:func:`dumps_strict`) with a final newline, atomically. Argument
    order: path first, like every writer here."""
    text = dumps_strict(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii, default=default)
    return atomic_write_text(path, text + "\n", mode=mode)


def finite_or_none(obj: Any) -> Any:
    """``obj`` with every NaN or infinity (Python or NumPy floats) replaced by None, through
    dicts, lists and tuples. Strict JSON has no NaN: ``reliability.json`` held ``NaN``, which
    strict parsers (JavaScript's ``JSON.parse``, Go, jq) reject."""
    if isinstance(obj, float) or type(obj).__module__ == "numpy" and getattr(obj, "ndim", None) == 0:
        value = obj.item() if hasattr(obj, "item") else obj
        return None if isinstance(value, float) and not math.isfinite(value) else value
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    return obj


def dumps_strict(obj: Any, *, default: Any = None, **kwargs: Any) -> str:
    """The one JSON encoder for everything artjudge writes: strict JSON, never ``NaN``/``Infinity``.

    Non-finite numbers become ``null`` (the writer says why where it matters, e.g. a
    reliability figure that needs two annotators); ``allow_nan=False`` then guarantees that
    nothing non-finite slips through (a ``default`` hook's output is cleaned too).
    """
    hook = None if default is None else (lambda o: finite_or_none(default(o)))
    return json.dumps(finite_or_none(obj), default=hook, allow_nan=False, **kwargs)


@contextmanager
def atomic_dir(path: str | Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a new sibling folder to fill; on success it is swapped in whole as ``path``.

    For writers that produce a whole folder (``save_pretrained``, a model folder). The files
    inside are fsynced before the swap, so a crash leaves the old folder or the new one,
    never a mix. An existing ``path`` that holds anything is replaced only with
    ``replace=True`` (the user asked, e.g. ``--force``): it is refused with
    :class:`OutputExists` before anything is written otherwise. Why: ``merge-vlm --out
    FOLDER`` used to rmtree whatever the folder held. Even when asked, the old folder is
    first moved aside to a hidden sibling and deleted only after the new one is in place,
    so a crash mid-swap loses nothing (it is then found in ``.NAME.*.old/old`` beside it).
    """
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise OutputExists(f"{target} exists and is not a folder: refusing to replace it")
    if not replace and target.is_dir() and any(target.iterdir()):
        raise OutputExists(
            f"{target} already holds files: refusing to replace them; pass --force (or choose an empty folder)"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file() and not f.is_symlink():
                _fsync_file(f)
        os.chmod(tmp, 0o755)
        _swap_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_dir(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``; an old ``target`` is moved aside, then removed."""
    aside: Path | None = None
    if target.exists():
        aside = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
        os.replace(target, aside / "old")  # a rename: the old folder keeps every file
    try:
        os.replace(new, target)
    except OSError:
        if aside is not None:  # put the old folder back: the user loses nothing
            os.replace(aside / "old", target)
            aside.rmdir()
        raise
    _fsync_dir(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class OutputExists(ArtjudgeError):
    """An output path that would replace an input or an earlier result; ``--force`` allows it."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _within(inner: Path, outer: Path) -> bool:
    """True when ``inner`` is ``outer`` or lies below it (both resolved, links followed)."""
    a, b = inner.resolve(), outer.resolve()
    return a == b or a.is_relative_to(b)


def refuse_overwrite(
    out: str | os.PathLike[str] | None,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    *,
    force: bool = False,
    option: str = "--output",
    replace_existing: bool = False,
) -> None:
    """Raise :class:`OutputExists` before ``out`` would replace an input or an existing file.

    Why: a mistyped ``--out`` used to destroy the judgments, video or manifest it was made
    from, without a word. The check runs before any work, so nothing is lost by a refusal.
    ``option`` names the flag in the one-line message; URLs (``s3://...``) are not checked.
    A folder counts as existing when it holds anything (``train --out DIR`` twice).
    ``force`` allows replacing an existing output, never an input: an output that is an
    input (same file, a link to it) or a folder holding one is refused whatever the flags.
    ``replace_existing`` keeps only the input check, for default output names the tool owns.
    """
    if out is None or "://" in os.fspath(out):
        return
    target = Path(out)
    for inp in inputs:
        if inp is None or "://" in os.fspath(inp):
            continue
        src = Path(inp)
        if not (src.exists() and target.exists()):
            continue
        same = _same_file(src, target)
        if same or (target.is_dir() and _within(src, target)):
            raise OutputExists(
                f"{option} {target} {'is' if same else 'holds'} the input {src}: refusing to replace it "
                f"(even with --force); choose another {option}"
            )
    if force or replace_existing:
        return
    if target.is_dir():
        if any(target.iterdir()):
            raise OutputExists(
                f"{option} {target} already holds files: refusing to replace them; pass --force "
                "(or choose an empty folder)"
            )
    elif target.exists():
        raise OutputExists(
            f"{option} {target} already exists: refusing to overwrite it; pass --force to replace it"
        )
