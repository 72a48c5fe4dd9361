"""Attribute sets that artjudge knows, as plain data.

Every other module names attributes through this file so that a score, a critique
sentence, a dataset column and an annotation dimension all agree on spelling and order.
Nothing here performs I/O or touches a model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    """One named dimension of judgement."""

    key: str
    name: str
    definition: str
    level: str = ""  # ArtQuant level (perception / cognition / emotion) where it applies


@dataclass(frozen=True)
class AttributeSet:
    """An ordered family of attributes with the scale their labels use."""

    key: str
    attributes: tuple[Attribute, ...]
    scale_min: float
    scale_max: float
    source: str

    def keys(self) -> list[str]:
        return [a.key for a in self.attributes]

    def get(self, key: str) -> Attribute:
        for a in self.attributes:
            if a.key == key:
                return a
        raise KeyError(f"{key!r} is not an attribute of {self.key!r}; known: {', '.join(self.keys())}")


LEVELS: tuple[str, ...] = ("perception", "cognition", "emotion")
"""ArtQuant's three levels, ordered from what the eye registers to what the viewer feels."""

LEVEL_DEFINITIONS: dict[str, str] = {
    "perception": "colour, light and composition: what the eye registers first",
    "cognition": "style, subject and technique: what the viewer recognises and understands",
    "emotion": "mood and viewer response: what the work makes the viewer feel",
}

ARTIMUSE = AttributeSet(
    key="artimuse",
    source="ArtiMuse (2025): 8 attributes of expert aesthetic analysis",
    scale_min=0.0,
    scale_max=100.0,
    attributes=(
        Attribute(
            "composition",
            "Composition & Design",
            "arrangement of elements, balance, placement of the subject, use of space",
            "perception",
        ),
        Attribute(
            "visual_elements",
            "Visual Elements & Structure",
            "colour, light, line, shape and texture and how they structure the image",
            "perception",
        ),
        Attribute(
            "technical_execution",
            "Technical Execution",
            "craft: sharpness, control of the medium, absence of artefacts",
            "cognition",
        ),
        Attribute(
            "originality", "Originality & Creativity", "novelty of idea, style or treatment", "cognition"
        ),
        Attribute("theme", "Theme & Communication", "clarity of subject and message", "cognition"),
        Attribute(
            "emotion",
            "Emotion & Viewer Response",
            "the mood the work carries and the response it draws",
            "emotion",
        ),
        Attribute("gestalt", "Overall Gestalt", "whether the parts cohere into a unified whole", "emotion"),
        Attribute(
            "comprehensive",
            "Comprehensive Evaluation",
            "the overall verdict weighing every attribute",
            "emotion",
        ),
    ),
)

PROCESS = AttributeSet(
    key="process",
    source="PPJudge (ACM MM 2025): 8 attributes of a painting process, scored 1-10",
    scale_min=1.0,
    scale_max=10.0,
    attributes=(
        Attribute(
            "consistency",
            "Consistency",
            "how faithfully the final work honours the reference image or prompt",
        ),
        Attribute(
            "style_stability",
            "Style Stability",
            "whether the painting keeps one style through the process instead of switching",
        ),
        Attribute(
            "color_stability",
            "Colour Stability",
            "whether the palette evolves smoothly, without abrupt jumps",
        ),
        Attribute(
            "composition_stability", "Composition Stability", "whether the layout, once set, stays in place"
        ),
        Attribute(
            "process_stability",
            "Process Stability",
            "whether work accumulates steadily, without regressions or erasures",
        ),
        Attribute(
            "detail_depth", "Detail Depth", "how far detail is refined from coarse blocking to fine finish"
        ),
        Attribute("color_depth", "Colour Depth", "how richly colour is developed: layering, nuance, range"),
        Attribute(
            "composition_depth",
            "Composition Depth",
            "how far the composition develops from a sketch into a structured whole",
        ),
    ),
)

APDDV2 = AttributeSet(
    key="apddv2",
    source="APDDv2 (2024): total aesthetic score and 10 attributes of paintings and drawings",
    scale_min=0.0,
    scale_max=10.0,
    attributes=(
        Attribute("theme_and_logic", "Theme and Logic", "clarity and coherence of the theme", "cognition"),
        Attribute("creativity", "Creativity", "originality of idea and treatment", "cognition"),
        Attribute(
            "layout_and_composition", "Layout and Composition", "arrangement of elements", "perception"
        ),
        Attribute("space_and_perspective", "Space and Perspective", "rendering of depth", "perception"),
        Attribute("sense_of_order", "Sense of Order", "rhythm and organisation", "perception"),
        Attribute("light_and_shadow", "Light and Shadow", "handling of light", "perception"),
        Attribute("color", "Color", "use of colour", "perception"),
        Attribute(
            "details_and_texture", "Details and Texture", "refinement of detail and texture", "cognition"
        ),
        Attribute("overall", "The Overall", "overall impression", "emotion"),
        Attribute("mood", "Mood", "emotional atmosphere", "emotion"),
    ),
)

JENAESTHETICS = AttributeSet(
    key="jenaesthetics",
    source="JenAesthetics (Amirshahi et al.): 1,628 paintings, median ratings",
    scale_min=0.0,
    scale_max=100.0,
    attributes=(
        Attribute("aesthetic", "Aesthetic Quality", "overall aesthetic quality", "emotion"),
        Attribute("beauty", "Beauty", "how beautiful the painting is", "emotion"),
        Attribute("color", "Colour", "liking of the colours", "perception"),
        Attribute("composition", "Composition", "liking of the composition", "perception"),
        Attribute("content", "Content", "liking of the content", "cognition"),
    ),
)

PPAINT = AttributeSet(
    key="ppaint",
    source="PPaint (2026): five dimensions rated and compared pairwise",
    scale_min=1.0,
    scale_max=7.0,
    attributes=(
        Attribute("aesthetics", "Aesthetics", "overall aesthetic appeal", "emotion"),
        Attribute("composition", "Composition", "arrangement and balance", "perception"),
        Attribute("color", "Colour", "harmony and use of colour", "perception"),
        Attribute("technique", "Technique", "skill of execution", "cognition"),
        Attribute("creativity", "Creativity", "originality", "cognition"),
    ),
)

ATTRIBUTE_SETS: dict[str, AttributeSet] = {
    s.key: s for s in (ARTIMUSE, PROCESS, APDDV2, JENAESTHETICS, PPAINT)
}
