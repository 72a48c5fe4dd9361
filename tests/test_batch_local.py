"""artjudge.batch on one machine: sources, the Parquet output, failures, resume after a killed driver.

The scorer is a real ScoringHead checkpoint (untrained, 64 px, on the real EfficientNet-Lite0
backbone) written by the fixture, so the tests exercise the real pipeline quickly and do not
wait for the shipped weights.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers_extras import require_extra

require_extra("batch")
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import artjudge  # noqa: E402
from artjudge.batch import BatchError, InputRow, iter_partitions, iter_rows, run_batch  # noqa: E402
from artjudge.errors import InputError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def make_checkpoint(folder: Path) -> Path:
    import torch

    from artjudge.models.head import HeadConfig, ScoringHead
    from artjudge.models.weights import save_checkpoint

    torch.manual_seed(0)
    cfg = HeadConfig(resolution=64, hidden=16, targets=["overall"])
    head = ScoringHead(cfg)
    card = {"id": "batch-test-untrained", "version": "0", "config": {"head": cfg.to_dict()}}
    return save_checkpoint(folder, head.state_dict(), card)


def make_images(folder: Path, n: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = folder / f"img{i:03d}.jpg"
        Image.fromarray(rng.integers(0, 255, (40, 56, 3), dtype=np.uint8)).save(p, quality=80)
        paths.append(p)
    return paths


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "model")


@pytest.fixture(scope="module")
def scorer(ckpt: Path):  # type: ignore[no-untyped-def]
    return artjudge.load(str(ckpt))


@pytest.fixture(scope="module")
def factory(scorer):  # type: ignore[no-untyped-def]
    """A factory handing out the one loaded scorer: each run would otherwise load the model again."""
    return lambda: scorer


def _read(path: Path | str) -> pd.DataFrame:
    return pq.read_table(str(path)).to_pandas()


# --------------------------------------------------------------------- sources


def test_manifest_formats_stream_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from artjudge.batch import sources

    monkeypatch.setattr(sources, "CHUNK_ROWS", 3)  # force several chunks
    paths = [f"img{i}.jpg" for i in range(8)]
    df = pd.DataFrame({"path": paths, "image_id": [f"id{i}" for i in range(8)], "extra": range(8)})
    df.loc[4, "path"] = None
    df.to_csv(tmp_path / "m.csv", index=False)
    df.to_json(tmp_path / "m.jsonl", orient="records", lines=True)
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "m.parquet", row_group_size=2)
    for name in ("m.csv", "m.jsonl", "m.parquet"):
        rows = list(iter_rows([str(tmp_path / name)]))
        assert [r.row for r in rows] == list(range(8)), name
        assert [r.image_id for r in rows] == [f"id{i}" for i in range(8)], name
        assert rows[0].location == str(tmp_path / "img0.jpg"), name
        assert rows[4].location is None and rows[4].error and "path is empty" in rows[4].error, name
    rows = list(iter_rows([str(tmp_path / "m.csv")], root="/data/root"))
    assert rows[1].location == "/data/root/img1.jpg" and rows[1].input == "img1.jpg"


def test_manifest_without_path_column_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("file,score\na.jpg,3\n")
    with pytest.raises(InputError, match=r"m\.csv: manifest has no 'path' column \(columns: file, score\)"):
        list(iter_rows([str(tmp_path / "m.csv")]))
    with pytest.raises(InputError, match="cannot open manifest"):
        list(iter_rows([str(tmp_path / "missing.parquet")]))


def test_partitions_are_fixed_size_and_numbered() -> None:
    rows = (InputRow(i, f"{i}.jpg", f"/x/{i}.jpg") for i in range(7))
    parts = list(iter_partitions(rows, 3))
    assert [(i, [r.row for r in p]) for i, p in parts] == [(0, [0, 1, 2]), (1, [3, 4, 5]), (2, [6])]


# --------------------------------------------------------------------- local runs


def test_local_run_writes_every_input_once_with_failures(tmp_path: Path, factory, scorer) -> None:  # type: ignore[no-untyped-def]
    imgs = make_images(tmp_path / "imgs", 5)
    (tmp_path / "imgs" / "broken.jpg").write_bytes(imgs[0].read_bytes()[:200])  # truncated JPEG
    (tmp_path / "imgs" / "text.png").write_text("hello")
    out = tmp_path / "out.parquet"
    summary = run_batch(
        [str(tmp_path / "imgs")], str(out), factory, model="t", part_size=3, batch_size=2, progress=False
    )
    assert (summary.rows, summary.scored, summary.failed, summary.parts) == (7, 5, 2, 3)
    df = _read(out)
    assert list(df["row"]) == list(range(7))
    assert pq.ParquetFile(out).metadata.num_row_groups == 3
    bad = df[df["error"].notna()].set_index("input")["error"]
    assert set(bad.index) == {str(tmp_path / "imgs" / "broken.jpg"), str(tmp_path / "imgs" / "text.png")}
    assert all(isinstance(e, str) and e and not e.startswith(str(tmp_path)) for e in bad)
    good = df[df["error"].isna()]
    assert good["score"].between(0, 100).all() and (good["std"] > 0).all()
    assert all(len(d) == 101 and abs(sum(d) - 1) < 1e-3 for d in good["distribution"])
    assert set(good["model_id"]) == {"batch-test-untrained"}
    assert all(json.loads(a) == {} for a in good["attributes"])
    # Same numbers as the scorer's own API on the same file.
    direct = scorer.assess(str(imgs[2]))
    got = good.set_index("input").loc[str(imgs[2])]
    assert got["score"] == pytest.approx(direct.overall.score) and got["sha256"] == direct.sha256
    # The parts are merged away; the progress file says the run is complete.
    progress = json.loads((tmp_path / "out.parquet.parts" / "_progress.json").read_text())
    assert progress["complete"] and progress["rows_done"] == 7 and progress["failed"] == 2
    # A rerun of a finished run does nothing.
    again = run_batch([str(tmp_path / "imgs")], str(out), factory, model="t", part_size=3, progress=False)
    assert again.parts_written == 0 and again.rows == 7


def test_old_keyword_names_still_work_and_warn(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    """``engine=`` / ``torch_threads=`` are ``executor=`` / ``threads=`` for one release, with a warning."""
    make_images(tmp_path / "imgs", 2)
    imgs = [str(tmp_path / "imgs")]
    with pytest.warns(DeprecationWarning, match=r"run_batch\(engine=\.\.\.\) is deprecated; use executor="):
        old = run_batch(imgs, str(tmp_path / "a.parquet"), factory, model="t", engine="local", progress=False)
    with pytest.warns(
        DeprecationWarning, match=r"run_batch\(torch_threads=\.\.\.\) is deprecated; use threads="
    ):
        run_batch(imgs, str(tmp_path / "b.parquet"), factory, model="t", torch_threads=1, progress=False)
    assert old.rows == 2
    assert _read(tmp_path / "a.parquet")["score"].tolist() == _read(tmp_path / "b.parquet")["score"].tolist()


def test_manifest_rows_missing_paths_and_files(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    make_images(tmp_path / "imgs", 3)
    manifest = tmp_path / "m.jsonl"
    lines = [
        {"path": "imgs/img000.jpg", "image_id": "a"},
        {"path": "", "image_id": "b"},
        {"path": "imgs/nope.jpg", "image_id": "c"},
        {"path": "imgs/img002.jpg", "image_id": "d"},
    ]
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = tmp_path / "out.parquet"
    run_batch([str(manifest)], str(out), factory, model="t", part_size=2, batch_size=4, progress=False)
    df = _read(out)
    assert list(df["image_id"]) == ["a", "b", "c", "d"]
    assert list(df["input"]) == ["imgs/img000.jpg", "", "imgs/nope.jpg", "imgs/img002.jpg"]
    assert df["error"].isna().tolist() == [True, False, False, True]
    assert "path is empty" in df.loc[1, "error"] and "not found" in df.loc[2, "error"]


def test_changed_settings_are_refused_and_restart_starts_over(tmp_path: Path, factory) -> None:  # type: ignore[no-untyped-def]
    make_images(tmp_path / "imgs", 3)
    out = tmp_path / "out.parquet"
    run_batch(
        [str(tmp_path / "imgs")], str(out), factory, model="t", part_size=2, keep_parts=True, progress=False
    )
    with pytest.raises(BatchError, match="part_size: was 2, now 1"):
        run_batch([str(tmp_path / "imgs")], str(out), factory, model="t", part_size=1, progress=False)
    s = run_batch(
        [str(tmp_path / "imgs")], str(out), factory, model="t", part_size=1, restart=True, progress=False
    )
    assert s.parts == 3 and s.parts_resumed == 0 and len(_read(out)) == 3


def test_fsspec_memory_filesystem_inputs_and_output(factory) -> None:  # type: ignore[no-untyped-def]
    import io

    import fsspec

    fs = fsspec.filesystem("memory")
    rng = np.random.default_rng(1)
    for i in range(3):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(buf, format="PNG")
        fs.pipe(f"/bj/imgs/{i}.png", buf.getvalue())
    fs.pipe("/bj/m.csv", b"path\nimgs/0.png\nimgs/1.png\nimgs/missing.png\nimgs/2.png\n")
    s = run_batch(
        ["memory://bj/m.csv"],
        "memory://bj/out.parquet",
        factory,
        model="t",
        part_size=3,
        batch_size=2,
        progress=False,
    )
    assert (s.rows, s.failed) == (4, 1)
    with fs.open("/bj/out.parquet", "rb") as fh:
        df = pq.read_table(fh).to_pandas()
    assert list(df["input"]) == ["imgs/0.png", "imgs/1.png", "imgs/missing.png", "imgs/2.png"]
    assert df["error"].notna().tolist() == [False, False, True, False]
    assert "not found" in df.loc[2, "error"]
    fs.rm("/bj", recursive=True)


def test_driver_killed_and_rerun_gives_every_input_exactly_once(tmp_path: Path, ckpt: Path) -> None:
    imgs = make_images(tmp_path / "imgs", 60)
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    cmd = [
        sys.executable,
        "-m",
        "artjudge",
        "batch",
        str(tmp_path / "imgs"),
        "--output",
        str(out),
        "--model",
        str(ckpt),
        "--part-size",
        "2",
        "--batch-size",
        "2",
        "--no-progress",
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if parts.is_dir() and len(list(parts.glob("part-*.parquet"))) >= 3:
            break
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    done_before = len(list(parts.glob("part-*.parquet")))
    assert 3 <= done_before < 30
    res = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert f"{done_before} of 30 parts resumed" in res.stdout
    df = _read(out)
    assert list(df["row"]) == list(range(60))
    assert sorted(df["input"]) == sorted(str(p) for p in imgs)
    assert df["error"].isna().all()


def test_cli_reports_and_fails_when_nothing_scores(tmp_path: Path, ckpt: Path) -> None:
    from artjudge.cli import main

    (tmp_path / "a.jpg").write_text("not an image")
    out = tmp_path / "o.parquet"
    assert (
        main(["batch", str(tmp_path / "a.jpg"), "-o", str(out), "--model", str(ckpt), "--no-progress"]) == 1
    )
    assert _read(out)["error"].notna().all()
    assert (
        main(["batch", str(tmp_path / "a.jpg"), "-o", str(out), "--model", str(ckpt), "--executor", "dask"])
        == 2
    )


class _ExplodingScorer:
    """The real scorer, except that one named input raises an unexpected error (as a decoder bug would)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner

    def info(self):  # type: ignore[no-untyped-def]
        return self.inner.info()

    def iter_assess(self, images, **kw):  # type: ignore[no-untyped-def]
        def check(items):  # type: ignore[no-untyped-def]
            for x in items:
                if "explode" in str(x):
                    raise RuntimeError("decoder bug")
                yield x

        yield from self.inner.iter_assess(check(images), **kw)


