"""Re-seal model folders after a deliberate change: ``seal.json`` lists every output-changing file.

    python scripts/seal_weights.py                 # the shipped folders (default, consistency, process)
    python scripts/seal_weights.py path/to/model   # any model folder

Loading refuses a folder whose files differ from its seal, so a script that rewrites a
shipped file (a card's calibration, the process judge's residual std) must re-seal the
folder as its last step (``artjudge.models.weights.seal_folder``); this is that step by hand.
Each folder's version becomes its card's version plus the new digest's first 12 digits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from artjudge.models.weights import PACKAGE_WEIGHTS, SEAL_FILE, seal_folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "folders", nargs="*", type=Path, help="model folders (default: every shipped sealed folder)"
    )
    args = parser.parse_args()
    folders = args.folders or sorted(p.parent for p in PACKAGE_WEIGHTS.glob(f"*/{SEAL_FILE}"))
    for folder in folders:
        print(f"{seal_folder(folder)}  {folder}")


if __name__ == "__main__":
    main()
