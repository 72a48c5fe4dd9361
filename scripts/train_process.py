"""Reproduce the shipped process-judge weights with one command (CPU: about 10 minutes to
build the cached features once, then about 7 minutes of training with ``--threads 2``).

    python scripts/train_process.py            # writes src/artjudge/weights/process/ppjudge_tiny.pt

Equivalent to ``artjudge train-process --shipped``. Reads ../shared/data (AGIQA-3K and the
Sheep Market); features are cached under .cache/process, so a second run only retrains.
"""

from __future__ import annotations

import sys

from artjudge.cli.process import main_train_shipped

if __name__ == "__main__":
    sys.exit(main_train_shipped(sys.argv[1:]))
