"""What the process judge's records say about its own error, read from beside its weights.

``scripts/process_residual_std.py`` measures, on held-out synthetic processes, each
attribute's residual std (the record's ``std``) and calibrates a split-conformal error
interval (the record's ``interval``, level 0.9); both live in ``<weights>.residual_std.json``,
tied to the weights' SHA-256, so they are never applied to other weights.
"""

from __future__ import annotations

import json
from pathlib import Path

from artjudge.scoring.intervals import IntervalCalibration, read_calibration
from artjudge.taxonomy import PROCESS


def residual_std_path(weights: Path) -> Path:
    """Where ``scripts/process_residual_std.py`` writes the measured per-attribute std."""
    return weights.with_name(weights.name + ".residual_std.json")


def read_residual_std(weights: Path, digest: str | None) -> dict[str, float] | None:
    """The measured std (0-100) per attribute for these weights, or None when there is none
    or it was measured on other weights (its ``weights_sha256`` differs from ``digest``)."""
    path = residual_std_path(weights)
    if not path.is_file():
        return None
    d = json.loads(path.read_text())
    if digest is not None and d.get("weights_sha256") != digest:
        return None
    std = {k: float(v) for k, v in d.get("residual_std", {}).items()}
    return std if set(std) == set(PROCESS.keys()) else None


def read_interval_calibration(weights: Path, digest: str | None) -> dict[str, IntervalCalibration]:
    """Per attribute, the split-conformal calibration of the records' error interval
    (``score +- q``), stored with the residual std by ``scripts/process_residual_std.py``;
    {} when absent or measured on other weights (then records carry no interval)."""
    path = residual_std_path(weights)
    if not path.is_file():
        return {}
    d = json.loads(path.read_text())
    if digest is not None and d.get("weights_sha256") != digest:
        return {}
    return read_calibration(d)


NO_STD_NOTE = (
    "these weights have no measured residual std (scripts/process_residual_std.py --weights PATH): "
    "std 0 means unknown, not certain"
)
