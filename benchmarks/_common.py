"""Helpers shared by the benchmark scripts: where data lives, printing and saving results."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SHARED_DATA = Path(os.environ.get("ARTJUDGE_SHARED_DATA", ROOT.parent / "shared" / "data"))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def save_results(name: str, payload: dict[str, Any]) -> Path:
    from artjudge.io.files import atomic_write_json

    return atomic_write_json(RESULTS / f"{name}.json", dict(payload, machine=machine()), ensure_ascii=True)


def save_trial_results(name: str, payload: dict[str, Any]) -> Path:
    """Like :func:`save_results`, into the temp folder: for runs that must not replace tracked figures."""
    import tempfile

    from artjudge.io.files import atomic_write_json

    folder = Path(tempfile.gettempdir()) / "artjudge-benchmarks"
    return atomic_write_json(folder / f"{name}.json", dict(payload, machine=machine()), ensure_ascii=True)


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for h in header:
        table.add_column(h)
    for r in rows:
        table.add_row(*[f"{x:.4f}" if isinstance(x, float) else str(x) for x in r])
    Console().print(table)
