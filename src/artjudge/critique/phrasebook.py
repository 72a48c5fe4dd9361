"""Per-language phrase tables for the embedded critic.

All wording lives in ``templates/<language>.json``; the composer only picks a template
and fills it, so a translation is a new JSON file with the same keys (plus, where the
language needs it, an ordinal rule here).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from artjudge.errors import ArtjudgeError


def _ordinal_en(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


ORDINALS = {"en": _ordinal_en}

# "a" before a consonant sound, "an" before a vowel sound: templates fill in words ("a {band}
# result", "fit a {template} scheme") whose first sound the template cannot know. Vowel letters
# that sound like a consonant ("a uniform", "a one-sided") and capitals read as a letter name that
# starts with a vowel sound ("an L-shaped", "an X") are the exceptions.
_CONSONANT_SOUND = re.compile(r"(?:uni|use|usu|one\b|one-|eu)", re.IGNORECASE)
_LETTER_NAME = re.compile(r"[AEFHILMNORSX](?=[-\s(]|$)")
_ARTICLE = re.compile(r"\b(a|an|A|An)\s+(?=([\w(][\w-]*))")


def _indefinite_en(word: str) -> str:
    """'a' or 'an' for the English word that follows."""
    if _LETTER_NAME.match(word):
        return "an"
    if word[:1].lower() in "aeiou" and not _CONSONANT_SOUND.match(word):
        return "an"
    return "a"


def articles_en(text: str) -> str:
    """The text with each indefinite article agreeing with the sound of the word after it."""

    def fix(m: re.Match[str]) -> str:
        want = _indefinite_en(m.group(2))
        if m.group(1)[0].isupper():
            want = want.capitalize()
        return want + m.group(0)[len(m.group(1)) :]

    return _ARTICLE.sub(fix, text)


ARTICLES = {"en": articles_en}


@dataclass(frozen=True)
class Phrasebook:
    language: str
    table: dict[str, Any]

    def templates(self, statement: str) -> list[str]:
        try:
            return list(self.table["templates"][statement])
        except KeyError:
            raise KeyError(f"phrasebook {self.language!r} has no templates for {statement!r}") from None

    def pick(self, statement: str, seed: str) -> str:
        """Deterministic choice: the same image and statement always read the same way."""
        options = self.templates(statement)
        h = int(hashlib.sha256(f"{seed}|{statement}".encode()).hexdigest()[:8], 16)
        return options[h % len(options)]

    def word(self, key: str, qualifier: str) -> str:
        return str(self.table["words"][key].get(qualifier, self.table["words"][key]["typical"]))

    def section(self, name: str) -> dict[str, str]:
        return dict(self.table[name])

    def ordinal(self, n: int) -> str:
        rule = ORDINALS.get(self.language)
        return rule(n) if rule else self.table.get("ordinal", "{n}").format(n=n)

    def articles(self, text: str) -> str:
        """Indefinite articles made to agree with the words filled in (English: a / an)."""
        rule = ARTICLES.get(self.language)
        return rule(text) if rule else text

    def join(self, items: list[str]) -> str:
        if not items:
            return ""
        if len(items) == 1:
            return items[0]
        sep = self.table.get("list_sep", ", ")
        return sep.join(items[:-1]) + self.table.get("list_and", " and ") + items[-1]

    def colour(self, name: str) -> str:
        colours = self.table["colours"]
        if name in colours:
            return str(colours[name])
        for prefix in ("dark", "pale"):
            if name.startswith(prefix + " "):
                base = name[len(prefix) + 1 :]
                return str(colours[f"{prefix} {{c}}"]).format(c=colours.get(base, base))
        return name


@lru_cache(maxsize=8)
def load_phrasebook(language: str = "en") -> Phrasebook:
    try:
        text = (
            resources.files("artjudge.critique").joinpath("templates", f"{language}.json").read_text("utf-8")
        )
    except (FileNotFoundError, OSError):
        raise ArtjudgeError(
            f"language {language!r}: no phrasebook (add src/artjudge/critique/templates/{language}.json)"
        ) from None
    return Phrasebook(language=language, table=json.loads(text))
