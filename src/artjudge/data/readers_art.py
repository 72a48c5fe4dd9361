"""Readers for art datasets: AGIQA-3K, APDD v1 / APDDv2, BAID, JenAesthetics, ArtiMuse-10K.

Each reads the label files as their authors published them (see docs/datasets.md for
where to get them) and maps scores onto 0-100 once, through ``build_manifest``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.data._io import (
    file_rows,
    find_file,
    numeric,
    read_csv,
    read_excel,
    read_json_records,
    require_columns,
)
from artjudge.data.common import SEEDED_NOTE, normalize_split, seeded_split
from artjudge.data.manifest import Manifest, build_manifest
from artjudge.data.registry import register
from artjudge.data.splits import split_by_group
from artjudge.errors import InputError
from artjudge.taxonomy import APDDV2, ARTIMUSE, JENAESTHETICS

# ------------------------------------------------------------------------ AGIQA-3K

AGIQA_SCALE = (0.0, 5.0)


@register(
    "agiqa-3k",
    aliases=("agiqa", "agiqa3k"),
    label_files="data.csv",
    scale="mos_quality 0-5 (std_quality), mos_align 0-5 -> attr.alignment",
    split="by prompt: split_by_group(prompts, test 0.2, val 0.1, seed 0)",
)
def read_agiqa(
    path: Path,
    images: Path | None = None,
    *,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Manifest:
    """AGIQA-3K: perceptual quality is the score; prompt alignment is an attribute.

    The split is drawn over prompts so that no prompt is in two splits; with the
    defaults it is exactly the split the shipped default model was trained on.
    """
    csv = path / "data.csv" if path.is_dir() else path
    src = str(csv)
    if images is None and (csv.parent / "images").is_dir():
        images = csv.parent / "images"
    df = read_csv(csv, src)
    require_columns(df, ["name", "prompt", "mos_quality", "std_quality", "mos_align"], src)
    prompts = df["prompt"].fillna("").astype(str).tolist()
    split = split_by_group(prompts, test_fraction=test_fraction, val_fraction=val_fraction, seed=seed)
    return build_manifest(
        name="agiqa-3k",
        source=src,
        image_id=df["name"].astype(str).tolist(),
        rel_path=df["name"].astype(str).tolist(),
        score_raw=numeric(df, "mos_quality", src),
        std_raw=numeric(df, "std_quality", src),
        scale=AGIQA_SCALE,
        split=split,
        category=df["style"].tolist() if "style" in df.columns else None,
        prompt=prompts,
        attributes={"alignment": numeric(df, "mos_align", src)},
        attribute_scales={"alignment": AGIQA_SCALE},
        images=images,
        source_rows=file_rows(len(df)),
        notes=[f"split by prompt, test {test_fraction}, val {val_fraction}, seed {seed}"],
    )


# ------------------------------------------------------------------------ APDD / APDDv2

APDD_ATTR_COLUMNS: dict[str, str] = {
    "Theme and logic": "theme_and_logic",
    "Creativity": "creativity",
    "Layout and composition": "layout_and_composition",
    "Space and perspective": "space_and_perspective",
    "The sense of order": "sense_of_order",
    "Light and shadow": "light_and_shadow",
    "Color": "color",
    "Details and texture": "details_and_texture",
    "The overall": "overall",
    "Mood": "mood",
}
assert list(APDD_ATTR_COLUMNS.values()) == APDDV2.keys()
APDD_ATTR_SCALE = (APDDV2.scale_min, APDDV2.scale_max)
_APDD_SPLIT_FILES = {
    "train": ("v2_csvfiles_train.csv", "train.csv"),
    "val": ("v2_csvfiles_valid.csv", "valid.csv", "val.csv"),
    "test": ("v2_csvfiles_test.csv", "test.csv"),
}


def _apdd_official_split(folder: Path, filenames: list[str], src: str) -> tuple[list[str] | None, str]:
    """The official APDDv2 split files (train / valid / test CSVs), when they are beside the labels."""
    where: dict[str, str] = {}
    found = []
    for split, names in _APDD_SPLIT_FILES.items():
        f = next((folder / n for n in names if (folder / n).is_file()), None)
        if f is None:
            continue
        found.append(f.name)
        part = read_csv(f, str(f))
        require_columns(part, ["filename"], str(f))
        if part.empty:
            raise InputError(str(f), f"split file for {split!r} has no rows")
        for name in part["filename"].astype(str):
            where.setdefault(name, split)
    if len(found) < 3:
        return None, ""
    missing = [n for n in filenames if n not in where]
    if missing:
        raise InputError(src, f"{len(missing)} image(s) are in no official split file, e.g. {missing[0]!r}")
    return [where[n] for n in filenames], "official split files: " + ", ".join(found)


def _read_apdd(path: Path, images: Path | None, *, version: int, seed: int) -> Manifest:
    if path.is_dir():
        names = ("v2_APDDv2-10023.csv", "APDDv2-10023.csv") if version == 2 else ("v1_APDD.csv", "APDD.csv")
        csv = find_file(path, names, str(path), f"APDD{'v2' if version == 2 else ' v1'} label file")
    else:
        csv = path
    src = str(csv)
    df = read_csv(csv, src, dtype={"filename": str})
    score_col = "Total aesthetic score" if "Total aesthetic score" in df.columns else "Score"
    require_columns(df, ["filename", "Artistic Categories", score_col, *APDD_ATTR_COLUMNS], src)
    scale = (0.0, 100.0) if score_col == "Total aesthetic score" else (0.0, 10.0)
    filenames = df["filename"].astype(str).str.strip().tolist()
    split, note = _apdd_official_split(csv.parent, filenames, src)
    if split is None:
        split = seeded_split(filenames, seed=seed)
        note = SEEDED_NOTE.format(t=0.2, v=0.1, by="image", seed=seed)
    text = None
    if "Language Comment" in df.columns:
        text = df["Language Comment"].tolist()
    return build_manifest(
        name="apddv2" if version == 2 else "apdd",
        source=src,
        image_id=filenames,
        rel_path=filenames,
        score_raw=numeric(df, score_col, src),
        scale=scale,
        split=split,
        category=df["Artistic Categories"].tolist(),
        text=text,
        attributes={key: numeric(df, col, src, allow_missing=True) for col, key in APDD_ATTR_COLUMNS.items()},
        attribute_scales=dict.fromkeys(APDD_ATTR_COLUMNS.values(), APDD_ATTR_SCALE),
        images=images,
        source_rows=file_rows(len(df)),
        notes=[note, "attribute scores are blank where the attribute does not apply to the category"],
    )


@register(
    "apddv2",
    aliases=("apdd-v2", "apdd2"),
    label_files="APDDv2-10023.csv (+ csvfiles/{train,valid,test}.csv)",
    scale="total aesthetic score 0-100; 10 attributes 0-10",
    split="official train / valid / test files",
)
def read_apddv2(path: Path, images: Path | None = None, *, seed: int = 0) -> Manifest:
    """APDDv2: total score, 10 attributes (blank = not applicable), artist comments."""
    return _read_apdd(path, images, version=2, seed=seed)


@register(
    "apdd",
    aliases=("apdd-v1", "apdd1"),
    label_files="APDD.csv",
    scale="score 0-10; 10 attributes 0-10",
    split="APDDv2's official split files when beside it (v1 is a subset), else seeded by image",
)
def read_apdd(path: Path, images: Path | None = None, *, seed: int = 0) -> Manifest:
    """APDD v1: as APDDv2 without comments; v1 published no split of its own."""
    return _read_apdd(path, images, version=1, seed=seed)


# ------------------------------------------------------------------------ BAID

_BAID_FILES = {"train": "train_set.csv", "val": "val_set.csv", "test": "test_set.csv"}


@register(
    "baid",
    label_files="train_set.csv, val_set.csv, test_set.csv",
    scale="vote-based score 0-10",
    split="official train / val / test files",
)
def read_baid(path: Path, images: Path | None = None) -> Manifest:
    """BAID: one CSV per official split, ``image,score`` with a 0-10 vote-based score."""
    folder = path if path.is_dir() else path.parent
    parts: list[pd.DataFrame] = []
    for split, name in _BAID_FILES.items():
        f = folder / name
        if not f.is_file():
            if path.is_file() and path.name != name:
                continue
            raise InputError(str(f), "BAID split file not found")
        part = read_csv(f, str(f), dtype={"image": str})
        require_columns(part, ["image", "score"], str(f))
        if part.empty:
            raise InputError(str(f), f"split {split!r} has no rows")
        part["_score"] = numeric(part, "score", str(f))
        part["_split"] = split
        part["_row"] = file_rows(len(part))
        part["_src"] = str(f)
        parts.append(part)
    df = pd.concat(parts, ignore_index=True)
    return build_manifest(
        name="baid",
        source=str(folder),
        image_id=df["image"].tolist(),
        rel_path=df["image"].tolist(),
        score_raw=df["_score"].to_numpy(),
        scale=(0.0, 10.0),
        split=df["_split"].tolist(),
        images=images,
        source_rows=df["_row"].tolist(),
        notes=["official split files"],
    )


# ------------------------------------------------------------------------ JenAesthetics

JEN_COLUMNS: dict[str, str] = {
    "Aesthetic Quality": "aesthetic",
    "Beauty": "beauty",
    "Liking of Color": "color",
    "Liking of Composition": "composition",
    "Liking of Content": "content",
}
assert list(JEN_COLUMNS.values()) == JENAESTHETICS.keys()


def _artist(name: str) -> str:
    stem = Path(name).stem
    return re.sub(r"[\s_\-]*\d+$", "", stem).strip().lower() or stem.lower()


@register(
    "jenaesthetics",
    aliases=("jen",),
    label_files="Subjective scores.xlsx (or a CSV with the same columns)",
    scale="median ratings 0-100 (aesthetic quality = score; 5 ratings as attributes)",
    split="none published: split by artist, test 0.2, val 0.1, seed 0",
)
def read_jenaesthetics(path: Path, images: Path | None = None, *, seed: int = 0) -> Manifest:
    """JenAesthetics: 1,628 paintings; split by artist so no painter is in two splits."""
    if path.is_dir():
        f = find_file(
            path,
            ("Subjective scores.xlsx", "jenaesthetics_scores_with_links.csv", "*.xlsx"),
            str(path),
            "JenAesthetics score file",
        )
    else:
        f = path
    src = str(f)
    df = read_excel(f, src) if f.suffix.lower() in (".xlsx", ".xls") else read_csv(f, src)
    require_columns(df, ["File name", *JEN_COLUMNS], src)
    df = df[df["File name"].notna()].reset_index(drop=True)
    names = [n if Path(n).suffix else f"{n}.jpg" for n in df["File name"].astype(str).str.strip()]
    artists = [_artist(n) for n in names]
    split = split_by_group(artists, test_fraction=0.2, val_fraction=0.1, seed=seed)
    attrs = {key: numeric(df, col, src) for col, key in JEN_COLUMNS.items()}
    return build_manifest(
        name="jenaesthetics",
        source=src,
        image_id=names,
        rel_path=names,
        score_raw=attrs["aesthetic"],
        scale=(0.0, 100.0),
        split=split,
        category=None,
        attributes=attrs,
        attribute_scales=dict.fromkeys(JEN_COLUMNS.values(), (0.0, 100.0)),
        images=images,
        source_rows=file_rows(len(df)),
        notes=[SEEDED_NOTE.format(t=0.2, v=0.1, by="artist (file name without its number)", seed=seed)],
    )


# ------------------------------------------------------------------------ ArtiMuse-10K

_ARTIMUSE_NAMES: dict[str, str] = {}
for _a in ARTIMUSE.attributes:
    for _k in (
        _a.key,
        _a.name,
        _a.name.lower(),
        _a.name.replace(" & ", "_").lower(),
        _a.name.replace(" & ", " and ").lower(),
    ):
        _ARTIMUSE_NAMES[_k] = _a.key
_IMAGE_KEYS = ("image", "image_path", "img", "filename", "file_name", "image_name")
_SCORE_KEYS = ("score", "gt_score", "overall", "overall_score", "total_score", "aesthetic_score", "mos")
_TEXT_KEYS = ("text", "comment", "description", "analysis")


def _artimuse_files(path: Path) -> list[Path]:
    """The label files: ``path`` itself, or the train/val/test JSON(L) files under a folder."""
    if not path.is_dir():
        return [path]
    files = sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in (".json", ".jsonl")
        and any(s in p.stem.lower() for s in ("train", "val", "test"))
    )
    if not files:
        raise InputError(str(path), "no train/val/test .json or .jsonl files found")
    return files


def _artimuse_attributes(rec: dict[str, Any]) -> tuple[dict[str, float | None], list[str]]:
    """One record's attribute scores by key (top level or nested) and their analyses as text lines."""
    pool = dict(rec)
    for nested in ("attributes", "scores", "dimensions"):
        if isinstance(rec.get(nested), dict):
            pool.update(rec[nested])
    found: dict[str, float | None] = {}
    notes_txt: list[str] = []
    for k, v in pool.items():
        key = _ARTIMUSE_NAMES.get(str(k)) or _ARTIMUSE_NAMES.get(str(k).lower())
        if key is None:
            continue
        s, t = _attr_value(v)
        found[key] = s
        if t:
            notes_txt.append(f"{key}: {t}")
    return found, notes_txt


