"""The layers contract (pyproject's [tool.importlinter]) holds on the tree and catches a wrong import.

`.ci/run` runs `lint-imports`; these tests show the contract is live: the real tree is kept,
and a copy of the package with one import against the design's order is reported broken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[dev]')")

REPO = Path(__file__).resolve().parents[1]


def _lint_imports(cwd: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI the way CI does, with `cwd` first on the path so `artjudge` resolves there."""
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.is_file() else [sys.executable, "-m", "importlinter.cli"]
    env = dict(os.environ, PYTHONPATH=str(cwd))
    return subprocess.run(
        [*cmd, "--no-cache", "--no-logo", str(config)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _not_python(folder: str, names: list[str]) -> list[str]:
    """Copy only the Python sources: the graph is built from them; weights would only cost time."""
    return [n for n in names if n == "__pycache__" or (Path(folder, n).is_file() and not n.endswith(".py"))]


def test_the_tree_keeps_the_layers_contract() -> None:
    res = _lint_imports(REPO / "src", REPO / "pyproject.toml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 kept, 0 broken" in res.stdout


def test_a_wrong_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(REPO / "src" / "artjudge", tmp_path / "artjudge", ignore=_not_python)
    scoring = tmp_path / "artjudge" / "scoring" / "__init__.py"
    scoring.write_text(scoring.read_text() + "\nimport artjudge.cli  # deliberately against the layers\n")
    res = _lint_imports(tmp_path, REPO / "pyproject.toml")
    assert res.returncode != 0
    assert "artjudge.scoring is not allowed to import artjudge.cli" in res.stdout, res.stdout + res.stderr
    assert "artjudge.scoring -> artjudge.cli" in res.stdout
