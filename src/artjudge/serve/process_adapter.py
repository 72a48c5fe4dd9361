"""Calling the painting-process judge and turning its answer into JSON.

Kept apart from the routes because the judge's API (``artjudge.models.process``) is owned
elsewhere; this is the one place that knows its call shape: ``judge(frames, reference=)``
returning a :class:`~artjudge.record.ProcessAssessment`, whose dict the route returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from artjudge.models.process.judge import ProcessJudge


def run_process_judge(
    judge: ProcessJudge,
    source: Path | list[Path],
    reference: Path | None,
    *,
    max_pixels: int | None = None,
) -> dict[str, Any]:
    """Judge a video (a path) or frames (a list of paths), with an optional finished reference:
    the ``ProcessAssessment`` record as a dict (scores on 0-100 with std).

    ``max_pixels`` is the service's per-image limit; it applies to every decoded video frame
    too, so a video cannot smuggle in frames larger than a single upload may be.
    """
    from artjudge.io.keyframes import KeyframeConfig

    src: Any = str(source) if isinstance(source, Path) else [str(p) for p in source]
    ref = str(reference) if reference is not None else None
    keyframes = KeyframeConfig(max_pixels=max_pixels) if max_pixels is not None else None
    return judge.judge(src, reference=ref, keyframes=keyframes).to_dict()
