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
    """``obj`` as JSON with a final newline, atomically. Argument order: path first, like every writer here."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=ensure_ascii, default=default)
    return atomic_write_text(path, text + "\n", mode=mode)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder to fill; on success it replaces the folder ``path``.

    For writers that produce a whole folder (``save_pretrained``). The files inside are
    fsynced before the swap. The swap removes an existing ``path`` first, so it is atomic
    against crashes while writing, not against a reader looking mid-swap.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file() and not f.is_symlink():
                _fsync_file(f)
        os.chmod(tmp, 0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
    ``replace_existing`` keeps only the input check, for default output names the tool owns.
    """
    if out is None or "://" in os.fspath(out) or force:
        return
    target = Path(out)
    for inp in inputs:
        if inp is None or "://" in os.fspath(inp):
            continue
        src = Path(inp)
        if src.exists() and target.exists() and _same_file(src, target):
            raise OutputExists(
                f"{option} {target} is the input {src}: refusing to replace it; choose another {option} "
                "(or pass --force)"
            )
    if replace_existing:
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
