"""A content-addressed, on-disk cache of per-image features.

Keys are the SHA-256 of the image bytes plus the encoder's identity and input size, so a
renamed or copied file is never encoded twice and a changed file is never served stale.
Each entry is one small ``.npz`` written atomically, so a crash mid-write leaves no
half-entry behind and concurrent writers of the same key are harmless.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from artjudge.io.files import atomic_write_bytes


def default_cache_dir() -> Path:
    env = os.environ.get("ARTJUDGE_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "artjudge" / "features"


class FeatureCache:
    """Maps (content hash, encoder key) to a dict of arrays."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, encoder_key: str) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()
        self.encoder_key = encoder_key
        self.hits = 0
        self.misses = 0

    def _path(self, sha256: str) -> Path:
        return self.root / self.encoder_key / sha256[:2] / f"{sha256}.npz"

    def get(self, sha256: str) -> dict[str, np.ndarray] | None:
        path = self._path(sha256)
        try:
            with np.load(path) as data:
                entry = {k: data[k] for k in data.files}
        except (FileNotFoundError, OSError, ValueError, EOFError):
            self.misses += 1
            return None
        self.hits += 1
        return entry

    def put(self, sha256: str, arrays: dict[str, np.ndarray]) -> None:
        buf = io.BytesIO()
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy stub: **kwds might fill allow_pickle: bool
        atomic_write_bytes(self._path(sha256), buf.getvalue())
