"""One manifest format for every dataset: the only thing trainers and evaluators read.

Each dataset's reader maps its own label files into a :class:`Manifest`, once, so the
rest of artjudge sees one schema and one score scale (0-100). The frame holds one row
per image; the metadata says where the rows came from and what the raw scales were, so
a score can always be mapped back for display.

Columns of ``Manifest.frame``:

=================  ==========================================================================
``image_id``       str, unique within the manifest
``rel_path``       str, the image path as written in the label file (relative to the images)
``path``           str, ``rel_path`` resolved against ``images_root`` when one is given
``score``          float, 0-100 (the dataset's own scale mapped linearly)
``score_raw``      float, the dataset's own scale (``Manifest.scale``)
``std``            float, 0-100 scale, NaN when unknown
``distribution``   list[float] over the dataset's rating levels (``Manifest.levels``) or None
``split``          "train" / "val" / "test"
``category``       optional str (style, theme, artistic category)
``text``           optional str (comments)
``prompt``         optional str (text-to-image prompt)
``attr.<key>``     optional float per attribute, 0-100; raw scale in ``attribute_scales``
=================  ==========================================================================
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.errors import InputError
from artjudge.io.files import atomic_path, dumps_strict
from artjudge.io.files import atomic_write_bytes as _atomic_write_bytes

SPLITS: tuple[str, ...] = ("train", "val", "test")
REQUIRED_COLUMNS: tuple[str, ...] = (
    "image_id",
    "rel_path",
    "path",
    "score",
    "score_raw",
    "std",
    "distribution",
    "split",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("category", "text", "prompt")
ATTR_PREFIX = "attr."
MANIFEST_VERSION = "1"
_TOL = 1e-6


def to_unit(values: Any, lo: float, hi: float) -> Any:
    """Map values on ``[lo, hi]`` linearly onto 0-100 (the one artjudge scale)."""
    return (np.asarray(values, dtype=np.float64) - lo) / (hi - lo) * 100.0


def _row_label(i: int, image_id: Any, source_rows: Sequence[int] | None) -> str:
    where = f"row {source_rows[i]}" if source_rows is not None else f"row {i + 1}"
    return f"{where} (image {image_id!r})"


@dataclass
class Manifest:
    """A dataset as artjudge sees it: a frame of rows plus what the raw scales were.

    ``scale`` is the (min, max) of the dataset's own overall scale; ``levels`` the rating
    values its vote histograms are counted over (AVA 1..10, KonIQ 1..5), when it has them.
    """

    frame: pd.DataFrame
    name: str
    scale: tuple[float, float]
    attributes: list[str] = field(default_factory=list)
    images_root: Path | None = None
    source: str = ""
    attribute_scales: dict[str, tuple[float, float]] = field(default_factory=dict)
    levels: list[float] | None = None
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ construction

    def __post_init__(self) -> None:
        self.scale = (float(self.scale[0]), float(self.scale[1]))
        self.attribute_scales = {k: (float(v[0]), float(v[1])) for k, v in self.attribute_scales.items()}
        if self.images_root is not None:
            self.images_root = Path(self.images_root)
        self.validate()

    def validate(self) -> None:
        """Check the frame against the schema; raise one InputError naming row and reason."""
        src = self.source or self.name
        df = self.frame
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if missing:
            raise InputError(src, f"manifest is missing column(s): {', '.join(missing)}")
        lo, hi = self.scale
        if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            raise InputError(src, f"scale must be (min, max) with max > min, got {self.scale}")
        if len(df) == 0:
            raise InputError(src, "no rows")
        ids = df["image_id"].astype(str)
        dup = ids.duplicated(keep="first")
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise InputError(src, f"row {i + 1}: duplicate image id {ids.iloc[i]!r}")
        bad_split = ~df["split"].isin(SPLITS)
        if bad_split.any():
            i = int(np.flatnonzero(bad_split.to_numpy())[0])
            raise InputError(
                src,
                f"{_row_label(i, ids.iloc[i], None)}: split {df['split'].iloc[i]!r} "
                f"is not one of {', '.join(SPLITS)}",
            )
        raw = df["score_raw"].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(raw) | (raw < lo - _TOL) | (raw > hi + _TOL)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                src,
                f"{_row_label(i, ids.iloc[i], None)}: score {raw[i]!r} is outside the "
                f"declared range [{lo:g}, {hi:g}]",
            )
        for key in self.attributes:
            col = ATTR_PREFIX + key
            if col not in df.columns:
                raise InputError(src, f"attribute {key!r} is declared but column {col!r} is missing")
            v = df[col].to_numpy(dtype=np.float64)
            badv = np.isfinite(v) & ((v < -_TOL) | (v > 100 + _TOL))
            if badv.any():
                i = int(np.flatnonzero(badv)[0])
                raise InputError(
                    src,
                    f"{_row_label(i, ids.iloc[i], None)}: attribute {key!r} = {v[i]!r} "
                    "is outside 0-100 after mapping its declared scale",
                )

    # ------------------------------------------------------------------ views

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_distributions(self) -> bool:
        return bool(self.frame["distribution"].map(lambda d: d is not None and len(d) > 0).any())

    @property
    def has_categories(self) -> bool:
        return "category" in self.frame.columns and bool(self.frame["category"].notna().any())

    def split_counts(self) -> dict[str, int]:
        counts = self.frame["split"].value_counts()
        return {s: int(counts.get(s, 0)) for s in SPLITS}

    def split_frame(self, split: str) -> pd.DataFrame:
        """The rows of one split; an empty split is an error, not an empty benchmark."""
        if split not in SPLITS:
            raise InputError(self.source or self.name, f"unknown split {split!r}; known: {', '.join(SPLITS)}")
        part = self.frame[self.frame["split"] == split]
        if part.empty:
            counts = ", ".join(f"{k} {v}" for k, v in self.split_counts().items())
            raise InputError(self.source or self.name, f"split {split!r} is empty (rows per split: {counts})")
        return part.reset_index(drop=True)

    def select(self, split: str) -> Manifest:
        """A manifest holding only one split (same metadata)."""
        return self._replace_frame(self.split_frame(split))

    def _replace_frame(self, frame: pd.DataFrame) -> Manifest:
        return Manifest(
            frame=frame,
            name=self.name,
            scale=self.scale,
            attributes=list(self.attributes),
            images_root=self.images_root,
            source=self.source,
            attribute_scales=dict(self.attribute_scales),
            levels=None if self.levels is None else list(self.levels),
            notes=list(self.notes),
        )

    def _exists(self) -> np.ndarray:
        paths = self.frame["path"].astype(str).tolist()
        if self.images_root is None:
            return np.array([os.path.isabs(p) and os.path.isfile(p) for p in paths], dtype=bool)
        return np.array([os.path.isfile(p) for p in paths], dtype=bool)

    def missing_images(self) -> list[str]:
        """Image ids whose file is not on disk (all of them when no images folder is known)."""
        ok = self._exists()
        return self.frame["image_id"].astype(str)[~ok].tolist()

    def present(self) -> Manifest:
        """A manifest of only the rows whose image file exists (for scoring what is there)."""
        ok = self._exists()
        if not ok.any():
            raise InputError(
                self.source or self.name,
                "none of the images are present"
                + ("" if self.images_root else " (no images folder given: use --images DIR)"),
            )
        return self._replace_frame(self.frame[ok].reset_index(drop=True))

    def with_images(self, root: str | os.PathLike[str]) -> Manifest:
        """The same manifest with paths resolved against ``root``."""
        root_p = Path(root)
        frame = self.frame.copy()
        frame["path"] = [
            str(root_p / p) if not os.path.isabs(p) else p for p in frame["rel_path"].astype(str)
        ]
        m = self._replace_frame(frame)
        m.images_root = root_p
        return m

    # ------------------------------------------------------------------ labels

    def soft_labels(self, column: str = "score", n_bins: int = 101) -> np.ndarray:
        """Training targets, shape (rows, n_bins): one distribution per row on 0-100.

        Per row, in order of preference: the vote histogram (spread onto the bins with
        ``scoring.distribution_from_votes``) when the row has one and its mean agrees with
        the score; else a Gaussian with the row's std; else the score-based estimate.
        Attribute columns (``column="attr.<key>"``) use the score-based estimate.
        """
        from artjudge import scoring

        if column not in self.frame.columns:
            raise InputError(self.source or self.name, f"no column {column!r} to build soft labels from")
        scores = self.frame[column].to_numpy(dtype=np.float64)
        if np.isnan(scores).any():
            raise InputError(
                self.source or self.name,
                f"column {column!r} has {int(np.isnan(scores).sum())} empty values; "
                "drop those rows before building soft labels",
            )
        if column != "score":
            return scoring.soft_labels(scores, None, n_bins)
        stds = self.frame["std"].to_numpy(dtype=np.float64)
        out = scoring.soft_labels(scores, stds, n_bins)
        if self.levels is not None:
            dists = self.frame["distribution"].tolist()
            rows = [
                i
                for i, d in enumerate(dists)
                if d is not None and len(d) == len(self.levels) and float(np.sum(d)) > 0
            ]
            if rows:
                counts = np.asarray([dists[i] for i in rows], dtype=np.float64)
                lo_l, hi_l = float(min(self.levels)), float(max(self.levels))
                labels = scoring.distribution_from_votes(
                    counts, levels=self.levels, scale=(lo_l, hi_l), n_bins=n_bins
                )
                grid = np.linspace(0.0, 100.0, n_bins)
                means = labels @ grid
                agree = np.abs(means - scores[rows]) <= 1.0
                idx = np.asarray(rows)[agree]
                out[idx] = labels[agree]
        return out

    def target_distributions(self, n_bins: int = 101) -> np.ndarray | None:
        """Human rating distributions on the 0-100 bins (for KL / JS / EMD), or None."""
        if self.levels is None or not self.has_distributions:
            return None
        from artjudge import scoring

        dists = self.frame["distribution"].tolist()
        if any(d is None or len(d) != len(self.levels) for d in dists):
            return None
        counts = np.asarray(dists, dtype=np.float64)
        return scoring.distribution_from_votes(
            counts, levels=self.levels, scale=(min(self.levels), max(self.levels)), n_bins=n_bins
        )

    # ------------------------------------------------------------------ persistence

    def metadata(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "name": self.name,
            "scale": list(self.scale),
            "attributes": list(self.attributes),
            "attribute_scales": {k: list(v) for k, v in self.attribute_scales.items()},
            "levels": self.levels,
            "images_root": None if self.images_root is None else str(self.images_root),
            "source": self.source,
            "notes": list(self.notes),
            "rows": len(self.frame),
            "splits": self.split_counts(),
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the frame (``.jsonl`` or ``.parquet``) and ``<path>.meta.json``, atomically."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix not in (".jsonl", ".parquet"):
            raise InputError(str(p), "manifest files end in .jsonl or .parquet")
        p.parent.mkdir(parents=True, exist_ok=True)
        frame = self.frame.copy()
        frame["distribution"] = [None if d is None else [float(x) for x in d] for d in frame["distribution"]]
        if suffix == ".jsonl":
            records = frame.to_dict(orient="records")
            text = "".join(dumps_strict(_clean(r), ensure_ascii=False) + "\n" for r in records)
            _atomic_write_bytes(p, text.encode("utf-8"))
        else:
            with atomic_path(p, suffix=".tmp") as tmp:
                frame.to_parquet(tmp, index=False)
        meta = dumps_strict(self.metadata(), indent=2, ensure_ascii=False)
        _atomic_write_bytes(meta_path(p), meta.encode("utf-8"))
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Manifest:
        p = Path(path)
        mp = meta_path(p)
        if not p.is_file():
            raise InputError(str(p), "manifest file not found")
        if not mp.is_file():
            raise InputError(str(mp), "manifest metadata file not found (it is written beside the manifest)")
        try:
            meta = json.loads(mp.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise InputError(str(mp), f"not valid JSON ({err})") from None
        try:
            if p.suffix.lower() == ".parquet":
                frame = pd.read_parquet(p)
                frame["distribution"] = [
                    None if d is None else [float(x) for x in d] for d in frame["distribution"]
                ]
            else:
                frame = pd.read_json(p, lines=True, dtype={"image_id": str, "rel_path": str, "path": str})
        except Exception as err:  # noqa: BLE001 - any parse failure is one bad-input line
            raise InputError(str(p), f"cannot read manifest ({type(err).__name__}: {err})") from None
        frame["image_id"] = frame["image_id"].astype(str)
        if "distribution" in frame.columns:
            frame["distribution"] = [
                d if isinstance(d, list) else (None if d is None or _isnan(d) else list(d))
                for d in frame["distribution"]
            ]
        root = meta.get("images_root")
        return cls(
            frame=frame,
            name=meta["name"],
            scale=tuple(meta["scale"]),
            attributes=list(meta.get("attributes") or []),
            images_root=Path(root) if root else None,
            source=meta.get("source", str(p)),
            attribute_scales={k: tuple(v) for k, v in (meta.get("attribute_scales") or {}).items()},
            levels=meta.get("levels"),
            notes=list(meta.get("notes") or []),
        )


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _isnan(x: Any) -> bool:
    try:
        return bool(isinstance(x, float) and math.isnan(x))
    except TypeError:
        return False


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, float) and math.isnan(v):
            out[k] = None
        elif isinstance(v, np.generic):
            out[k] = v.item()
        elif v is pd.NA:
            out[k] = None
        else:
            out[k] = v
    return out


def _numeric(values: Any) -> np.ndarray:
    """A column as float64, anything that is not a number as NaN."""
    return np.asarray(
        pd.to_numeric(pd.Series(list(np.asarray(values, dtype=object))), errors="coerce"), dtype=np.float64
    )


def _checked_scores(
    score_raw: Any, lo: float, hi: float, ids: list[str], source: str, source_rows: Sequence[int] | None
) -> np.ndarray:
    """The raw scores as numbers; the first missing or out-of-range one is one line naming its row."""
    raw = _numeric(score_raw)
    bad = ~np.isfinite(raw) | (raw < lo - _TOL) | (raw > hi + _TOL)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        reason = (
            "score is missing or not a number"
            if not np.isfinite(raw[i])
            else (f"score {raw[i]:g} is outside the declared range [{lo:g}, {hi:g}]")
        )
        raise InputError(source, f"{_row_label(i, ids[i], source_rows)}: {reason}")
    return raw


def _check_unique_ids(ids: list[str], source: str, source_rows: Sequence[int] | None) -> None:
    """A repeated image id is one line naming both rows."""
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x in seen:
            raise InputError(
                source,
                f"{_row_label(i, x, source_rows)}: duplicate image id "
                f"(first at {_row_label(seen[x], x, source_rows).split(' (')[0]})",
            )
        seen[x] = i


def _text_or_none(v: Any) -> str | None:
    """A text cell as a string; missing, NaN and blank cells as None."""
    if (
        v is None
        or (isinstance(v, float) and math.isnan(v))
        or (isinstance(v, str) and not v.strip())
        or v is pd.NA
    ):
        return None
    return str(v)


def _add_attributes(
    cols: dict[str, Any],
    attributes: dict[str, Any],
    scales: dict[str, tuple[float, float]],
    scale: tuple[float, float],
    ids: list[str],
    source: str,
    source_rows: Sequence[int] | None,
) -> list[str]:
    """Add each attribute as a 0-100 column (its own scale, else the score's); fills ``scales``."""
    attr_keys: list[str] = []
    for key, values in attributes.items():
        a_lo, a_hi = scales.get(key, scale)
        scales[key] = (float(a_lo), float(a_hi))
        v = _numeric(values)
        badv = np.isfinite(v) & ((v < a_lo - _TOL) | (v > a_hi + _TOL))
        if badv.any():
            i = int(np.flatnonzero(badv)[0])
            raise InputError(
                source,
                f"{_row_label(i, ids[i], source_rows)}: attribute {key!r} = {v[i]:g} is "
                f"outside its declared range [{a_lo:g}, {a_hi:g}]",
            )
        cols[ATTR_PREFIX + key] = to_unit(v, a_lo, a_hi)
        attr_keys.append(key)
    return attr_keys


def build_manifest(
    *,
    name: str,
    source: str,
    image_id: Sequence[Any],
    rel_path: Sequence[Any],
    score_raw: Any,
    scale: tuple[float, float],
    split: Sequence[str],
    std_raw: Any = None,
    distribution: Sequence[Sequence[float] | None] | None = None,
    levels: Sequence[float] | None = None,
    category: Sequence[Any] | None = None,
    text: Sequence[Any] | None = None,
    prompt: Sequence[Any] | None = None,
    attributes: dict[str, Any] | None = None,
    attribute_scales: dict[str, tuple[float, float]] | None = None,
    images: str | os.PathLike[str] | None = None,
    source_rows: Sequence[int] | None = None,
    notes: Sequence[str] = (),
) -> Manifest:
    """Assemble and validate a manifest from columns on the dataset's own scales.

    Readers call this once; it maps every scale to 0-100 here, so no other module ever
    converts a dataset scale. ``source_rows`` are the row numbers in the label file, used
    to name the offending row in errors.
    """
    lo, hi = float(scale[0]), float(scale[1])
    ids = [str(x) for x in image_id]
    raw = _checked_scores(score_raw, lo, hi, ids, source, source_rows)
    _check_unique_ids(ids, source, source_rows)
    n = len(ids)
    rels = [str(p) for p in rel_path]
    root = Path(images) if images is not None else None
    paths = [p if (root is None or os.path.isabs(p)) else str(root / p) for p in rels]
    std = np.full(n, np.nan) if std_raw is None else np.asarray(std_raw, dtype=np.float64) * 100.0 / (hi - lo)
    cols: dict[str, Any] = {
        "image_id": ids,
        "rel_path": rels,
        "path": paths,
        "score": to_unit(raw, lo, hi),
        "score_raw": raw,
        "std": std,
        "distribution": [None] * n
        if distribution is None
        else [None if d is None else [float(v) for v in d] for d in distribution],
        "split": [str(s) for s in split],
    }
    for key, values in (("category", category), ("text", text), ("prompt", prompt)):
        if values is not None:
            cols[key] = [_text_or_none(v) for v in values]
    scales = dict(attribute_scales or {})
    attr_keys = _add_attributes(cols, attributes or {}, scales, (lo, hi), ids, source, source_rows)
    frame = pd.DataFrame(cols)
    counts = frame["split"].value_counts()
    if (frame["split"].isin(SPLITS)).all() and len(counts) == 0:
        raise InputError(source, "no rows")
    return Manifest(
        frame=frame,
        name=name,
        scale=(lo, hi),
        attributes=attr_keys,
        images_root=root,
        source=source,
        attribute_scales=scales,
        levels=None if levels is None else [float(x) for x in levels],
        notes=list(notes),
    )
