"""Token-As-Score and Level-As-Score: which vocabulary entries stand for scores.

ArtiMuse reads a score as the expectation of the softmax over 101 ordered tokens that
already exist in the vocabulary (it used two-letter strings aa..ey), so no embedding is
added and the mapping survives LoRA merging. The search here tries candidate families in
order and keeps, within a family, the strings that encode to exactly one token in the
place they will be read (right after the answer prefix), in the family's own order.
The mapping is written next to the adapter so inference never re-searches.
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from artjudge.errors import ArtjudgeError
from artjudge.io.files import atomic_write_json
from artjudge.scoring import LEVEL_NAMES

N_SCORE_TOKENS = 101
TOKENS_FILE = "score_tokens.json"


def _numbers() -> Iterator[str]:
    yield from (str(i) for i in range(101))


def _pairs(alphabet: str) -> Callable[[], Iterator[str]]:
    def gen() -> Iterator[str]:
        for a in alphabet:
            for b in alphabet:
                yield a + b

    return gen


CANDIDATE_FAMILIES: dict[str, Callable[[], Iterator[str]]] = {
    "numbers": _numbers,
    "pairs": _pairs(string.ascii_lowercase),
    "pairs_upper": _pairs(string.ascii_uppercase),
}
"""Families in the order they are tried; each is tried after a space (reads naturally after
the answer prefix, "The score is 73") and then bare (ArtiMuse's "aa".."ey")."""


class TokenSearchError(ArtjudgeError):
    """No candidate family gives enough single tokens in this vocabulary."""


@dataclass
class ScoreTokens:
    """The strings and ids that stand for scores 0..100 (or the 5 levels), in order."""

    strings: list[str]
    ids: list[int]
    family: str
    answer_prefix: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _single_id(tokenizer: Any, prefix: str, s: str) -> int | None:
    """The id when ``s`` is exactly one token after ``prefix`` (ids tokenized apart, as used)."""
    ids = tokenizer(s, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        return None
    if prefix:
        base = tokenizer(prefix, add_special_tokens=False)["input_ids"]
        joined = tokenizer(prefix + s, add_special_tokens=False)["input_ids"]
        # The pieces must not merge across the seam, or training and reading disagree.
        if list(joined) != list(base) + list(ids):
            return None
    if tokenizer.decode(ids) != s:
        return None
    return int(ids[0])


def find_score_tokens(
    tokenizer: Any, answer_prefix: str = "", n: int = N_SCORE_TOKENS, families: tuple[str, ...] | None = None
) -> ScoreTokens:
    """First family (with a leading space, then bare) giving ``n`` distinct single tokens."""
    tried: list[str] = []
    for fam in families or tuple(CANDIDATE_FAMILIES):
        for lead in (" ", ""):
            label = f"{fam}{'+space' if lead else ''}"
            strings: list[str] = []
            ids: list[int] = []
            for cand in CANDIDATE_FAMILIES[fam]():
                s = lead + cand
                tid = _single_id(tokenizer, answer_prefix, s)
                if tid is not None and tid not in ids:
                    strings.append(s)
                    ids.append(tid)
                if len(ids) == n:
                    return ScoreTokens(strings=strings, ids=ids, family=label, answer_prefix=answer_prefix)
            tried.append(f"{label}: {len(ids)}")
    raise TokenSearchError(
        f"no candidate family gives {n} single tokens after {answer_prefix!r} in this vocabulary "
        f"(found {'; '.join(tried)})"
    )


def find_level_tokens(tokenizer: Any, answer_prefix: str = "") -> ScoreTokens:
    """Q-Align's five level words, each read as its first token; they must be distinct."""
    best: ScoreTokens | None = None
    for lead in (" ", ""):
        strings, ids = [], []
        for word in LEVEL_NAMES:
            s = lead + word
            got = tokenizer(s, add_special_tokens=False)["input_ids"]
            if not got:
                break
            strings.append(tokenizer.decode(got[:1]))
            ids.append(int(got[0]))
        if len(set(ids)) == len(LEVEL_NAMES):
            cand = ScoreTokens(
                strings=strings,
                ids=ids,
                family=f"levels{'+space' if lead else ''}",
                answer_prefix=answer_prefix,
            )
            exact = all(_single_id(tokenizer, answer_prefix, lead + w) is not None for w in LEVEL_NAMES)
            if exact:
                return cand
            best = best or cand
    if best is None:
        raise TokenSearchError(f"the level words {', '.join(LEVEL_NAMES)} do not start with distinct tokens")
    return best


def save_tokens(folder: str | os.PathLike[str], score: ScoreTokens, level: ScoreTokens | None) -> Path:
    path = Path(folder) / TOKENS_FILE
    data = {"score": score.to_dict(), "level": level.to_dict() if level else None, "version": 1}
    return atomic_write_json(path, data, indent=1)


def load_tokens(folder: str | os.PathLike[str]) -> tuple[ScoreTokens, ScoreTokens | None]:
    data = json.loads((Path(folder) / TOKENS_FILE).read_text(encoding="utf-8"))
    level = ScoreTokens(**data["level"]) if data.get("level") else None
    return ScoreTokens(**data["score"]), level


def check_tokens(tokenizer: Any, tokens: ScoreTokens) -> None:
    """Refuse a mapping written for another vocabulary (ids that decode to other strings)."""
    for s, i in zip(tokens.strings, tokens.ids, strict=True):
        if tokenizer.decode([i]) != s:
            raise ArtjudgeError(
                f"score token {s!r} (id {i}) does not match this tokenizer "
                f"(decodes to {tokenizer.decode([i])!r}): the checkpoint was made for another model"
            )
