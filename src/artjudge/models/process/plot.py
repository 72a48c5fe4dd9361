"""The timeline plot: each process attribute after each key frame (from the KV cache)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from artjudge.io.files import atomic_path
from artjudge.taxonomy import PROCESS

#: Characters per title line: at 8 inches and 10 pt, a longer line would run off the figure.
TITLE_WIDTH = 70


def wrap_title(title: str, width: int = TITLE_WIDTH) -> str:
    """Break ``title`` into lines of at most ``width`` characters, after a '/' or a space when possible.

    The whole title is kept (a long path is the useful part of it), so nothing is clipped
    at either edge of the figure.
    """
    lines: list[str] = []
    line = ""
    for token in re.split(r"(?<=[/ ])", title):
        while len(token) > width:  # a single segment longer than a line: cut it hard
            if line:
                lines.append(line)
                line = ""
            lines.append(token[:width])
            token = token[width:]
        if len(line) + len(token) > width and line:
            lines.append(line)
            line = ""
        line += token
    if line:
        lines.append(line)
    return "\n".join(part.rstrip() for part in lines)


def plot_timeline(
    timeline: Sequence[dict[str, float]],
    frame_indices: Sequence[int],
    path: Path,
    title: str = "",
    signals: Sequence[dict[str, float]] | None = None,
) -> Path:
    """Write a PNG (atomically) with one line per attribute over the frames; scores on 0-100.

    With ``signals`` (the record's ``signals["frames"]``), a second panel shows the measured
    canvas signals (coverage, saturation, detail, ...; 0-1) after each frame, so a score can
    be read against what happened on the canvas. Attributes absent from the timeline (no
    consistency without a reference or prompt) are not drawn.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    show_signals = bool(signals) and len(signals or []) == len(timeline)
    fig, axes = plt.subplots(
        2 if show_signals else 1, 1, figsize=(8, 7 if show_signals else 4.5), dpi=100, squeeze=False
    )
    ax = axes[0][0]
    xs = list(range(1, len(timeline) + 1))
    for attr in PROCESS.attributes:
        if timeline and attr.key in timeline[0]:
            ax.plot(xs, [t[attr.key] for t in timeline], marker="o", ms=3, label=attr.name)
    ticks = [str(i) for i in frame_indices]
    ax.set_xticks(xs)
    ax.set_xticklabels(ticks, rotation=45 if len(xs) > 12 else 0, fontsize=8)
    ax.set_xlabel("key frame (index in the source)")
    ax.set_ylabel("score (0-100)")  # the record's scale (ProcessAssessment.timeline)
    ax.set_ylim(0, 100)
    ax.set_title(wrap_title(title), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncol=2)
    if show_signals:
        sx = axes[1][0]
        assert signals is not None
        for key in signals[0]:
            sx.plot(xs, [row[key] for row in signals], marker=".", ms=3, label=key.replace("_", " "))
        sx.set_xticks(xs)
        sx.set_xticklabels(ticks, rotation=45 if len(xs) > 12 else 0, fontsize=8)
        sx.set_xlabel("key frame (index in the source)")
        sx.set_ylabel("measured signal (0-1)")
        sx.set_ylim(0, 1)
        sx.set_title("canvas signals (artjudge.features.process_signals)", fontsize=9)
        sx.grid(alpha=0.3)
        sx.legend(fontsize=7, loc="upper left", ncol=3)
    fig.tight_layout()
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return path
