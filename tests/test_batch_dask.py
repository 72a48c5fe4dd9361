"""artjudge.batch on a real local Dask cluster (2 worker processes, 127.0.0.1 only), including a killed worker.

One cluster serves the module: starting worker processes and loading the model in each is
the slow part, and it is exactly what ``--executor dask`` pays once per run.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from helpers_extras import require_extra

require_extra("dask")
import distributed  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import artjudge  # noqa: E402
from artjudge.batch import local_cluster, run_batch  # noqa: E402
from test_batch_local import make_checkpoint, make_images  # noqa: E402


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "model")


@pytest.fixture(scope="module")
def client() -> Any:
    cluster = local_cluster(2)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_cluster_listens_on_loopback_only(client: Any) -> None:
    info = client.scheduler_info()
    assert client.scheduler.address.startswith("tcp://127.0.0.1:")
    assert len(info["workers"]) == 2 and all(a.startswith("tcp://127.0.0.1:") for a in info["workers"])


def test_dask_run_matches_local_run(tmp_path: Path, ckpt: Path, client: Any) -> None:
    make_images(tmp_path / "imgs", 7)
    (tmp_path / "imgs" / "zz.png").write_bytes(b"\x89PNG broken")
    factory = functools.partial(artjudge.load, str(ckpt))
    d = run_batch(
        [str(tmp_path / "imgs")],
        str(tmp_path / "d.parquet"),
        factory,
        model="t",
        executor="dask",
        client=client,
        part_size=2,
        batch_size=2,
        progress=False,
    )
    assert (d.rows, d.scored, d.failed, d.parts, d.parts_written) == (8, 7, 1, 4, 4)
    dask_df = pq.read_table(tmp_path / "d.parquet").to_pandas()
    scorer = factory()
    local = run_batch(
        [str(tmp_path / "imgs")],
        str(tmp_path / "l.parquet"),
        lambda: scorer,
        model="t",
        part_size=3,
        batch_size=4,
        progress=False,
    )
    local_df = pq.read_table(tmp_path / "l.parquet").to_pandas()
    assert local.rows == 8
    assert list(dask_df["input"]) == list(local_df["input"])
    assert dask_df["score"].fillna(-1).tolist() == pytest.approx(
        local_df["score"].fillna(-1).tolist(), abs=1e-3
    )
    assert dask_df["error"].notna().tolist() == [False] * 7 + [True]


def test_dask_passes_prompt_and_reference_columns_through(tmp_path: Path, ckpt: Path, client: Any) -> None:
    """Manifest references reach the workers: per-row consistency and a missing reference's row as locally."""
    import pandas as pd

    imgs = make_images(tmp_path / "imgs", 3)
    pd.DataFrame(
        {
            "path": [p.name for p in imgs],
            "reference": [imgs[0].name, "nope.png", None],
        }
    ).to_csv(tmp_path / "imgs" / "m.csv", index=False)
    factory = functools.partial(artjudge.load, str(ckpt))
    manifest = [str(tmp_path / "imgs" / "m.csv")]
    dask_run = {"model": "t", "executor": "dask", "client": client, "part_size": 2, "progress": False}
    d = run_batch(manifest, str(tmp_path / "d.parquet"), factory, **dask_run)
    scorer = factory()
    run_batch(manifest, str(tmp_path / "l.parquet"), lambda: scorer, model="t", part_size=3, progress=False)
    dask_df = pq.read_table(tmp_path / "d.parquet").to_pandas()
    local_df = pq.read_table(tmp_path / "l.parquet").to_pandas()
    assert (d.rows, d.failed) == (3, 1)
    assert dask_df["consistency_source"].tolist()[0] == "reference"
    assert dask_df["consistency_score"].notna().tolist() == [True, False, False]
    assert dask_df["consistency_score"][0] == pytest.approx(local_df["consistency_score"][0], abs=1e-3)
    assert (
        dask_df["error"][1]
        == local_df["error"][1]
        == f"reference {tmp_path / 'imgs' / 'nope.png'}: file not found"
    )


def test_killed_worker_loses_no_partition_and_its_partition_is_redone(
    tmp_path: Path, ckpt: Path, client: Any
) -> None:
    imgs = make_images(tmp_path / "imgs", 36)
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    factory = functools.partial(artjudge.load, str(ckpt))
    pids: dict[str, int] = client.run(os.getpid)
    result: dict[str, Any] = {}

    def drive() -> None:
        try:
            result["summary"] = run_batch(
                [str(tmp_path / "imgs")],
                str(out),
                factory,
                model="t",
                executor="dask",
                client=client,
                part_size=2,
                batch_size=2,
                progress=False,
            )
        except BaseException as err:  # surfaced by the assertions below
            result["error"] = err

    driver = threading.Thread(target=drive)
    driver.start()
    killed = None
    deadline = time.time() + 60
    while time.time() < deadline and driver.is_alive():
        done = len(list(parts.glob("part-*.parquet"))) if parts.is_dir() else 0
        busy = [w for w, keys in client.processing().items() if keys]
        if done >= 2 and busy:
            killed = busy[0]
            os.kill(pids[killed], signal.SIGKILL)
            break
        time.sleep(0.02)
    assert killed is not None, "the run finished before a worker could be killed"
    done_at_kill = len(list(parts.glob("part-*.parquet")))
    driver.join(120)
    assert not driver.is_alive()
    assert "error" not in result, result.get("error")
    summary = result["summary"]
    assert done_at_kill < 18 and summary.parts == 18 and summary.rows == 36 and summary.failed == 0
    df = pq.read_table(out).to_pandas()
    assert list(df["row"]) == list(range(36))
    assert sorted(df["input"]) == sorted(str(p) for p in imgs)
    assert df["error"].isna().all()
    # The nanny brought the killed worker back.
    client.wait_for_workers(2, timeout=60)
    assert killed not in client.run(os.getpid) or client.run(os.getpid)[killed] != pids[killed]
