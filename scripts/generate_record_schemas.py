"""Rewrite docs/assessment.schema.json and docs/process.schema.json from the record dataclasses.

    python scripts/generate_record_schemas.py

The schemas are generated, never edited by hand: ``artjudge.record.json_schema`` walks the
dataclasses in ``artjudge.record``; ``tests/test_record_schema.py`` fails when a committed
file differs from what this writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def main() -> int:
    from artjudge.io.files import atomic_write_text
    from artjudge.record import SCHEMA_FILES, schema_text

    for kind, name in SCHEMA_FILES.items():
        atomic_write_text(DOCS / name, schema_text(kind))
        print(f"wrote {DOCS / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