def _attr_value(v: Any) -> tuple[float | None, str | None]:
    if isinstance(v, dict):
        s = next((v[k] for k in ("score", "value", "rating") if k in v), None)
        t = next((v[k] for k in _TEXT_KEYS if k in v), None)
        return (None if s is None else float(s)), (None if t is None else str(t))
    if isinstance(v, (int, float)):
        return float(v), None
    if isinstance(v, str):
        try:
            return float(v), None
        except ValueError:
            return None, v
    return None, None


@register(
    "artimuse-10k",
    aliases=("artimuse", "artimuse10k"),
    label_files="JSON / JSONL records (text/train.jsonl, text/test.jsonl)",
    scale="holistic score 0-100 (override with scale=); 8 ArtiMuse attributes",
    split="the record's 'split' field, else the file name (train / val / test)",
)
def read_artimuse(
    path: Path,
    images: Path | None = None,
    *,
    scale: tuple[float, float] = (0.0, 100.0),
    attribute_scale: tuple[float, float] | None = None,
) -> Manifest:
    """ArtiMuse-10K: a holistic score and 8 attribute analyses per image.

    The release is gated; records are read tolerantly: the image under one of
    ``image/image_path/filename``, the score under ``score/gt_score/overall``, the
    attributes by ArtiMuse name or key, at the top level or under ``attributes``, each a
    number or ``{"score": .., "text": ..}``.
    """
    files = _artimuse_files(path)
    ids: list[str] = []
    scores: list[float] = []
    splits: list[str] = []
    cats: list[Any] = []
    texts: list[Any] = []
    rows: list[int] = []
    attrs: dict[str, list[float]] = {a.key: [] for a in ARTIMUSE.attributes}
    for f in files:
        recs = read_json_records(f, str(f))
        file_split = next((s for s in ("train", "val", "test") if s in f.stem.lower()), None)
        for n, rec in enumerate(recs, start=1):
            img = next((rec[k] for k in _IMAGE_KEYS if k in rec), None)
            sc = next((rec[k] for k in _SCORE_KEYS if k in rec), None)
            if img is None:
                raise InputError(str(f), f"record {n}: no image field (one of {', '.join(_IMAGE_KEYS)})")
            if sc is None:
                raise InputError(str(f), f"record {n}: no score field (one of {', '.join(_SCORE_KEYS)})")
            sp = rec.get("split", file_split)
            if sp is None:
                raise InputError(str(f), f"record {n}: no split field and the file name names no split")
            ids.append(str(img))
            try:
                scores.append(float(sc))
            except (TypeError, ValueError):
                raise InputError(str(f), f"record {n}: score {sc!r} is not a number") from None
            splits.append(normalize_split(sp, str(f), n))
            cat = rec.get("category") or rec.get("main_category")
            sub = rec.get("subcategory") or rec.get("sub_category")
            cats.append(f"{cat}/{sub}" if cat and sub else cat)
            found, notes_txt = _artimuse_attributes(rec)
            for key in attrs:
                val = found.get(key)
                attrs[key].append(np.nan if val is None else val)
            top_text = next((rec[k] for k in _TEXT_KEYS if isinstance(rec.get(k), str)), None)
            texts.append(top_text or ("\n".join(notes_txt) if notes_txt else None))
            rows.append(n)
    present = {k: v for k, v in attrs.items() if not np.all(np.isnan(np.asarray(v, dtype=np.float64)))}
    a_scale = attribute_scale or scale
    return build_manifest(
        name="artimuse-10k",
        source=str(path),
        image_id=ids,
        rel_path=ids,
        score_raw=scores,
        scale=scale,
        split=splits,
        category=cats,
        text=texts,
        attributes=present,
        attribute_scales=dict.fromkeys(present, a_scale),
        images=images,
        source_rows=rows,
    )
