"""Split a text prompt into the elements a consistency check can look for.

No part-of-speech tagger installs offline with artjudge, so the parser is a small,
predictable chunker rather than a grammar: the prompt is cut at commas, prepositions,
conjunctions and verbs (common verbs and ``-ing`` forms); the last content word of each
chunk is its head noun (an ``object``), and the words before it modify that head: a
colour word binds to it ("a red colored car" -> car + red on car), a number word gives a
``count`` ("two dogs"). Style words anywhere ("anime style", "oil painting", "watercolor")
give a ``style``; "warm color" / "cold color" give a palette-level ``colour`` element; the
camera and lighting phrases AGIQA-3K prompts carry (close-up, top view, HDR lighting, ...)
become ``attribute`` elements, which nothing offline can check, so they are reported as
unchecked rather than dropped.

The parser only says *what* to look for; ``artjudge.models.consistency`` says whether the
image shows it and how sure it is, and which elements it cannot check at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from artjudge.features.colour import canonical_colour

KINDS = ("object", "colour", "count", "style", "attribute")

# canonical style -> the phrases that name it (matched on word boundaries, lower case)
STYLES: dict[str, tuple[str, ...]] = {
    "anime": ("anime", "manga"),
    "baroque": ("baroque",),
    "abstract": ("abstract",),
    "realistic": ("realistic", "photorealistic", "photo-realistic", "realism", "hyperrealistic"),
    "sci-fi": ("sci-fi", "scifi", "science fiction", "sci fi", "cyberpunk", "futuristic"),
    "watercolour": ("watercolour", "watercolor"),
    "oil painting": ("oil painting", "oil on canvas", "oil paint"),
    "sketch": ("sketch", "pencil drawing", "line drawing"),
    "cartoon": ("cartoon",),
    "pixel art": ("pixel art",),
    "impressionist": ("impressionist", "impressionism"),
}
STYLE_FILLERS = ("style", "painting", "art", "drawing")
PALETTE_PHRASES = {
    "warm color": "warm",
    "warm colour": "warm",
    "cold color": "cold",
    "cold colour": "cold",
    "cool color": "cold",
    "cool colour": "cold",
}
ATTRIBUTE_PHRASES = (
    "close-up",
    "close up",
    "long-shot",
    "long shot",
    "top view",
    "elevation view",
    "side view",
    "hyper detail",
    "hyper detailed",
    "highly detailed",
    "blurred detail",
    "soft lighting",
    "hdr lighting",
    "hdr",
    "4k",
    "8k",
    "trending on artstation",
    "octane render",
    "unreal engine",
    "high quality",
    "digital art",
    "concept art",
    "wide angle",
)
NUMBERS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "a pair of": 2,
    "pair of": 2,
    "couple of": 2,
    "single": 1,
    "twin": 2,
    "dozen": 12,
}


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_BOUNDARIES = _words(
    "of in on with and at by over under near next behind beside between above below into onto from to for "
    "while who which that than as like or but inside outside through across around against "
    "is are was were be been being has have had does do looks look made sits sitting stands "
    "wearing holding riding eating playing flying standing held"
)
_ING_NOUNS = _words(
    "building painting drawing ceiling clothing wedding pudding evening morning "
    "earring painting sibling dumpling"
)
_STOP = _words(
    "a an the this that these those his her its their my our your some many few very "
    "photo picture image portrait painting drawing illustration render rendering view shot style "
    "beautiful cute big small little large tiny huge strange epic giant old young new "
    "colored coloured color colour"
)
_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]*")


@dataclass(frozen=True)
class PromptElement:
    """One thing a prompt asks for: what kind, its value, and the object it binds to."""

    kind: str  # one of KINDS
    value: str  # the object noun, colour name, count, style or phrase
    text: str  # the words in the prompt it came from
    target: str = ""  # for colours and counts: the object they describe ("" = the whole image)

    def label(self) -> str:
        """How the record names it: "car", "red on car", "2 x dog", "anime style"."""
        if self.kind == "colour":
            return f"{self.value} on {self.target}" if self.target else f"{self.value} palette"
        if self.kind == "count":
            return f"{self.value} x {self.target}"
        if self.kind == "style":
            return f"{self.value} style"
        return self.value


def _take_phrases(text: str, phrases: tuple[str, ...] | list[str]) -> tuple[str, list[str]]:
    """Remove each phrase found (longest first, whole words) and return the rest and the hits."""
    found = []
    for p in sorted(phrases, key=len, reverse=True):
        pattern = re.compile(rf"(?<![a-z0-9]){re.escape(p)}(?![a-z0-9])")
        if pattern.search(text):
            found.append(p)
            text = pattern.sub(" , ", text)
    return text, found


def _singular(word: str) -> str:
    """Crude singular for matching counts to nouns ("foxes" -> "fox", "dogs" -> "dog")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def parse_prompt(prompt: str) -> list[PromptElement]:
    """The prompt's elements in reading order, styles and attributes last; duplicates dropped."""
    text = " " + prompt.lower().replace("_", " ") + " "
    styles: list[PromptElement] = []
    for style, names in STYLES.items():
        fillers = [f"{n} {f}" for n in names for f in STYLE_FILLERS] + list(names)
        text, hits = _take_phrases(text, fillers)
        if hits:
            styles.append(PromptElement("style", style, hits[0]))
    palette: list[PromptElement] = []
    text, hits = _take_phrases(text, list(PALETTE_PHRASES))
    palette += [PromptElement("colour", PALETTE_PHRASES[h], h) for h in hits]
    text, hits = _take_phrases(text, ATTRIBUTE_PHRASES)
    attributes = [PromptElement("attribute", h, h) for h in hits]
    # multi-word count phrases become one token
    for phrase, n in NUMBERS.items():
        if " " in phrase:
            text = re.sub(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", f" __n{n} ", text)

    elements: list[PromptElement] = []
    for clause in re.split(r"[,;:.!?()]", text):
        chunk: list[str] = []
        for word in _WORD.findall(clause) + ["of"]:  # a sentinel boundary closes the last chunk
            if word in _BOUNDARIES or (word.endswith("ing") and len(word) > 5 and word not in _ING_NOUNS):
                elements += _chunk_elements(chunk)
                chunk = []
            else:
                chunk.append(word)
    seen: set[tuple[str, str, str]] = set()
    out = []
    for el in elements + palette + styles + attributes:
        key = (el.kind, el.value, el.target)
        if key not in seen:
            seen.add(key)
            out.append(el)
    return out


def _count_of(word: str) -> int | None:
    if word.startswith("__n"):
        return int(word[3:])
    if word.isdigit() and 0 < int(word) < 100:
        return int(word)
    return NUMBERS.get(word)


def _chunk_elements(words: list[str]) -> list[PromptElement]:
    """Elements of one noun chunk: its head noun, and the colours and counts bound to it."""
    content = [w for w in words if w not in _STOP and _count_of(w) is None]
    nouns = [w for w in content if canonical_colour(w) is None or w.endswith("hair")]
    if not nouns:
        return []
    head = nouns[-1]
    # a compound noun ("rock band", "space shuttle") keeps its modifier noun in the object text
    mods = [w for w in nouns[:-1] if canonical_colour(w) is None]
    obj = " ".join(mods[-1:] + [head])
    out = [PromptElement("object", obj, " ".join(words))]
    for w in words:
        colour = canonical_colour(w) or (canonical_colour(w[:-4]) if w.endswith("hair") else None)
        if colour is not None and w != head:
            out.append(PromptElement("colour", colour, w, target=obj))
        n = _count_of(w)
        if n is not None and n > 1:
            out.append(PromptElement("count", str(n), w, target=_singular(head)))
    return out
