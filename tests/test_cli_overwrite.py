"""The CLI refuses to replace an input or an existing output unless ``--force`` is given (issue 18, item 7).

Each case reproduces a command that used to destroy the user's file; the check runs before
any work, so these tests need no model weights.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from artjudge.cli import main
from artjudge.io.files import OutputExists, refuse_overwrite


def _judgments(path: Path) -> Path:
    rows = ["annotator,item_a,item_b,winner"]
    for k in range(60):
        a, b = f"p{k % 6}", f"p{(k + 1 + k // 6) % 6}"
        if a != b:
            rows.append(f"r{k % 3},{a},{b},{'a' if k % 3 else 'b'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_helper_names_both_paths_and_force_allows(tmp_path: Path) -> None:
    src = tmp_path / "good.csv"
    src.write_text("x\n")
    with pytest.raises(OutputExists) as err:
        refuse_overwrite(src, [src], option="--out")
    msg = str(err.value)
    assert msg.count(str(src)) == 2 and "--force" in msg and "\n" not in msg
    other = tmp_path / "other.csv"
    refuse_overwrite(other, [src])  # a new file is fine
    other.write_text("y\n")
    with pytest.raises(OutputExists, match="already exists"):
        refuse_overwrite(other, [src])
    refuse_overwrite(other, [src], force=True)
    refuse_overwrite(other, [src], replace_existing=True)
    with pytest.raises(OutputExists, match="is the input"):  # a symlink to the input is the input
        link = tmp_path / "link.csv"
        link.symlink_to(src)
        refuse_overwrite(link, [src], replace_existing=True)
    folder = tmp_path / "model"
    refuse_overwrite(folder, [])
    folder.mkdir()
    refuse_overwrite(folder, [])  # empty folder: nothing to lose
    (folder / "weights.pt").write_bytes(b"w")
    with pytest.raises(OutputExists, match="already holds files"):
        refuse_overwrite(folder, [], option="--out")


def test_fuse_refuses_its_own_input_and_keeps_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _judgments(tmp_path / "good.csv")
    before = good.read_bytes()
    assert main(["fuse", str(good), "--out", str(good), "--no-reliability"]) == 2
    err = capsys.readouterr().err
    assert f"--out {good} is the input {good}" in err
    assert good.read_bytes() == before
    out = tmp_path / "fused.csv"
    assert main(["fuse", str(good), "--out", str(out), "--no-reliability"]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o644
    assert main(["fuse", str(good), "--out", str(out), "--no-reliability"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["fuse", str(good), "--out", str(out), "--no-reliability", "--force"]) == 0


def test_process_refuses_to_write_over_the_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "ok.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    before = video.read_bytes()
    assert main(["process", str(video), "--output", str(video)]) == 2
    assert f"--output {video} is the input {video}" in capsys.readouterr().err
    assert main(["process", str(video), "--timeline", str(video)]) == 2
    assert f"--timeline {video} is the input {video}" in capsys.readouterr().err
    assert video.read_bytes() == before


def test_batch_refuses_to_replace_its_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("pyarrow", reason="needs the [batch] extra: pip install -e '.[batch]'")
    import pandas as pd

    manifest = tmp_path / "m.parquet"
    pd.DataFrame({"path": ["a.jpg", "b.jpg"]}).to_parquet(manifest)
    before = manifest.read_bytes()
    assert main(["batch", str(manifest), "--output", str(manifest), "--no-progress"]) == 2
    assert f"--output {manifest} is the input {manifest}" in capsys.readouterr().err
    assert manifest.read_bytes() == before
    assert not (tmp_path / "m.parquet.parts").exists()
    foreign = tmp_path / "scores.parquet"  # a file no batch run wrote
    foreign.write_bytes(b"PAR1")
    assert main(["batch", str(manifest), "--output", str(foreign), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err


def test_train_twice_into_one_folder_needs_resume_or_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"first model")
    assert main(["train", "--dataset", "agiqa3k", "--out", str(out)]) == 2
    assert f"--out {out} already holds files" in capsys.readouterr().err
    assert (out / "checkpoint.pt").read_bytes() == b"first model"


def test_assess_refuses_to_write_over_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "a.jpg"
    img.write_bytes(b"\xff\xd8\xff" + b"\x00" * 32)
    assert main(["assess", str(img), "--output", str(img), "--format", "jsonl"]) == 2
    assert f"--output {img} is the input {img}" in capsys.readouterr().err
    rec = tmp_path / "out.jsonl"
    rec.write_text('{"input": "x"}\n')
    assert main(["assess", str(img), "--output", str(rec)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert rec.read_text() == '{"input": "x"}\n'
