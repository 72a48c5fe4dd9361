"""The embedded critique: grounded, score-following, varied, honest about what it cannot judge."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from artjudge.critique import Critic, Critique, EmbeddedCritic, attach, compose, critique_record
from artjudge.features.evidence import measure
from artjudge.record import Assessment, ModelInfo, ScoreDistribution
from artjudge.taxonomy import ARTIMUSE, LEVELS


def _scene(seed: int, size: int = 192) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(30, 220, 3)
    tilt = rng.uniform(-120, 120, 3)
    arr = base + tilt * (x if seed % 2 else y)[..., None]
    cx, cy, r = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.05, 0.2)
    arr[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = rng.uniform(0, 255, 3)
    arr += rng.normal(0, rng.uniform(1, 12), arr.shape)
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _assessment(score: float, attributes: dict[str, float] | None = None, sha: str = "x") -> Assessment:
    return Assessment(
        input="mem",
        sha256=sha,
        model=ModelInfo("test", "0"),
        overall=ScoreDistribution(score=score, std=6.0),
        attributes={k: ScoreDistribution(score=v, std=5.0) for k, v in (attributes or {}).items()},
    )


def _check_grounded(crit: Critique, evidence_keys: set[str]) -> None:
    sentences = list(crit.sentences())
    assert sentences
    for s in sentences:
        assert s.text and not s.text[0].islower() and "{" not in s.text
        assert s.evidence_keys, f"uncited sentence: {s.text}"
        assert set(s.evidence_keys) <= evidence_keys, (s.text, s.evidence_keys)


def test_structure_covers_all_attributes_and_levels_and_is_grounded() -> None:
    img = _scene(1)
    ev = measure(img)
    crit = compose(_assessment(70.0), ev)
    assert list(crit.attributes) == ARTIMUSE.keys()
    assert list(crit.levels) == list(LEVELS)
    assert crit.overall and all(crit.attributes.values()) and all(crit.levels.values())
    _check_grounded(crit, set(ev))
    assert not crit.scored_attributes
    assert any("no attribute scores" in n for n in crit.notes)
    # no attribute score may appear when the model has none (the comprehensive paragraph
    # quotes the overall score, which the model did give)
    for key, sents in crit.attributes.items():
        if key != "comprehensive":
            assert all("/100" not in s.text for s in sents), key
    assert "70/100" in crit.paragraph(crit.attributes["comprehensive"])
    d = crit.to_dict()
    assert Critique.from_dict(d).to_dict() == d
    assert d["text"]["attributes"]["composition"]


def test_attribute_scores_are_quoted_only_when_given() -> None:
    ev = measure(_scene(2))
    crit = compose(_assessment(55.0, {"composition": 81.0}), ev)
    assert crit.scored_attributes
    assert "81/100" in crit.attributes["composition"][0].text
    assert all("/100" not in s.text for s in crit.attributes["technical_execution"])


def test_strength_follows_score() -> None:
    ev = measure(_scene(3))
    high = compose(_assessment(88.0), ev).overall[0].text
    low = compose(_assessment(18.0), ev).overall[0].text
    assert "88" in high and "excellent" in high
    assert "18" in low and "weak" in low


def test_same_image_reads_the_same_and_different_images_differ() -> None:
    texts = []
    for seed in range(4, 10):
        img = _scene(seed)
        a = compose(_assessment(60.0, sha=f"h{seed}"), measure(img))
        b = compose(_assessment(60.0, sha=f"h{seed}"), measure(img))
        assert a.to_dict() == b.to_dict()
        texts.append(" ".join(s.text for s in a.sentences()))
    assert len(set(texts)) == len(texts)
    # phrasing varies, not only numbers: first words of the colour sentence differ across images
    openings = {
        compose(_assessment(60.0, sha=f"v{i}"), measure(_scene(i)))
        .attributes["visual_elements"][0]
        .text.split()[0]
        for i in range(10, 22)
    }
    assert len(openings) >= 2


def test_blank_image_says_what_cannot_be_judged() -> None:
    img = Image.new("RGB", (200, 150), (180, 180, 180))
    ev = measure(img)
    crit = compose(_assessment(40.0), ev)
    _check_grounded(crit, set(ev))
    assert crit.limitations and "nothing in it can be judged" in crit.limitations[0].text
    assert crit.attributes == {} and crit.levels == {}  # nothing visible: no paragraph describes it
    text = " ".join(s.text for s in crit.sentences())
    assert "rule-of-thirds" not in text and "symmetry" not in text and "harmonic" not in text


def test_tiny_and_alpha_images() -> None:
    tiny = _scene(4).resize((12, 9))
    ev = measure(tiny)
    crit = compose(None, ev)
    _check_grounded(crit, set(ev))
    assert "12 x 9 px" in crit.limitations[0].text
    strip = measure(_scene(4).resize((400, 3)))
    assert "tiny" in strip.limitations and not strip["symmetry"].valid
    assert "Laplacian" not in " ".join(s.text for s in crit.sentences())
    rgba = np.asarray(_scene(5).convert("RGBA")).copy()
    rgba[:80, :, 3] = 0
    ev2 = measure(Image.fromarray(rgba))
    crit2 = compose(50.0, ev2)
    _check_grounded(crit2, set(ev2))
    assert any("transparent" in s.text or "Transparency" in s.text for s in crit2.limitations)


def test_compose_accepts_plain_dicts_and_attach_fills_the_record() -> None:
    img = _scene(6)
    rec = critique_record(img, _assessment(64.0, sha="abc"))
    with pytest.warns(DeprecationWarning, match="use critique_record"):
        assert attach(_assessment(64.0, sha="abc"), img).critique == rec.critique  # the old spelling
    assert rec.critique is not None and rec.evidence
    d = rec.to_dict()  # the record's typed critique and evidence, as plain dicts
    again = compose(d, rec.evidence_dict())
    assert again.to_dict() == d["critique"]
    _check_grounded(Critique.from_dict(d["critique"]), set(rec.evidence))


def test_embedded_critic_implements_protocol() -> None:
    critic = EmbeddedCritic()
    assert isinstance(critic, Critic)
    crit = critic.critique(_scene(7), _assessment(50.0))
    assert crit.critic == "embedded" and crit.overall


def test_unknown_language_is_a_clear_error() -> None:
    from artjudge.errors import ArtjudgeError

    with pytest.raises(ArtjudgeError, match="xx"):
        compose(50.0, measure(_scene(8)), language="xx")


def test_real_agiqa_images_every_sentence_cites_present_evidence(agiqa_dir: Path) -> None:
    import pandas as pd

    df = pd.read_csv(agiqa_dir / "data.csv")
    rows = df.sample(n=50, random_state=0)
    for _, row in rows.iterrows():
        with Image.open(agiqa_dir / "images" / row["name"]) as im:
            ev = measure(im)
        score = float(row["mos_quality"]) * 20.0  # AGIQA-3K MOS is on 0-5
        crit = compose(score, ev)
        record_evidence = ev.to_dict()
        for s in crit.sentences():
            assert s.evidence_keys, s.text
            for k in s.evidence_keys:
                assert k in record_evidence, (row["name"], s.text, k)


def test_cli_critique_writes_record_and_rejects_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from artjudge.cli import main as cli_main

    img = tmp_path / "scene.png"
    _scene(11).save(img)
    out = tmp_path / "c.json"
    assert cli_main(["critique", str(img), "--score", "66", "--json", str(out), "--evidence"]) == 0
    printed = capsys.readouterr().out
    assert "Composition & Design" in printed and "66/100" in printed
    data = json.loads(out.read_text())
    assert data["overall"]["score"] == 66 and data["critique"]["overall"]
    keys = {k for sents in data["critique"]["attributes"].values() for s in sents for k in s["evidence_keys"]}
    assert keys <= set(data["evidence"])
    # an image with alpha keeps its transparency for the limitation sentence
    rgba = np.asarray(_scene(12).convert("RGBA")).copy()
    rgba[:, :96, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    assert cli_main(["critique", str(tmp_path / "alpha.png"), "--no-score"]) == 0
    assert "transparen" in capsys.readouterr().out.lower()
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"hello")
    assert cli_main(["critique", str(bad), "--no-score"]) == 2
    assert "not-an-image.png" in capsys.readouterr().err


@settings(max_examples=25, deadline=None)
@given(
    w=st.integers(1, 96),
    h=st.integers(1, 96),
    mode=st.sampled_from(["RGB", "L", "RGBA", "P", "CMYK"]),
    seed=st.integers(0, 10_000),
    flat=st.booleans(),
    score=st.one_of(st.none(), st.floats(0, 100)),
)
def test_any_image_gives_a_grounded_critique(
    w: int, h: int, mode: str, seed: int, flat: bool, score: float | None
) -> None:
    rng = np.random.default_rng(seed)
    arr = np.full((h, w, 3), rng.integers(0, 255, 3)) if flat else rng.integers(0, 255, (h, w, 3))
    img = Image.fromarray(arr.astype(np.uint8)).convert(mode)
    ev = measure(img)
    crit = compose(score, ev)
    _check_grounded(crit, set(ev))
    if flat and mode != "P":  # palette conversion dithers a flat colour into a pattern
        assert "uniform" in ev.limitations


def test_support_sentence_never_contradicts_the_score() -> None:
    """A high score is not 'explained' by weak points, nor a low one by strong points."""
    for seed in range(30, 42):
        ev = measure(_scene(seed))
        for score in (15.0, 90.0):
            crit = compose(score, ev)
            if len(crit.overall) < 2:
                continue
            text = crit.overall[1].text
            if score > 80:
                assert not text.startswith(("Against it", "What most likely holds", "The weakest")), text
            else:
                assert not text.startswith(
                    ("In its favour", "What the measurements credit most", "The strongest")
                ), text
