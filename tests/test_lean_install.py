"""The base install scores: assess (critique included) with every non-base package made unimportable.

A ``sitecustomize`` meta-path hook makes SciPy, scikit-learn, pandas, torch and the other
extras raise ModuleNotFoundError in a child process, as in an environment where only the
base dependencies (onnxruntime, NumPy, Pillow and the small CLI/service packages) are
installed; the child must give the same record as this process, which has them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import artjudge

REPO = Path(__file__).resolve().parents[1]
SUNSET = REPO / "examples" / "sunset.jpg"
# Every package pyproject.toml lists only under an extra (import names).
NOT_IN_BASE = (
    "scipy",
    "sklearn",
    "pandas",
    "matplotlib",
    "torch",
    "torchvision",
    "pyarrow",
    "fsspec",
    "av",
    "choix",
    "krippendorff",
    "openpyxl",
    "yaml",
    "httpx",
    "transformers",
)

BLOCKER = """
import sys
BLOCKED = set({blocked!r})
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"{{name}} is blocked (not in the base install)", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""


def _run_blocked(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER.format(blocked=NOT_IN_BASE))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )


def test_blocker_really_blocks(tmp_path: Path) -> None:
    """The hook works: importing SciPy in the child fails (else the next test proves nothing)."""
    res = _run_blocked(tmp_path, ["-c", "import scipy"])
    assert res.returncode != 0
    assert "blocked" in res.stderr


def test_assess_with_critique_needs_only_the_base(tmp_path: Path) -> None:
    """A folder (one argument: the path that also checks for a manifest) with the critique."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    img = folder / "noise.jpg"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (200, 300, 3), np.uint8)).save(img)
    sunset = folder / "sunset.jpg"
    sunset.write_bytes(SUNSET.read_bytes())
    out = tmp_path / "out.jsonl"
    code = f"""
import sys
from artjudge.cli import main
rc = main(["assess", {str(folder)!r}, "--critique", "--no-cache", "-q", "-o", {str(out)!r}])
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({NOT_IN_BASE!r}))
print("LOADED", loaded)
sys.exit(rc)
"""
    res = _run_blocked(tmp_path, ["-c", code])
    assert res.returncode == 0, res.stderr[-3000:]
    assert "LOADED []" in res.stdout
    child = [json.loads(line) for line in out.read_text().splitlines()]
    child.sort(key=lambda r: r["input"])
    here = artjudge.load("default", runtime="onnx").assess_many([str(img), str(sunset)], critique=True)
    assert [Path(r["input"]).name for r in child] == ["noise.jpg", "sunset.jpg"]
    for rec, ref in zip(child, here, strict=True):
        assert abs(rec["overall"]["score"] - ref.overall.score) <= 1e-9
        assert abs(rec["overall"]["std"] - ref.overall.std) <= 1e-9
        # The evidence (NumPy filters and k-means here, SciPy/scikit-learn-free) is the same too.
        ref_ev = ref.to_dict()["evidence"]
        assert rec["evidence"]["palette"]["detail"] == ref_ev["palette"]["detail"]
        for key, m in ref_ev.items():
            assert abs(rec["evidence"][key]["value"] - m["value"]) <= 1e-6, key
        assert rec["critique"]["text"] == ref.to_dict()["critique"]["text"]


def test_missing_extra_is_one_line(tmp_path: Path) -> None:
    """A command that needs an extra (here `fuse`: pandas, SciPy) says which one, in one line."""
    csv = tmp_path / "j.csv"
    csv.write_text("item_a,item_b,winner\na,b,a\n")
    res = _run_blocked(tmp_path, ["-m", "artjudge", "fuse", str(csv), "--out", str(tmp_path / "f")])
    assert res.returncode == 2, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "pip install 'artjudge[analysis]'" in lines[0]