def test_unexpected_scorer_exception_fails_one_row_not_the_run(tmp_path: Path, scorer) -> None:  # type: ignore[no-untyped-def]
    imgs = make_images(tmp_path / "imgs", 6)
    imgs[3].rename(tmp_path / "imgs" / "img003-explode.jpg")
    out = tmp_path / "out.parquet"
    s = run_batch(
        [str(tmp_path / "imgs")],
        str(out),
        lambda: _ExplodingScorer(scorer),
        model="t",
        part_size=2,
        batch_size=2,
        progress=False,
    )
    assert (s.rows, s.failed) == (6, 1)
    df = _read(out)
    assert list(df["row"]) == list(range(6))
    bad = df[df["error"].notna()]
    assert bad["input"].str.endswith("img003-explode.jpg").all()
    assert "unexpected error while scoring (RuntimeError: decoder bug)" in bad["error"].iloc[0]


def test_cli_end_to_end_with_the_shipped_default(tmp_path: Path, agiqa_dir: Path) -> None:
    """The real default model through ``artjudge batch``: same scores as ``Scorer.assess``."""
    from artjudge.cli import main
    from artjudge.models.weights import PACKAGE_WEIGHTS

    if not (PACKAGE_WEIGHTS / "default" / "head.pt").is_file():
        pytest.skip("the shipped default weights are not in this tree yet")
    images = sorted((agiqa_dir / "images").glob("*.jpg"))[:3]
    manifest = tmp_path / "m.csv"
    pd.DataFrame(
        {"path": [str(p) for p in images] + [str(tmp_path / "gone.jpg")], "image_id": ["a", "b", "c", "d"]}
    ).to_csv(manifest, index=False)
    out = tmp_path / "scores.parquet"
    assert main(["batch", str(manifest), "-o", str(out), "--part-size", "2", "--no-progress"]) == 0
    df = _read(out)
    assert list(df["image_id"]) == ["a", "b", "c", "d"] and df["error"].notna().tolist() == [False] * 3 + [
        True
    ]
    direct = artjudge.load().assess(str(images[1]))
    assert df.loc[1, "score"] == pytest.approx(direct.overall.score, abs=1e-3)
    assert df.loc[1, "model_id"] == direct.model.id and df.loc[1, "model_version"] == direct.model.version
