"""Consistency with a prompt or a reference (issue 17): parsing, evidence, record, CLI, tiny CLIP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artjudge.features.colour import COLOURS, colour_fractions
from artjudge.features.prompt_elements import parse_prompt
from artjudge.record import Assessment, Consistency, ConsistencyElement, ModelInfo, ScoreDistribution
from helpers_extras import needs_extra

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _labels(prompt: str) -> dict[str, str]:
    return {e.label(): e.kind for e in parse_prompt(prompt)}


def test_colour_binds_to_its_object() -> None:
    assert _labels("A red colored car") == {"car": "object", "red on car": "colour"}
    labels = _labels("A blue bird and a brown bear")
    assert labels["blue on bird"] == "colour" and labels["brown on bear"] == "colour"
    assert "blue on bear" not in labels and "brown on bird" not in labels


def test_counts_styles_and_attributes() -> None:
    labels = _labels("two dogs on a green lawn, anime style, close-up")
    assert labels["2 x dog"] == "count"
    assert labels["anime style"] == "style"
    assert labels["close-up"] == "attribute"
    assert _labels("an oil painting of three cats")["oil painting style"] == "style"
    assert _labels("a watercolor of a lighthouse")["watercolour style"] == "style"
    assert _labels("a knight, warm color")["warm palette"] == "colour"


def test_colour_fractions_measure_the_salient_region() -> None:
    img = np.zeros((64, 64, 3), np.uint8)
    img[:] = (30, 60, 200)
    img[20:44, 20:44] = (220, 20, 20)
    salient, whole = colour_fractions(img)
    red, blue = COLOURS.index("red"), COLOURS.index("blue")
    assert salient[red] > salient[blue]  # the centred red square is the salient region
    assert whole[blue] > whole[red]


def _synthetic(seed: int, shift: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    arr = np.zeros((128, 128, 3), np.uint8)
    arr[:] = rng.integers(0, 255, 3)
    for _ in range(6):
        x, y, s = (int(v) for v in rng.integers(0, 96, 3))
        arr[y : y + 16 + s // 3, x : x + 16 + s // 3] = rng.integers(0, 255, 3)
    return Image.fromarray(np.roll(arr, shift, axis=1))


@pytest.fixture(scope="module")
def scorer():  # type: ignore[no-untyped-def]
    import artjudge

    return artjudge.load("default")


def test_reference_identical_beats_shifted_beats_unrelated(scorer) -> None:  # type: ignore[no-untyped-def]
    base = _synthetic(1)
    same = scorer.assess(base, reference=_synthetic(1)).consistency
    shifted = scorer.assess(base, reference=_synthetic(1, shift=24)).consistency
    other = scorer.assess(base, reference=_synthetic(7)).consistency
    assert same is not None and shifted is not None and other is not None
    assert same.source == "reference"
    assert same.score > shifted.score > other.score
    assert same.components["layout"] > shifted.components["layout"]
    assert {e.element for e in same.elements} == {"content", "layout", "palette"}


@needs_extra("text")
def test_prompt_entry_in_the_record_and_unknown_object_unchecked(scorer) -> None:  # type: ignore[no-untyped-def]
    rec = scorer.assess(_synthetic(3), prompt="a red car next to a zorblax, anime style")
    c = rec.consistency
    assert c is not None and 0 <= c.score <= 100 and c.std > 0 and c.source == "prompt"
    by_name = {e.element: e for e in c.elements}
    assert by_name["car"].checked and by_name["red on car"].checked
    assert not by_name["zorblax"].checked and by_name["zorblax"].confidence == 0
    assert "unknown object" in by_name["zorblax"].evidence
    # the record round-trips through its dict and the generated schema accepts it
    d = json.loads(rec.to_json())
    assert Assessment.from_dict(d).consistency == c
    import jsonschema

    from artjudge.record import json_schema

    jsonschema.validate(d, json_schema("assessment"))


@needs_extra("text")
def test_red_prompt_fits_a_red_image_better_than_a_blue_prompt(scorer) -> None:  # type: ignore[no-untyped-def]
    arr = np.zeros((128, 128, 3), np.uint8)
    arr[:] = (235, 235, 235)
    arr[32:96, 32:96] = (210, 20, 20)
    rec_red = scorer.assess(Image.fromarray(arr), prompt="a red colored car").consistency
    rec_blue = scorer.assess(Image.fromarray(arr), prompt="a blue colored car").consistency
    conf = {c.prompt: {e.element: e.confidence for e in c.elements} for c in (rec_red, rec_blue) if c}
    assert conf["a red colored car"]["red on car"] > conf["a blue colored car"]["blue on car"]


def test_soft_colour_names_favour_the_painted_colour_without_ties() -> None:
    from artjudge.features.colour import soft_colour_fractions

    for name, rgb in (("red", (210, 25, 25)), ("blue", (30, 70, 210)), ("green", (40, 150, 50))):
        img = np.zeros((64, 64, 3), np.uint8)
        img[:] = (235, 235, 235)
        img[16:48, 16:48] = rgb
        shares = soft_colour_fractions(img)
        assert abs(float(shares.sum()) - 1.0) < 1e-4
        chromatic = [c for c in COLOURS if c not in ("white", "gray", "black")]
        assert max(chromatic, key=lambda c: shares[COLOURS.index(c)]) == name
        assert len(set(np.round(shares, 6).tolist())) == len(COLOURS)  # soft: no two colours tie


def test_signed_ridge_keeps_each_coefficient_on_its_side() -> None:
    from artjudge.train.consistency import ridge_fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = x[:, 0] - 0.5 * x[:, 1] + 0.1 * rng.normal(size=400)
    free, _ = ridge_fit(x, y)
    assert free[1] < -0.3  # unconstrained, the second input takes its negative weight
    signed, _ = ridge_fit(x, y, np.array([1.0, 1.0, -1.0]))
    assert signed[0] > 0.5 and signed[1] == 0.0 and signed[2] <= 0.0


@needs_extra("text")
def test_swapped_colour_word_scores_lower(scorer) -> None:  # type: ignore[no-untyped-def]
    """The colour-swap stress test in miniature: the same image, the prompt's colour swapped."""
    for right, wrong, rgb in (("red", "blue", (210, 20, 20)), ("green", "purple", (40, 150, 50))):
        arr = np.zeros((128, 128, 3), np.uint8)
        arr[:] = (235, 235, 235)
        arr[32:96, 32:96] = rgb
        img = Image.fromarray(arr)
        good = scorer.assess(img, prompt=f"a {right} colored car").consistency
        bad = scorer.assess(img, prompt=f"a {wrong} colored car").consistency
        assert good is not None and bad is not None
        assert good.score > bad.score, (right, good.score, bad.score)


