"""Score-conditioned descriptions of a dataset, checked by a judge (ArtQuant's RAD loop).

For each image: a generator writes a hierarchical description (perception -> cognition ->
emotion) given the human score and the dataset's score statistics; a judge says whether
the description's evaluation agrees with the score; on disagreement the generator tries
again with the judge's reason, up to a retry limit. Every finished image is appended to
the output JSONL at once (flushed and fsynced), so a crash or a dead endpoint loses at
most the image in flight, and a re-run skips the ids already written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artjudge.critique.backends import ChatBackend
from artjudge.critique.prompts import ScoreStats, generator_messages, judge_messages
from artjudge.errors import InputError
from artjudge.io.files import atomic_write_text, dumps_strict


@dataclass
class Item:
    image_id: str
    path: str
    score: float
    text: str = ""
    category: str = ""
    attributes: dict[str, float] | None = None

    def as_prompt_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "text": self.text,
            "category": self.category,
            "attributes": self.attributes or {},
        }


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(v) else v


def _text(x: Any) -> str:
    """A text cell as str; missing values (None, NaN) become ""."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return ""
    return str(x)


def read_items(path: str | os.PathLike[str]) -> list[Item]:
    """Items from a plain CSV / TSV / JSONL file (an artjudge manifest: see :func:`items_from_frame`).

    The file needs ``image_id`` (or ``name``/``id``), ``path`` and ``score`` (0-100)
    columns; ``text``, ``category`` and ``attr.<key>`` columns are used when present.
    Relative paths resolve against the file's folder.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "manifest not found")
    if Path(str(p) + ".meta.json").is_file():
        # Reading manifests belongs to artjudge.data, a layer above this one: the caller
        # (``artjudge describe``) loads it and passes its rows to items_from_frame.
        raise InputError(
            str(p),
            "an artjudge manifest: load it with artjudge.data.manifest.Manifest.load and "
            "pass .frame and .images_root to items_from_frame",
        )
    if p.suffix.lower() in (".jsonl", ".json"):
        df = pd.read_json(p, lines=p.suffix.lower() == ".jsonl", dtype=False)
    elif p.suffix.lower() in (".csv", ".tsv"):
        df = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
    else:
        raise InputError(str(p), "manifest must be an artjudge manifest, .csv, .tsv or .jsonl")
    return items_from_frame(df, str(p))


def items_from_frame(df: Any, source: str, images_root: Path | None = None) -> list[Item]:
    """Items from a table's rows (an artjudge manifest's ``frame`` or a plain file's).

    Relative paths resolve against ``images_root`` when given, else against ``source``'s folder.
    """
    p = Path(source)
    id_col = next((c for c in ("image_id", "name", "id") if c in df.columns), None)
    if id_col is None or "score" not in df.columns or "path" not in df.columns:
        raise InputError(
            source, f"needs image_id, path and score columns; has {', '.join(map(str, df.columns))}"
        )
    items = []
    for i, row in enumerate(df.to_dict("records")):
        score = _num(row.get("score"))
        if score is None:
            raise InputError(source, f"row {i + 1}: score {row.get('score')!r} is not a number")
        path_s = str(row["path"])
        if images_root is not None and not os.path.isabs(path_s) and not Path(path_s).exists():
            path_s = str(images_root / path_s)
        elif not os.path.isabs(path_s) and not Path(path_s).exists() and (p.parent / path_s).exists():
            path_s = str(p.parent / path_s)
        attrs = {k[5:]: v for k, v in row.items() if str(k).startswith("attr.") and _num(v) is not None}
        items.append(
            Item(
                image_id=str(row[id_col]),
                path=path_s,
                score=score,
                text=_text(row.get("text")),
                category=_text(row.get("category")),
                attributes={k: float(v) for k, v in attrs.items()} or None,
            )
        )
    return items


def score_stats(items: Iterable[Item]) -> ScoreStats:
    s = np.array([it.score for it in items], dtype=float)
    if not len(s):
        raise InputError("manifest", "no rows")
    return ScoreStats(mean=float(s.mean()), median=float(np.median(s)), std=float(s.std()), n=len(s))


_JSON_OBJ = re.compile(r"\{.*\}", re.S)


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a model reply (models wrap JSON in prose or code fences)."""
    m = _JSON_OBJ.search(text or "")
    if not m:
        return None
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def parse_verdict(text: str) -> tuple[bool | None, str]:
    """(agree, reason) from a judge reply; None when the reply says neither yes nor no."""
    obj = parse_json_object(text)
    if obj is not None and "agree" in obj:
        v = obj["agree"]
        agree = v if isinstance(v, bool) else str(v).strip().lower() in ("true", "yes", "1")
        return agree, str(obj.get("reason", ""))
    low = (text or "").strip().lower()
    if re.match(r"^(yes|agree|consistent|true)\b", low):
        return True, text.strip()
    if re.match(r"^(no|disagree|inconsistent|false)\b", low):
        return False, text.strip()
    return None, (text or "").strip()[:200]


