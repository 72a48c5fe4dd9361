"""The embedded critic's statements: one method per kind of sentence, each from its evidence.

Each statement names the evidence keys it needs and returns None when they are missing or
invalid (a blank image has no composition); :mod:`artjudge.critique.compose` assembles the
paragraphs from them. Wording comes from the per-language phrasebook, chosen
deterministically from the image's content hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from artjudge.critique.base import Sentence
from artjudge.critique.phrasebook import Phrasebook
from artjudge.features.evidence import Evidence, Measurement

# Chosen on AGIQA-3K *train* images only: prompts saying 'warm color' have a median warmth
# of 0.78 and 'cold color' 0.09 (the collection leans warm overall, median 0.54); accuracy of
# a single cut peaks near 0.5. The abstraction model is weak (5-fold CV accuracy ~0.60 on
# train), so the critique commits to "abstract" / "realistic" only when it is fairly sure.
WARM_THRESHOLD = 0.5
COOL_THRESHOLD = 0.1
ABSTRACT_THRESHOLD = 0.7
REALISTIC_THRESHOLD = 0.3

# Measures that plausibly bear on quality, and which direction is favourable.
QUALITY_DIRECTION: dict[str, int] = {
    "sharpness": 1,
    "noise": -1,
    "contrast_rms": 1,
    "colourfulness": 1,
    "hue_harmony": -1,
    "balance": 1,
    "subject_focus": 1,
    "saliency_thirds": 1,
    "texture": 1,
}
PRO_PERCENTILE = 75.0
CON_PERCENTILE = 25.0

ATTRIBUTE_KEYS: dict[str, tuple[str, ...]] = {
    "composition": ("saliency_thirds", "saliency_centre", "balance", "symmetry", "negative_space"),
    "visual_elements": (
        "colourfulness",
        "saturation_mean",
        "palette",
        "hue_harmony",
        "warmth",
        "brightness_mean",
        "contrast_rms",
    ),
    "technical_execution": ("sharpness", "noise", "texture", "edge_density"),
    "originality": (),  # every referenced measure: see _originality
    "theme": ("subject_focus", "negative_space", "abstraction"),
    "emotion": ("affect_pleasure", "affect_arousal", "affect_dominance", "warmth"),
    "gestalt": ("hue_harmony", "balance", "palette"),
    "comprehensive": tuple(QUALITY_DIRECTION),
}
# Centroid cells that contain a rule-of-thirds intersection: only there can "its focus lies
# <position>" and "near the thirds points" be said of one spot.
CORNER_POSITIONS = frozenset({"upper left", "upper right", "lower left", "lower right"})
LIMITATION_KEY = {
    "uniform": "contrast_rms",
    "tiny": "image_size",
    "transparency": "transparency",
    "achromatic": "saturation_mean",
}


def score_band(score: float) -> str:
    """Words for a 0-100 score: the strength of every judgement sentence follows it."""
    if score < 35:
        return "weak"
    if score < 50:
        return "modest"
    if score < 65:
        return "fair"
    if score < 80:
        return "good"
    return "excellent"


def warmth_category(value: float) -> str:
    """What the critique says about warmth: the statement the grounding benchmark checks."""
    if value >= WARM_THRESHOLD:
        return "warm"
    if value <= COOL_THRESHOLD:
        return "cool"
    return "neutral"


def style_category(p_abstract: float) -> str:
    if p_abstract >= ABSTRACT_THRESHOLD:
        return "abstract"
    if p_abstract <= REALISTIC_THRESHOLD:
        return "realistic"
    return "between"


class Writer:
    """Renders statements into cited sentences for one image."""

    def __init__(self, ev: Evidence, book: Phrasebook, seed: str) -> None:
        self.ev = ev
        self.book = book
        self.seed = seed

    # ---- helpers
    def ok(self, *keys: str) -> bool:
        return all(self.ev.valid(k) for k in keys)

    def m(self, key: str) -> Measurement:
        return self.ev[key]

    def word(self, key: str) -> str:
        return self.book.word(key, self.m(key).qualifier)

    def pct(self, key: str) -> str:
        p = self.m(key).percentile
        return "unranked" if p is None else self.book.ordinal(int(round(p)))

    def say(
        self, statement: str, keys: list[str], attribute: str, level: str, section: str, **params: Any
    ) -> Sentence:
        template = self.book.pick(statement, f"{self.seed}|{section}")
        for k, v in list(params.items()):
            if isinstance(v, str) and v:
                params[k[0].upper() + k[1:]] = v[0].upper() + v[1:]
        text = self.book.articles(template.format(**params))
        text = text[0].upper() + text[1:]
        return Sentence(text=text, evidence_keys=list(dict.fromkeys(keys)), attribute=attribute, level=level)

    def position_name(self) -> str:
        """Where the saliency centroid lies: 'centre', 'upper left', 'middle right', ..."""
        cx, cy = self.m("saliency_thirds").detail.get("centroid", [0.5, 0.5])
        col = "left" if cx < 0.4 else ("right" if cx > 0.6 else "centre")
        row = "upper" if cy < 0.4 else ("lower" if cy > 0.6 else "middle")
        if (row, col) == ("middle", "centre"):
            return "centre"
        return f"{row} {col}" if row != "middle" else f"middle {col}"

    def position(self) -> str:
        return self.book.section("positions")[self.position_name()]

    def cannot(self, attribute: str, level: str, section: str) -> Sentence:
        lim = next((x for x in ("uniform", "tiny", "achromatic") if x in self.ev.limitations), "uniform")
        names = self.book.section("attribute_names")
        label = names.get(attribute) or self.book.section("level_names").get(level, attribute)
        reason = self.book.pick(f"reason.{lim}", self.seed)
        return self.say(
            "cannot",
            [LIMITATION_KEY[lim]],
            attribute,
            level,
            section,
            attr=label,
            attr_lower=label.lower(),
            reason=reason,
        )

    # ---- statements (each returns None when its evidence is not there)
    def colour_vivid(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("colourfulness", "saturation_mean"):
            return None
        m = self.m("colourfulness")
        return self.say(
            "colour.vivid",
            ["colourfulness", "saturation_mean"],
            a,
            lv,
            sec,
            word=self.word("colourfulness"),
            value=m.value,
            pct=self.pct("colourfulness"),
            sat_word=self.word("saturation_mean"),
        )

    def colour_palette(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("palette"):
            return None
        cols = self.m("palette").detail.get("colours", [])
        names: list[str] = []
        for c in cols:
            name = self.book.colour(c["name"])
            if c["share"] >= 0.08 and name not in names:
                names.append(name)
        if not names:
            return None
        return self.say(
            "colour.palette",
            ["palette"],
            a,
            lv,
            sec,
            colours=self.book.join(names[:3]),
            word=self.word("palette"),
            value=self.m("palette").value,
        )

    def colour_harmony(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("hue_harmony"):
            return None
        m = self.m("hue_harmony")
        template = self.book.section("templates_names").get(str(m.detail.get("template")), "?")
        return self.say(
            "colour.harmony",
            ["hue_harmony"],
            a,
            lv,
            sec,
            template=template,
            word=self.word("hue_harmony"),
            value=m.value,
        )

    def colour_warmth(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("warmth"):
            return None
        v = self.m("warmth").value
        return self.say(f"colour.{warmth_category(v)}", ["warmth"], a, lv, sec, value=v)

    def light(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("brightness_mean", "contrast_rms"):
            return None
        return self.say(
            "light.tone",
            ["brightness_mean", "contrast_rms"],
            a,
            lv,
            sec,
            word=self.word("brightness_mean"),
            contrast_word=self.word("contrast_rms"),
            contrast=self.m("contrast_rms").value,
        )

    def placement(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("saliency_thirds", "saliency_centre"):
            return None
        t, c = self.m("saliency_thirds"), self.m("saliency_centre")
        central = (c.percentile or 50.0) > (t.percentile or 50.0) + 10.0
        key = "saliency_centre" if central else "saliency_thirds"
        # A centred weight gets its own wording: "sits near the centre, near the centre" said
        # the same thing twice.
        at_centre = self.position_name() == "centre"
        near_thirds = t.qualifier in ("typical", "high", "very high")  # "near" ... "right on"
        near_centre = c.qualifier in ("typical", "high", "very high")
        if central:
            statement = "comp.centre_at" if at_centre else "comp.centre"
            if near_centre and self.position_name() in CORNER_POSITIONS:
                statement = (
                    "comp.centre_toward"  # "in the upper right, near the middle" read as a contradiction
                )
        elif at_centre:  # thirds placement with a centred centroid: weight on both sides of the middle
            statement = "comp.thirds_mid"
        elif near_thirds and self.position_name() not in CORNER_POSITIONS:
            # "its focus lies in the upper centre ... near the thirds points" read as a contradiction:
            # a centroid between two thirds points with the weight near them is weight on both sides.
            statement = "comp.thirds_between"
        else:
            statement = "comp.thirds"
        return self.say(
            statement,
            ["saliency_thirds", "saliency_centre"],
            a,
            lv,
            sec,
            position=self.position(),
            word=self.word(key),
            value=self.m(key).value,
            pct=self.pct(key),
        )

    def balance(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("balance"):
            return None
        return self.say(
            "comp.balance", ["balance"], a, lv, sec, word=self.word("balance"), value=self.m("balance").value
        )

    def symmetry(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("symmetry"):
            return None
        return self.say(
            "comp.symmetry",
            ["symmetry"],
            a,
            lv,
            sec,
            word=self.word("symmetry"),
            value=self.m("symmetry").value,
        )

    def space(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("negative_space"):
            return None
        return self.say(
            "comp.space",
            ["negative_space"],
            a,
            lv,
            sec,
            word=self.word("negative_space"),
            pct_area=round(100 * self.m("negative_space").value),
        )

    def style(self, a: str, lv: str, sec: str) -> Sentence | None:
        if "abstraction" not in self.ev or not self.ok("abstraction"):
            return None
        v = self.m("abstraction").value
        category = style_category(v)
        if category == "between":  # the weak style model supports no claim here: say nothing
            return None
        return self.say(
            f"style.{category}", ["abstraction"], a, lv, sec, value=v, pct=self.pct("abstraction")
        )

    def surface(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("texture", "edge_density"):
            return None
        return self.say(
            "style.surface",
            ["texture", "edge_density"],
            a,
            lv,
            sec,
            word=self.word("texture"),
            edge_word=self.word("edge_density"),
            edges_pct=round(100 * self.m("edge_density").value),
        )

    def focus(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("subject_focus"):
            return None
        q = self.m("subject_focus").qualifier
        clarity = (
            "clear" if q in ("high", "very high") else ("unclear" if q in ("low", "very low") else "mixed")
        )
        return self.say(
            "subject.focus",
            ["subject_focus"],
            a,
            lv,
            sec,
            word=self.word("subject_focus"),
            focus_pct=round(100 * self.m("subject_focus").value),
            pct=self.pct("subject_focus"),
            clarity=self.book.pick(f"clarity.{clarity}", self.seed + sec),
        )

    def technique(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("sharpness", "noise"):
            return None
        return self.say(
            "tech.sharp",
            ["sharpness", "noise"],
            a,
            lv,
            sec,
            word=self.word("sharpness"),
            value=self.m("sharpness").value,
            pct=self.pct("sharpness"),
            noise_word=self.word("noise"),
            noise=self.m("noise").value,
        )

    def mood(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("affect_pleasure", "affect_arousal"):
            return None
        return self.say(
            "mood.affect",
            ["affect_pleasure", "affect_arousal", "brightness_mean", "saturation_mean"],
            a,
            lv,
            sec,
            pleasure_word=self.word("affect_pleasure"),
            arousal_word=self.word("affect_arousal"),
            pleasure=self.m("affect_pleasure").value,
            arousal=self.m("affect_arousal").value,
        )

    def mood_warmth(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("warmth"):
            return None
        cat = warmth_category(self.m("warmth").value)
        if cat == "neutral":
            return None
        return self.say("mood.warmth", ["warmth"], a, lv, sec, warm_word=cat)

    def dominance(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("affect_dominance"):
            return None
        opposite = {
            "airy": "imposing",
            "light": "weighty",
            "balanced": "extreme",
            "weighty": "light",
            "imposing": "airy",
        }
        w = self.word("affect_dominance")
        return self.say(
            "response.dominance",
            ["affect_dominance"],
            a,
            lv,
            sec,
            word=w,
            opposite=opposite.get(w, "its opposite"),
            value=self.m("affect_dominance").value,
        )

    def originality(self, a: str, lv: str, sec: str) -> Sentence | None:
        rated = [
            k
            for k, m in self.ev.items()
            if m.valid and m.percentile is not None and not k.startswith("affect_") and k != "abstraction"
        ]
        if not rated:
            return None
        unusual = sorted(
            (k for k in rated if (p := self.m(k).percentile) is not None and (p <= 5 or p >= 95)),
            key=lambda k: -abs((self.m(k).percentile or 50.0) - 50.0),
        )
        if unusual:
            names = self.book.section("names")
            items = [f"{names.get(k, k)} ({self.pct(k)} percentile)" for k in unusual[:3]]
            return self.say("orig.atypical", unusual[:3], a, lv, sec, items=self.book.join(items))
        return self.say("orig.conventional", rated, a, lv, sec)

    def gestalt(self, a: str, lv: str, sec: str) -> Sentence | None:
        if not self.ok("hue_harmony", "balance", "palette"):
            return None
        h = self.m("hue_harmony")
        # the hue_harmony qualifier rates harmony (a small deviation reads "high")
        hues_ok = h.qualifier in ("typical", "high", "very high")
        weight_ok = self.m("balance").qualifier not in ("very low", "low")
        statement = {
            (True, True): "gestalt.coherent",
            (True, False): "gestalt.hue_only",
            (False, True): "gestalt.weight_only",
            (False, False): "gestalt.loose",
        }[(hues_ok, weight_ok)]
        template = self.book.section("templates_names").get(str(h.detail.get("template")), "?")
        return self.say(
            statement,
            ["hue_harmony", "balance", "palette"],
            a,
            lv,
            sec,
            template=template,
            balance_word=self.word("balance"),
            palette_word=self.word("palette"),
            harmony_word=self.word("hue_harmony"),
        )

    # ---- score-driven sentences
    def pros_cons(self, keys: tuple[str, ...]) -> tuple[list[str], list[str]]:
        pros: list[tuple[float, str]] = []
        cons: list[tuple[float, str]] = []
        for k in keys:
            if k not in QUALITY_DIRECTION or not self.ok(k) or self.m(k).percentile is None:
                continue
            p = float(self.m(k).percentile or 50.0)
            fav = p if QUALITY_DIRECTION[k] > 0 else 100.0 - p
            if fav >= PRO_PERCENTILE:
                pros.append((fav, k))
            elif fav <= CON_PERCENTILE:
                cons.append((-fav, k))
        return [k for _, k in sorted(pros, reverse=True)], [k for _, k in sorted(cons, reverse=True)]

    def support(self, band: str, keys: tuple[str, ...], a: str, lv: str, sec: str) -> Sentence | None:
        pros, cons = self.pros_cons(keys)
        pros, cons = pros[:2], cons[:2]
        pro_txt = self.book.join([self.book.section("pros")[k] for k in pros])
        con_txt = self.book.join([self.book.section("cons")[k] for k in cons])
        if band in ("good", "excellent") and pros:
            return self.say("support.pros", pros, a, lv, sec, pros=pro_txt)
        if band in ("weak", "modest") and cons:
            return self.say("support.cons", cons, a, lv, sec, cons=con_txt)
        if pros and cons:
            return self.say("support.mixed", pros + cons, a, lv, sec, pros=pro_txt, cons=con_txt)
        if pros:
            statement = "support.pros_despite" if band in ("weak", "modest") else "support.pros"
            return self.say(statement, pros, a, lv, sec, pros=pro_txt)
        if cons:
            statement = "support.cons_despite" if band in ("good", "excellent") else "support.cons"
            return self.say(statement, cons, a, lv, sec, cons=con_txt)
        checked = [
            k for k in keys if k in QUALITY_DIRECTION and self.ok(k) and self.m(k).percentile is not None
        ]
        if not checked:
            return None
        return self.say("support.none", checked, a, lv, sec)

    def basis(self) -> tuple[str, list[str]]:
        """The two most extreme measures, named: what defines this image's measured profile."""
        ranked = sorted(
            (
                (abs((m.percentile or 50.0) - 50.0), k)
                for k, m in self.ev.items()
                if m.valid and m.percentile is not None and k in QUALITY_DIRECTION
            ),
            reverse=True,
        )[:2]
        if not ranked:
            return "", []
        keys = [k for _, k in ranked]
        names = []
        for k in keys:
            p = self.m(k).percentile or 50.0
            good = (p >= 50) == (QUALITY_DIRECTION[k] > 0)
            names.append(self.book.section("pros" if good else "cons")[k])
        return self.book.join(names), keys


Statement = Callable[[str, str, str], "Sentence | None"]
