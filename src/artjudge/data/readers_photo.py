"""Readers for photo aesthetics / quality datasets: AVA, KonIQ-10k, TAD66K, AADB, PARA,
SPAQ, FLICKR-AES. Formats as published by their authors (see docs/datasets.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from artjudge.data._io import (
    file_rows,
    find_file,
    load_mat,
    numeric,
    open_zip,
    read_csv,
    read_excel,
    read_json_records,
    require_columns,
)
from artjudge.data.common import SEEDED_NOTE, normalize_splits, seeded_split
from artjudge.data.manifest import Manifest, build_manifest
from artjudge.data.registry import register
from artjudge.errors import InputError

# ------------------------------------------------------------------------ AVA

AVA_LEVELS = [float(i) for i in range(1, 11)]


def _vote_stats(
    counts: np.ndarray, levels: list[float], src: str, rows: list[int], ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    totals = counts.sum(axis=1)
    bad = (totals <= 0) | np.any(counts < 0, axis=1) | ~np.all(np.isfinite(counts), axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(src, f"row {rows[i]} (image {ids[i]!r}): vote histogram has no votes or a bad count")
    lv = np.asarray(levels)
    p = counts / totals[:, None]
    mean = p @ lv
    std = np.sqrt(np.maximum(p @ (lv**2) - mean**2, 0.0))
    return mean, std


def _ava_frame(f: Path) -> tuple[pd.DataFrame, str | None]:
    """One AVA label file as (image_id, 10 counts, split-from-file-name) rows."""
    src = str(f)
    name = f.name.lower()
    split = next(
        (
            s
            for s, keys in (("train", ("train",)), ("val", ("val",)), ("test", ("test",)))
            if any(k in name for k in keys)
        ),
        None,
    )
    if f.suffix.lower() == ".json":
        recs = read_json_records(f, src)
        ids, counts = [], []
        for n, r in enumerate(recs, start=1):
            if "image_id" not in r or "label" not in r:
                raise InputError(src, f"record {n}: needs 'image_id' and 'label' (a 10-bin vote histogram)")
            if len(r["label"]) != 10:
                raise InputError(src, f"record {n}: 'label' has {len(r['label'])} bins, expected 10")
            ids.append(str(r["image_id"]))
            counts.append([float(x) for x in r["label"]])
        df = pd.DataFrame(counts, columns=[f"v{i}" for i in range(1, 11)])
        df.insert(0, "image_id", ids)
        df["_row"] = list(range(1, len(ids) + 1))
        return df, split
    if f.suffix.lower() == ".csv":
        df = read_csv(f, src, dtype={"image_id": str})
        cols = [f"score{i}" for i in range(2, 12)]  # TANet layout: score2..score11 = votes for 1..10
        require_columns(df, ["image_id", *cols], src)
        out = pd.DataFrame(
            {f"v{i - 1}": numeric(df, c, src) for i, c in zip(range(2, 12), cols, strict=True)}
        )
        out.insert(0, "image_id", df["image_id"].astype(str).tolist())
        out["_row"] = file_rows(len(df))
        return out, split
    # AVA.txt: index, image id, 10 vote counts, 2 semantic tags, challenge id (space separated)
    try:
        df = pd.read_csv(f, sep=r"\s+", header=None, dtype=str, engine="python")
    except Exception as err:  # noqa: BLE001
        raise InputError(src, f"not the AVA.txt layout ({err})") from None
    if df.shape[1] < 12:
        raise InputError(
            src, f"AVA.txt rows need >= 12 fields (index, image id, 10 votes), found {df.shape[1]}"
        )
    out = pd.DataFrame({f"v{i}": pd.to_numeric(df[i + 1], errors="coerce") for i in range(1, 11)})
    if out.isna().any().any():
        bad_row = int(np.flatnonzero(out.isna().any(axis=1).to_numpy())[0])
        raise InputError(src, f"row {bad_row + 1}: vote counts are not numbers")
    out.insert(0, "image_id", df[1].astype(str).tolist())
    out["_row"] = list(range(1, len(df) + 1))
    return out, None


@register(
    "ava",
    label_files="ava_labels_{train,test}.json (NIMA), tanet_ava_{val,test}.csv or AVA.txt",
    scale="10-bin vote histograms over 1..10: mean, std, distribution",
    split="from the file name (train / val / test); AVA.txt: seeded by image",
)
def read_ava(path: Path, images: Path | None = None, *, variant: str = "auto", seed: int = 0) -> Manifest:
    """AVA: per image a 10-bin histogram of votes 1..10; the score is the vote mean.

    In a folder, ``variant="auto"`` reads the NIMA-style ``ava_labels_*.json`` files when
    present, else TANet's ``tanet_ava_*.csv``, else ``AVA.txt``; the two published splits
    overlap, so they are never mixed.
    """
    if path.is_dir():
        groups = {
            "nima": sorted(path.glob("ava_labels_*.json")),
            "tanet": sorted(path.glob("tanet_ava_*.csv")),
            "txt": sorted(path.glob("AVA.txt")),
        }
        order = ["nima", "tanet", "txt"] if variant == "auto" else [variant]
        if variant not in ("auto", *groups):
            raise InputError(str(path), f"unknown AVA variant {variant!r}; known: auto, {', '.join(groups)}")
        files = next((groups[k] for k in order if groups[k]), [])
        if not files:
            raise InputError(
                str(path), "no AVA label file found (ava_labels_*.json, tanet_ava_*.csv, AVA.txt)"
            )
    else:
        files = [path]
    frames = []
    for f in files:
        df, split = _ava_frame(f)
        if df.empty:
            raise InputError(str(f), "file has no rows")
        df["_src"] = str(f)
        df["_split"] = split
        frames.append(df)
    df = pd.concat(frames, ignore_index=True)
    notes: list[str] = []
    if df["_split"].isna().any():
        df["_split"] = seeded_split(df["image_id"].tolist(), seed=seed)
        notes.append(SEEDED_NOTE.format(t=0.2, v=0.1, by="image", seed=seed))
    counts = df[[f"v{i}" for i in range(1, 11)]].to_numpy(dtype=np.float64)
    ids = df["image_id"].astype(str).tolist()
    src = ", ".join(str(f) for f in files)
    mean, std = _vote_stats(counts, AVA_LEVELS, src, df["_row"].tolist(), ids)
    return build_manifest(
        name="ava",
        source=src,
        image_id=ids,
        rel_path=[f"{i}.jpg" for i in ids],
        score_raw=mean,
        std_raw=std,
        distribution=counts.tolist(),
        levels=AVA_LEVELS,
        scale=(1.0, 10.0),
        split=df["_split"].tolist(),
        images=images,
        source_rows=df["_row"].tolist(),
        notes=notes,
    )


# ------------------------------------------------------------------------ KonIQ-10k

KONIQ_LEVELS = [1.0, 2.0, 3.0, 4.0, 5.0]


@register(
    "koniq-10k",
    aliases=("koniq", "koniq10k"),
    label_files="koniq10k_distributions_sets.csv (or koniq10k_scores_and_distributions.csv)",
    scale="MOS 1-100; SD on the 1-5 rating scale; c1..c5 rating distribution",
    split="the 'set' column (training / validation / test); seeded by image when absent",
)
def read_koniq(path: Path, images: Path | None = None, *, seed: int = 0) -> Manifest:
    """KonIQ-10k: MOS on 1-100, its SD on the 5-point rating scale, the 5-level distribution."""
    if path.is_dir():
        f = find_file(
            path,
            ("koniq10k_distributions_sets.csv", "koniq10k_scores_and_distributions.csv"),
            str(path),
            "KonIQ-10k label file",
        )
    else:
        f = path
    src = str(f)
    df = read_csv(f, src, dtype={"image_name": str})
    cs = ["c1", "c2", "c3", "c4", "c5"]
    require_columns(df, ["image_name", *cs, "MOS", "SD"], src)
    counts = np.stack([numeric(df, c, src) for c in cs], axis=1)
    notes = ["std: SD on the 1-5 rating scale mapped to 0-100 (x25)"]
    if "set" in df.columns:
        split = normalize_splits(df["set"].tolist(), src)
    else:
        split = seeded_split(df["image_name"].tolist(), seed=seed)
        notes.append(SEEDED_NOTE.format(t=0.2, v=0.1, by="image", seed=seed))
    names = df["image_name"].astype(str).tolist()
    # SD is on the 5-point scale (4 points wide); express it in MOS units (99 wide) so the
    # one linear map in build_manifest turns it into 0-100 points (SD x 25).
    return build_manifest(
        name="koniq-10k",
        source=src,
        image_id=names,
        rel_path=names,
        score_raw=numeric(df, "MOS", src),
        std_raw=numeric(df, "SD", src) * 99.0 / 4.0,
        distribution=counts.tolist(),
        levels=KONIQ_LEVELS,
        scale=(1.0, 100.0),
        split=split,
        images=images,
        source_rows=file_rows(len(df)),
        notes=notes,
    )


# ------------------------------------------------------------------------ TAD66K

_TAD_MERGE = re.compile(r"(?:^|/)merge/(train|test|val)\.csv$")
_TAD_THEME = re.compile(r"(?:^|/)unmerge/(?:train|test|val)/([^/]+)\.csv$")


@register(
    "tad66k",
    aliases=("tad-66k", "tad"),
    label_files="dataset.zip (dataset/merge/{train,test}.csv + dataset/unmerge/<split>/<theme>.csv)",
    scale="score 0-10",
    split="merge/train.csv and merge/test.csv; theme -> category",
)
def read_tad66k(path: Path, images: Path | None = None) -> Manifest:
    """TAD66K: read straight from the published zip (or its extracted folder); theme = category."""
    members: dict[str, bytes] = {}
    if path.is_dir() and not (path / "dataset.zip").is_file():
        for p in path.rglob("*.csv"):
            members[p.relative_to(path).as_posix()] = p.read_bytes()
        src = str(path)
    else:
        zpath = path / "dataset.zip" if path.is_dir() else path
        src = str(zpath)
        with open_zip(zpath, src) as zf:
            for n in zf.namelist():
                if n.endswith(".csv"):
                    members[n] = zf.read(n)
    merge = {m.group(1): n for n in members if (m := _TAD_MERGE.search(n))}
    if "train" not in merge or "test" not in merge:
        raise InputError(src, "no merge/train.csv and merge/test.csv inside (the TAD66K 'dataset' layout)")
    theme_of: dict[str, str] = {}
    for n in sorted(members):
        m = _TAD_THEME.search(n)
        if m:
            part = read_csv(n, f"{src}:{n}", data=members[n], dtype={"image": str})
            require_columns(part, ["image"], f"{src}:{n}")
            for img in part["image"].astype(str):
                theme_of.setdefault(img, m.group(1))
    frames = []
    for split, n in merge.items():
        part = read_csv(n, f"{src}:{n}", data=members[n], dtype={"image": str})
        require_columns(part, ["image", "score"], f"{src}:{n}")
        if part.empty:
            raise InputError(f"{src}:{n}", f"split {split!r} has no rows")
        part["_score"] = numeric(part, "score", f"{src}:{n}")
        part["_split"] = "val" if split == "val" else split
        part["_row"] = file_rows(len(part))
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    ids = df["image"].astype(str).tolist()
    return build_manifest(
        name="tad66k",
        source=src,
        image_id=ids,
        rel_path=ids,
        score_raw=df["_score"].to_numpy(),
        scale=(0.0, 10.0),
        split=df["_split"].tolist(),
        category=[theme_of.get(i) for i in ids],
        images=images,
        source_rows=df["_row"].tolist(),
        notes=["split from merge/*.csv; category = the theme file listing the image"],
    )


# ------------------------------------------------------------------------ AADB


def _mat_strings(arr: Any) -> list[str]:
    out = []
    for x in np.asarray(arr, dtype=object).ravel():
        while isinstance(x, np.ndarray):
            x = x.ravel()[0] if x.size else ""
        out.append(str(x))
    return out


@register(
    "aadb",
    label_files="AADBinfo.mat (trainNameList/trainScore, testNameList/testScore)",
    scale="overall score 0-1",
    split="official train / test lists",
)
def read_aadb(path: Path, images: Path | None = None) -> Manifest:
    """AADB: overall scores on 0-1 from the MATLAB file the authors released."""
    f = find_file(path, ("AADBinfo.mat",), str(path), "AADBinfo.mat") if path.is_dir() else path
    src = str(f)
    mat = load_mat(f, src)
    ids: list[str] = []
    scores: list[float] = []
    splits: list[str] = []
    rows: list[int] = []
    for split, (nk, sk) in {
        "train": ("trainNameList", "trainScore"),
        "test": ("testNameList", "testScore"),
    }.items():
        if nk not in mat or sk not in mat:
            raise InputError(
                src,
                f"variables {nk!r} and {sk!r} not found; has: "
                f"{', '.join(k for k in mat if not k.startswith('__'))}",
            )
        names = _mat_strings(mat[nk])
        sc = np.asarray(mat[sk], dtype=np.float64).ravel()
        if len(names) != len(sc):
            raise InputError(src, f"{nk} has {len(names)} names but {sk} has {len(sc)} scores")
        if not names:
            raise InputError(src, f"split {split!r} has no rows")
        ids += names
        scores += sc.tolist()
        splits += [split] * len(names)
        rows += list(range(1, len(names) + 1))
    return build_manifest(
        name="aadb",
        source=src,
        image_id=ids,
        rel_path=ids,
        score_raw=scores,
        scale=(0.0, 1.0),
        split=splits,
        images=images,
        source_rows=rows,
        notes=["rows are numbered within each MATLAB list (train, then test)"],
    )


# ------------------------------------------------------------------------ PARA

PARA_LEVELS = [1.0 + 0.5 * i for i in range(9)]
PARA_ATTRS: dict[str, str] = {
    "qualityScore_mean": "quality",
    "compositionScore_mean": "composition",
    "colorScore_mean": "color",
    "dofScore_mean": "dof",
    "lightScore_mean": "light",
    "contentScore_mean": "content",
}


@register(
    "para",
    label_files="annotation/PARA-GiaaTrain.csv, PARA-GiaaTest.csv",
    scale="aestheticScore_mean 1-5 (+ _std, 9-level histogram 1.0..5.0); 6 attributes 1-5",
    split="official GiaaTrain / GiaaTest files",
)
def read_para(path: Path, images: Path | None = None) -> Manifest:
    """PARA (GIAA files): mean, std and histogram of aesthetic ratings; 6 attribute means."""
    if path.is_dir():
        files = {
            "train": find_file(path, ("PARA-GiaaTrain.csv",), str(path), "PARA-GiaaTrain.csv"),
            "test": find_file(path, ("PARA-GiaaTest.csv",), str(path), "PARA-GiaaTest.csv"),
        }
    else:
        files = {"test" if "test" in path.name.lower() else "train": path}
    frames = []
    for split, f in files.items():
        part = read_csv(f, str(f), dtype={"sessionId": str, "imageName": str})
        require_columns(part, ["sessionId", "imageName", "aestheticScore_mean"], str(f))
        if part.empty:
            raise InputError(str(f), f"split {split!r} has no rows")
        part["_split"] = split
        part["_row"] = file_rows(len(part))
        part["_src"] = str(f)
        frames.append(part)
    df = pd.concat(frames, ignore_index=True)
    src = ", ".join(str(f) for f in files.values())
    ids = [f"{s}/{n}" for s, n in zip(df["sessionId"].astype(str), df["imageName"].astype(str), strict=True)]
    hist_cols = [f"aestheticScore_{lv:.1f}" for lv in PARA_LEVELS]
    dist = None
    levels = None
    if all(c in df.columns for c in hist_cols):
        dist = df[hist_cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64).tolist()
        levels = PARA_LEVELS
    attrs = {
        key: numeric(df, col, src, allow_missing=True) for col, key in PARA_ATTRS.items() if col in df.columns
    }
    return build_manifest(
        name="para",
        source=src,
        image_id=ids,
        rel_path=ids,
        score_raw=numeric(df, "aestheticScore_mean", src),
        std_raw=numeric(df, "aestheticScore_std", src) if "aestheticScore_std" in df.columns else None,
        distribution=dist,
        levels=levels,
        scale=(1.0, 5.0),
        split=df["_split"].tolist(),
        category=df["semantic"].tolist() if "semantic" in df.columns else None,
        attributes=attrs,
        attribute_scales=dict.fromkeys(attrs, (1.0, 5.0)),
        images=images,
        source_rows=df["_row"].tolist(),
        notes=["paths are <sessionId>/<imageName> under the imgs/ folder"],
    )


# ------------------------------------------------------------------------ SPAQ

SPAQ_ATTRS = {
    "Brightness": "brightness",
    "Colorfulness": "colorfulness",
    "Contrast": "contrast",
    "Noisiness": "noisiness",
    "Sharpness": "sharpness",
}


@register(
    "spaq",
    label_files="MOS and Image attribute scores.xlsx (or the same as CSV)",
    scale="MOS 0-100; 5 attributes 0-100",
    split="none published: seeded by image (test 0.2, val 0.1)",
)
def read_spaq(path: Path, images: Path | None = None, *, seed: int = 0) -> Manifest:
    """SPAQ: smartphone photos with MOS and five image-attribute scores, all on 0-100."""
    if path.is_dir():
        f = find_file(
            path,
            (
                "MOS and Image attribute scores.xlsx",
                "MOS and Image attribute scores.csv",
                "MOS_and_Image_attribute_scores.csv",
            ),
            str(path),
            "SPAQ score file",
        )
    else:
        f = path
    src = str(f)
    df = read_excel(f, src) if f.suffix.lower() in (".xlsx", ".xls") else read_csv(f, src)
    require_columns(df, ["Image name", "MOS"], src)
    names = df["Image name"].astype(str).str.strip().tolist()
    attrs = {key: numeric(df, col, src) for col, key in SPAQ_ATTRS.items() if col in df.columns}
    return build_manifest(
        name="spaq",
        source=src,
        image_id=names,
        rel_path=names,
        score_raw=numeric(df, "MOS", src),
        scale=(0.0, 100.0),
        split=seeded_split(names, seed=seed),
        attributes=attrs,
        attribute_scales=dict.fromkeys(attrs, (0.0, 100.0)),
        images=images,
        source_rows=file_rows(len(df)),
        notes=[SEEDED_NOTE.format(t=0.2, v=0.1, by="image", seed=seed)],
    )


# ------------------------------------------------------------------------ FLICKR-AES


@register(
    "flickr-aes",
    aliases=("flickraes", "flickr"),
    label_files="FLICKR-AES_image_score.txt (+ FLICKR-AES_image_labeled_by_each_worker.csv for std)",
    scale="mean of five 1-5 ratings",
    split="seeded by image (test 0.2, val 0.1)",
)
def read_flickr_aes(path: Path, images: Path | None = None, *, seed: int = 0) -> Manifest:
    """FLICKR-AES: mean ratings per image; with the per-worker file beside it, std and votes too."""
    f = (
        find_file(path, ("FLICKR-AES_image_score.txt",), str(path), "FLICKR-AES_image_score.txt")
        if path.is_dir()
        else path
    )
    src = str(f)
    ids: list[str] = []
    scores: list[float] = []
    rows: list[int] = []
    for n, line in enumerate(f.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise InputError(src, f"row {n}: expected '<image> <score>', got {line.strip()!r}")
        try:
            scores.append(float(parts[1]))
        except ValueError:
            raise InputError(src, f"row {n}: score {parts[1]!r} is not a number") from None
        ids.append(parts[0])
        rows.append(n)
    if not ids:
        raise InputError(src, "file has no rows")
    std = None
    dist = None
    notes = [
        SEEDED_NOTE.format(t=0.2, v=0.1, by="image", seed=seed)
        + " (the paper's personalised split is by worker and is not reproduced here)"
    ]
    wf = f.parent / "FLICKR-AES_image_labeled_by_each_worker.csv"
    if wf.is_file():
        w = read_csv(wf, str(wf), skipinitialspace=True)
        require_columns(w, ["imagePair", "score"], str(wf))
        w["score"] = numeric(w, "score", str(wf))
        grp = w.groupby(w["imagePair"].astype(str).str.strip())["score"]
        sd = grp.std(ddof=0)
        hist = grp.apply(lambda s: [float((s.round() == k).sum()) for k in range(1, 6)])
        std = np.asarray([sd.get(i, np.nan) for i in ids], dtype=np.float64)
        dist = [hist.get(i) for i in ids]
        notes.append("std and 5-level vote counts from the per-worker file")
    return build_manifest(
        name="flickr-aes",
        source=src,
        image_id=ids,
        rel_path=ids,
        score_raw=scores,
        std_raw=std,
        distribution=dist,
        levels=[1.0, 2.0, 3.0, 4.0, 5.0] if dist is not None else None,
        scale=(1.0, 5.0),
        split=seeded_split(ids, seed=seed),
        images=images,
        source_rows=rows,
        notes=notes,
    )