def completed_ids(out: Path) -> set[str]:
    """Ids already finished in ``out``; a torn last line (a crash mid-write) is dropped atomically."""
    if not out.is_file():
        return set()
    good_lines: list[str] = []
    ids: set[str] = set()
    torn = False
    for line in out.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            torn = True
            continue
        good_lines.append(line)
        if "error" not in row:
            ids.add(str(row["image_id"]))
    if torn:
        atomic_write_text(out, "".join(ln + "\n" for ln in good_lines))
    return ids


def _append(out: Path, row: dict[str, Any]) -> None:
    with open(out, "a", encoding="utf-8") as f:
        f.write(dumps_strict(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def describe_item(
    item: Item,
    stats: ScoreStats,
    generator: ChatBackend,
    judge: ChatBackend,
    *,
    template: str,
    max_attempts: int = 3,
) -> dict[str, Any]:
    """Generate, judge, regenerate: one output row for one image."""
    image = Path(item.path).read_bytes()
    verdicts: list[dict[str, Any]] = []
    feedback: str | None = None
    description = ""
    levels: dict[str, Any] | None = None
    agreed = False
    for attempt in range(1, max_attempts + 1):
        description = generator.chat(
            generator_messages(template, item.as_prompt_dict(), stats, feedback), images=[image]
        )
        parsed = parse_json_object(description)
        levels = parsed if parsed and {"perception", "cognition", "emotion"} <= set(parsed) else None
        raw_verdict = judge.chat(judge_messages(item.as_prompt_dict(), stats, description))
        agree, reason = parse_verdict(raw_verdict)
        verdicts.append({"attempt": attempt, "agree": agree, "reason": reason})
        if agree:
            agreed = True
            break
        feedback = reason or "the evaluation does not match the score"
    return {
        "image_id": item.image_id,
        "path": item.path,
        "score": item.score,
        "template": template,
        "dataset_stats": stats.to_dict(),
        "description": description,
        "levels": levels,
        "agreed": agreed,
        "attempts": len(verdicts),
        "verdicts": verdicts,
        "generator": generator.name,
        "judge": judge.name,
    }


def describe_dataset(
    items: list[Item],
    out: str | os.PathLike[str],
    generator: ChatBackend,
    judge: ChatBackend,
    *,
    template: str = "auto",
    max_attempts: int = 3,
    limit: int | None = None,
    progress: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, int]:
    """Run the loop over ``items`` into ``out`` (JSONL, appended, resumable); returns counts.

    A backend that fails after its retries raises ``BackendError``; rows already written stay.
    """
    from tqdm import tqdm

    out_p = Path(out)
    out_p.parent.mkdir(parents=True, exist_ok=True)
    if template == "auto":
        template = "apddv2" if any(it.text for it in items) else "score-only"
    if template not in ("apddv2", "score-only"):
        raise InputError("--template", f"{template!r} is not one of auto, apddv2, score-only")
    stats = score_stats(items)
    done = completed_ids(out_p)
    todo = [it for it in items if it.image_id not in done]
    if limit is not None:
        todo = todo[:limit]
    counts = {
        "skipped": len(items) - len([it for it in items if it.image_id not in done]),
        "written": 0,
        "agreed": 0,
        "failed": 0,
    }
    for it in tqdm(todo, desc="describing", disable=not progress):
        if not Path(it.path).is_file():
            row: dict[str, Any] = {"image_id": it.image_id, "path": it.path, "error": "image file not found"}
            counts["failed"] += 1
        else:
            row = describe_item(it, stats, generator, judge, template=template, max_attempts=max_attempts)
            counts["written"] += 1
            counts["agreed"] += int(row["agreed"])
        _append(out_p, row)
        if on_row:
            on_row(row)
    return counts
