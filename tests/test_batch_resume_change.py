"""Batch resume when the inputs changed between a killed run and its rerun (issue 18, item 8).

The reproduced failure: killed after 3 of 6 parts, one file added, rerun -> one image twice
and the new one missing. The killed state is made deterministically: a full run that keeps
its parts, then the later parts and the output removed (what a SIGKILL after part 3 leaves).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("batch")
import pyarrow.parquet as pq  # noqa: E402

import artjudge  # noqa: E402
from artjudge.batch import run_batch  # noqa: E402
from test_batch_local import make_checkpoint, make_images  # noqa: E402


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    scorer = artjudge.load(str(make_checkpoint(tmp_path_factory.mktemp("ckpt") / "model")))
    return lambda: scorer


def _killed_after_three_parts(imgs: Path, out: Path, factory) -> None:  # type: ignore[no-untyped-def]
    run_batch([str(imgs)], str(out), factory, part_size=2, batch_size=2, keep_parts=True, progress=False)
    parts = out.with_name(out.name + ".parts")
    for i in (3, 4, 5):
        (parts / f"part-{i:05d}.parquet").unlink()
    out.unlink()


def _rows(out: Path) -> list[str]:
    return list(pq.read_table(out).column("input").to_pylist())


def _add(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(path, quality=80)


def test_a_file_added_before_resume_is_scored_once_and_nothing_repeats(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    imgs = tmp_path / "imgs"
    make_images(imgs, 12)
    out = tmp_path / "m.parquet"
    _killed_after_three_parts(imgs, out, factory)
    _add(imgs / "img000a.jpg", 99)  # sorts second: every later row shifts by one
    summary = run_batch([str(imgs)], str(out), factory, part_size=2, batch_size=2, progress=False)
    rows = _rows(out)
    expected = sorted(str(p) for p in imgs.glob("*.jpg"))
    assert len(rows) == 13 and summary.rows == 13
    assert sorted(rows) == expected  # every input exactly once, the new one included
    assert summary.parts_resumed == 0  # all three finished parts held shifted rows: rescored


def test_a_file_removed_or_replaced_rescores_only_the_parts_it_touches(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    imgs = tmp_path / "imgs"
    paths = make_images(imgs, 12)
    out = tmp_path / "m.parquet"
    _killed_after_three_parts(imgs, out, factory)
    old = pq.read_table(out.with_name(out.name + ".parts") / "part-00001.parquet").to_pandas()
    time.sleep(0.01)
    _add(paths[3], 7)  # new content under the same name, in part 1
    os.utime(paths[3], ns=(time.time_ns(), time.time_ns() + 10**9))
    paths[11].unlink()  # the last file gone: 11 rows, 6 parts still
    summary = run_batch([str(imgs)], str(out), factory, part_size=2, batch_size=2, progress=False)
    df = pq.read_table(out).to_pandas()
    assert sorted(df["input"]) == sorted(str(p) for p in paths[:11])
    assert list(df["row"]) == list(range(11))
    assert summary.parts_resumed == 2  # parts 0 and 2 kept, part 1 rescored
    new_score = df.loc[df["input"] == str(paths[3]), "score"].item()
    old_score = old.loc[old["input"] == str(paths[3]), "score"].item()
    assert new_score != pytest.approx(old_score, abs=1e-9)


def test_inputs_removed_past_the_last_part_leave_no_stale_part(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    imgs = tmp_path / "imgs"
    paths = make_images(imgs, 12)
    out = tmp_path / "m.parquet"
    run_batch([str(imgs)], str(out), factory, part_size=2, batch_size=2, keep_parts=True, progress=False)
    out.unlink()
    for p in paths[6:]:
        p.unlink()
    summary = run_batch([str(imgs)], str(out), factory, part_size=2, batch_size=2, progress=False)
    assert sorted(_rows(out)) == sorted(str(p) for p in paths[:6])
    assert summary.rows == 6 and summary.parts == 3 and summary.parts_resumed == 3
    assert not list(out.with_name(out.name + ".parts").glob("part-*.parquet"))
