"""Training's encoding pass: the evidence thread returns the flagged works' evidence, in order.

``train.encode.encode_works`` measures evidence on one side thread while the lanes encode
(issue 27: two lanes both measuring fought over the GIL); the rubric's statistics pair each
graded work with its evidence by position, so order and selection must survive the hand-off,
also when more chunks wait than the thread's bounded queue holds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="the scorer's encoder needs onnxruntime")

from artjudge.features.evidence import DETAIL_SIDE  # noqa: E402
from artjudge.io import load_image  # noqa: E402
from artjudge.train.encode import MAX_PENDING, encode_works  # noqa: E402
from artjudge.train.rubric_data import evidence_values  # noqa: E402


def test_evidence_follows_the_flags_in_order(agiqa_dir: Path, tmp_path: Path) -> None:
    paths = [str(p) for p in sorted((agiqa_dir / "images").glob("*.jpg"))[::97][: MAX_PENDING + 4]]
    flags = [i % 3 != 1 for i in range(len(paths))]
    enc = encode_works(paths, 224, evidence=flags, cache_dir=tmp_path / "cache", batch_size=1)
    assert len(enc.features) == len(paths)
    expected = evidence_values(
        [
            load_image(p, target_size=(224, max(224, DETAIL_SIDE)))
            for p, f in zip(paths, flags, strict=True)
            if f
        ]
    )
    assert enc.evidence == expected
    none = encode_works(paths[:3], 224, evidence=False, cache_dir=tmp_path / "cache", batch_size=1)
    assert none.evidence is None