def test_no_prompt_no_entry(scorer) -> None:  # type: ignore[no-untyped-def]
    assert scorer.assess(_synthetic(2)).consistency is None


@needs_extra("text")
def test_cli_prompt(tmp_path: Path) -> None:
    img = tmp_path / "x.png"
    _synthetic(4).save(img)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "artjudge",
            "assess",
            str(img),
            "--prompt",
            "two dogs",
            "--format",
            "jsonl",
            "--no-cache",
            "-q",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    kinds = {e["element"]: (e["kind"], e["checked"]) for e in rec["consistency"]["elements"]}
    assert kinds["2 x dog"] == ("count", False)
    assert rec["consistency"]["prompt"] == "two dogs"


def _tiny_clip(folder: Path) -> None:
    from transformers import CLIPConfig, CLIPModel

    from artjudge.models.vlm.tiny import build_tokenizer

    tok = build_tokenizer(["<|endoftext|>", "<|startoftext|>"], vocab_size=300)
    tok.bos_token = "<|startoftext|>"
    cfg = CLIPConfig(
        text_config={
            "vocab_size": len(tok),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "projection_dim": 8,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "projection_dim": 8,
        },
        projection_dim=8,
    )
    CLIPModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)


@needs_extra("vlm")
def test_tiny_clip_consistency(tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    _tiny_clip(tmp_path / "clip")
    from artjudge.models.consistency import ImageSignals, load_consistency

    model = load_consistency(f"clip:{tmp_path / 'clip'}")
    sig = ImageSignals(np.zeros(1000), np.zeros(1280), np.zeros((64, 64, 3), np.uint8), 50.0, _synthetic(5))
    c = model.assess_prompt(sig, "a red car")
    assert isinstance(c, Consistency) and c.source == "clip" and 0 <= c.score <= 100
    cos = c.components["cosine"]
    assert c.score == pytest.approx(min(100.0, 250.0 * max(cos, 0.0)), abs=1e-3)
    same = model.assess_reference(sig, sig, "self")
    assert same.components["cosine"] == pytest.approx(1.0, abs=1e-4) and same.score == pytest.approx(100.0)
    assert isinstance(same.elements[0], ConsistencyElement) and same.elements[0].checked


def test_clip_refuses_a_missing_folder(tmp_path: Path) -> None:
    from artjudge.errors import ModelNotAvailable
    from artjudge.models.consistency import load_consistency

    with pytest.raises(ModelNotAvailable, match="config.json"):
        load_consistency(f"clip:{tmp_path / 'nothing'}")


def test_record_without_consistency_still_reads() -> None:
    rec = Assessment("x", "0" * 64, ModelInfo("m", "1"), ScoreDistribution(50.0, 1.0))
    assert Assessment.from_dict(rec.to_dict()).consistency is None
