"""Dataset readers that map every published format into one :class:`Manifest`.

from artjudge.data import read_dataset
m = read_dataset("koniq-10k", "labels/koniq", images="koniq/1024x768")
m.split_frame("test"); m.missing_images(); m.soft_labels()
"""

from __future__ import annotations

from artjudge.data import generic, readers_art, readers_photo  # noqa: F401  (registers the readers)
from artjudge.data.manifest import Manifest, build_manifest
from artjudge.data.registry import dataset_names, read_dataset, reader_info
from artjudge.data.splits import split_by_group

DATASETS: tuple[str, ...] = tuple(dataset_names())

__all__ = [
    "DATASETS",
    "Manifest",
    "build_manifest",
    "dataset_names",
    "read_dataset",
    "reader_info",
    "split_by_group",
]
