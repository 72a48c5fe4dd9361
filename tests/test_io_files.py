"""The one atomic writer (artjudge.io.files): whole files or nothing, fsynced, readable modes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from artjudge.io.files import (
    atomic_dir,
    atomic_path,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_json_is_path_first_with_newline_and_readable_mode(tmp_path: Path) -> None:
    out = atomic_write_json(tmp_path / "sub" / "r.json", {"a": 1, "é": [1.5]})
    assert out == tmp_path / "sub" / "r.json"
    text = out.read_text(encoding="utf-8")
    assert text.endswith("}\n") and "é" in text
    assert json.loads(text) == {"a": 1, "é": [1.5]}
    assert _mode(out) == 0o644
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.json"]


def test_secret_mode_and_replacing_keeps_one_file(tmp_path: Path) -> None:
    p = tmp_path / "token"
    atomic_write_text(p, "old")
    atomic_write_bytes(p, b"new", mode=0o600)
    assert p.read_bytes() == b"new" and _mode(p) == 0o600
    assert [x.name for x in tmp_path.iterdir()] == ["token"]


def test_failed_writer_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    p = tmp_path / "table.parquet"
    p.write_text("good")
    with pytest.raises(RuntimeError, match="crash"), atomic_path(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert p.read_text() == "good"
    assert [x.name for x in tmp_path.iterdir()] == ["table.parquet"]


def test_atomic_path_keeps_the_suffix_for_writers_that_choose_by_name(tmp_path: Path) -> None:
    p = tmp_path / "feats.npy"
    with atomic_path(p) as tmp:
        assert tmp.suffix == ".npy" and tmp.parent == tmp_path and tmp.name.startswith(".feats.npy.")
        np.save(tmp, np.arange(3))  # would append .npy to a name without it
    assert np.load(p).tolist() == [0, 1, 2]
    assert [x.name for x in tmp_path.iterdir()] == ["feats.npy"]


def test_writer_that_writes_nothing_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "plot.png"
    with pytest.raises(FileNotFoundError, match="plot.png"), atomic_path(p) as tmp:
        tmp.unlink()
    assert not p.exists()


def test_file_and_directory_are_fsynced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the fsynced descriptors")
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    atomic_write_text(tmp_path / "a.txt", "x")
    assert any(Path(s).parent == tmp_path and Path(s).name.startswith(".a.txt.") for s in synced), synced
    assert str(tmp_path) in synced


def test_atomic_dir_replaces_a_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "adapter"
    target.mkdir()
    (target / "stale.bin").write_text("old")
    with atomic_dir(target, replace=True) as tmp:  # replacing a folder with files is asked for (26.1)
        (tmp / "weights.bin").write_text("new")
        assert not (target / "weights.bin").exists()  # nothing visible until the swap
    assert sorted(p.name for p in target.iterdir()) == ["weights.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]
    with pytest.raises(RuntimeError), atomic_dir(target, replace=True) as tmp:
        (tmp / "half.bin").write_text("x")
        raise RuntimeError
    assert sorted(p.name for p in target.iterdir()) == ["weights.bin"]
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]
