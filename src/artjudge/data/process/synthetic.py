"""Synthetic painting processes with controlled faults whose size sets the 8 labels.

No public dataset pairs painting processes with per-attribute judgements that we may
ship, so the judge first learns from processes whose faults we injected ourselves. A
process paints a target image coarse to fine: frame k lays strokes of radius
``r0 * 0.6**k`` where the canvas still differs most from a blurred target (a greedy
painter), coloured from that blurred target, in one of four stroke styles. Faults, each
drawn independently with probability ``fault_rate`` and a magnitude m in [0.15, 1]:

================  ==========================================================  ==================
fault             what happens                                                label it lowers
================  ==========================================================  ==================
style_switch      from a middle frame, a fraction m of strokes use another    style_stability
                  stroke style
colour_jump       one or two middle frames are painted with hue-rotated,      color_stability
                  channel-mixed colours (strength m), later repainted
layout_shift      from a middle frame, the target moves by up to m * 30 %     composition_stability
                  of the canvas (the final layout departs too)                (and consistency)
regression        middle frames erase rectangles covering up to 10+50 % * m   process_stability
                  of the canvas (repainted later)
no_detail         refinement stops early: the last round(m * 5) levels never  detail_depth
                  arrive (their frames repeat coarse strokes)
flat_colour       the palette is desaturated and quantised (strength m)       color_depth
unfinished        a region of up to 60 % * m of the canvas stays blocked in   composition_depth
                  (coarse strokes only, never structured)                     (and consistency)
departure         the painted target is blended towards another image by m   consistency
================  ==========================================================  ==================

Each affected label is ``10 - 8 * m`` (consistency: ``10 - 9 * clip(departure + 0.3 *
layout_shift + 0.3 * unfinished)``); unaffected labels are 10. Everything is seeded:
the same seed gives the same frames and labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from artjudge.taxonomy import PROCESS

PROCESS_KEYS = [a.key for a in PROCESS.attributes]

STYLES: tuple[str, ...] = ("impressionist", "pointillist", "cubist", "watercolor")
FAULTS: tuple[str, ...] = (
    "style_switch",
    "colour_jump",
    "layout_shift",
    "regression",
    "no_detail",
    "flat_colour",
    "unfinished",
    "departure",
)
PAPER = (245, 240, 230)


@dataclass
class SyntheticProcess:
    """One generated process: frames in painting order, the reference, labels (1-10)."""

    frames: list[Image.Image]
    reference: Image.Image
    labels: np.ndarray  # (8,) in PROCESS order
    style: str
    faults: dict[str, float] = field(default_factory=dict)
    seed: int = 0


def procedural_target(rng: np.random.Generator, size: int = 128) -> Image.Image:
    """A random picture: a two-colour gradient sky, a ground band and a few shapes."""
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, size)[:, None, None]
    arr = (c1 * (1 - ramp) + c2 * ramp).repeat(size, axis=1).astype(np.uint8)
    img = Image.fromarray(arr, "RGB")
    draw = ImageDraw.Draw(img)
    horizon = int(rng.uniform(0.45, 0.8) * size)
    draw.rectangle([0, horizon, size, size], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for _ in range(int(rng.integers(2, 7))):
        x, y = rng.uniform(0, size, 2)
        r = rng.uniform(0.05, 0.25) * size
        col = tuple(int(v) for v in rng.integers(0, 256, 3))
        kind = rng.integers(0, 3)
        box = [x - r, y - r, x + r, y + r]
        if kind == 0:
            draw.ellipse(box, fill=col)
        elif kind == 1:
            draw.rectangle(box, fill=col)
        else:
            draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=col)
    # a little texture so there is detail to refine
    noise = rng.normal(0, 10, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8))


def _hue_mix(arr: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    perm = rng.permutation(3)
    while (perm == np.arange(3)).all():
        perm = rng.permutation(3)
    return (1 - strength) * arr + strength * arr[..., perm]


def _flatten_colour(arr: np.ndarray, m: float) -> np.ndarray:
    grey = arr.mean(axis=-1, keepdims=True)
    desat = grey + (arr - grey) * (1 - 0.85 * m)
    levels = max(2, int(round(12 - 9 * m)))
    return np.round(desat / 255 * (levels - 1)) / (levels - 1) * 255


def _stroke(
    draw: ImageDraw.ImageDraw,
    style: str,
    x: float,
    y: float,
    r: float,
    col: tuple[int, ...],
    rng: np.random.Generator,
) -> None:
    if style == "pointillist":
        rr = max(1.0, r * 0.45)
        draw.ellipse([x - rr, y - rr, x + rr, y + rr], fill=col)
    elif style == "cubist":
        a = rng.uniform(0, np.pi)
        pts = [
            (
                x + r * np.cos(a + k * np.pi / 2 + rng.uniform(-0.3, 0.3)),
                y + r * np.sin(a + k * np.pi / 2 + rng.uniform(-0.3, 0.3)),
            )
            for k in range(4)
        ]
        draw.polygon(pts, fill=col)
    elif style == "watercolor":
        rr = r * 1.4
        draw.ellipse([x - rr, y - rr * 0.8, x + rr, y + rr * 0.8], fill=col)
    else:  # impressionist: short oriented dabs
        a = rng.uniform(0, np.pi)
        dx, dy = np.cos(a) * r, np.sin(a) * r
        draw.line([(x - dx, y - dy), (x + dx, y + dy)], fill=col, width=max(1, int(r * 0.7)))


@dataclass
class _FaultPlan:
    """When and how each fault strikes in one stroke process (drawn from the process's rng)."""

    switch_at: int
    shift_at: int
    jump_at: int
    jump_len: int
    erase_at: int
    n_levels: int
    shift_px: tuple[int, int]
    unfinished_box: tuple[int, int, int, int] | None


def _plan_faults(rng: np.random.Generator, faults: dict[str, float], n_frames: int, size: int) -> _FaultPlan:
    """Draw the frames at which faults strike, in a fixed order (the seed's outputs depend on it)."""
    mid_lo, mid_hi = 2, max(3, n_frames - 2)
    switch_at = int(rng.integers(mid_lo, mid_hi)) if "style_switch" in faults else n_frames + 1
    shift_at = int(rng.integers(mid_lo, mid_hi)) if "layout_shift" in faults else n_frames + 1
    jump_at = int(rng.integers(mid_lo, mid_hi)) if "colour_jump" in faults else -10
    jump_len = 2 if faults.get("colour_jump", 0) > 0.5 else 1
    erase_at = int(rng.integers(mid_lo, mid_hi)) if "regression" in faults else -10
    n_levels = n_frames
    if "no_detail" in faults:
        n_levels = max(2, n_frames - int(round(faults["no_detail"] * 5)))
    shift_px = (0, 0)
    if "layout_shift" in faults:
        amp = faults["layout_shift"] * 0.3 * size
        ang = rng.uniform(0, 2 * np.pi)
        shift_px = (int(round(amp * np.cos(ang))), int(round(amp * np.sin(ang))))
    unfinished_box: tuple[int, int, int, int] | None = None
    if "unfinished" in faults:
        frac = 0.6 * faults["unfinished"]
        w = int(size * np.sqrt(frac))
        x0, y0 = rng.integers(0, size - w + 1, 2)
        unfinished_box = (int(x0), int(y0), int(x0) + w, int(y0) + w)
    return _FaultPlan(switch_at, shift_at, jump_at, jump_len, erase_at, n_levels, shift_px, unfinished_box)


def _target_paint(
    ref: Image.Image, rng: np.random.Generator, faults: dict[str, float], size: int, other: Image.Image | None
) -> np.ndarray:
    """The picture the painter aims at: the reference, bent by the departure and flat-colour faults."""
    paint_arr = np.asarray(ref, dtype=np.float32).copy()
    if "departure" in faults:
        oth = (other or procedural_target(rng, size)).convert("RGB").resize((size, size))
        paint_arr = (1 - faults["departure"]) * paint_arr + faults["departure"] * np.asarray(oth, np.float32)
    if "flat_colour" in faults:
        paint_arr = _flatten_colour(paint_arr, faults["flat_colour"])
    return np.clip(paint_arr, 0, 255)


def _paint_frame(
    canvas: Image.Image,
    k: int,
    base_target: np.ndarray,
    plan: _FaultPlan,
    faults: dict[str, float],
    styles: tuple[str, str],
    rng: np.random.Generator,
) -> Image.Image:
    """Frame ``k``: strokes where the canvas is furthest from the (blurred) target, then any scrub."""
    style, other_style = styles
    size = canvas.size[0]
    r0 = size / 6.0
    tgt = np.roll(base_target, plan.shift_px, axis=(0, 1)) if k >= plan.shift_at else base_target
    level = min(k, plan.n_levels - 1)
    r = max(1.2, r0 * 0.6**level)
    blurred = np.asarray(
        Image.fromarray(tgt.astype(np.uint8)).filter(ImageFilter.GaussianBlur(max(0.5, r / 2))),
        np.float32,
    )
    colours = blurred
    if plan.jump_at <= k < plan.jump_at + plan.jump_len:
        colours = np.clip(_hue_mix(blurred, faults["colour_jump"], rng), 0, 255)
    err = np.abs(np.asarray(canvas, np.float32) - blurred).sum(axis=-1) + 1.0
    if plan.unfinished_box is not None and level >= 1:
        x0, y0, x1, y1 = plan.unfinished_box
        err[y0:y1, x0:x1] = 0.0
    if k >= plan.n_levels:  # detail that never arrives: only a few coarse touches
        n_strokes = 15
        r = max(1.2, r0 * 0.6 ** max(0, plan.n_levels - 2))
    else:
        n_strokes = int(min(700, 0.9 * size * size / (np.pi * r * r) + 40))
    p = (err**2).ravel()
    p = p / p.sum()
    idx = rng.choice(size * size, size=n_strokes, p=p)
    ys, xs = np.divmod(idx, size)
    layer = Image.new("RGB", (size, size))
    mask = Image.new("L", (size, size), 0)
    draw, mdraw = ImageDraw.Draw(layer), ImageDraw.Draw(mask)
    for x, y in zip(xs, ys, strict=True):
        st = style
        if k >= plan.switch_at and rng.random() < faults["style_switch"]:
            st = other_style
        col = tuple(int(v) for v in colours[y, x])
        s = int(rng.integers(1 << 30))
        _stroke(draw, st, float(x), float(y), r, col, np.random.default_rng(s))
        _stroke(mdraw, st, float(x), float(y), r, (255,), np.random.default_rng(s))
    if style == "watercolor" and k < plan.switch_at:
        mask = mask.point(lambda v: int(v * 0.7))
    canvas = Image.composite(layer, canvas, mask)
    if k == plan.erase_at:
        draw_c = ImageDraw.Draw(canvas)
        area = (0.1 + 0.5 * faults["regression"]) * size * size
        n_rect = 1 + int(faults["regression"] > 0.6)
        for _ in range(n_rect):
            w = int(np.sqrt(area / n_rect))
            x0, y0 = rng.integers(0, max(1, size - w), 2)
            draw_c.rectangle([int(x0), int(y0), int(x0) + w, int(y0) + w], fill=PAPER)
    return canvas


def generate_process(
    target: Image.Image,
    seed: int,
    *,
    n_frames: int = 8,
    size: int = 128,
    fault_rate: float = 0.35,
    other: Image.Image | None = None,
    faults: dict[str, float] | None = None,
    style: str | None = None,
) -> SyntheticProcess:
    """Paint ``target`` over ``n_frames`` frames with seeded, labelled faults.

    ``faults`` forces given fault magnitudes (others off); ``other`` is the image used by
    the ``departure`` fault (a procedural one when absent).
    """
    rng = np.random.default_rng(seed)
    if n_frames < 3:
        raise ValueError("n_frames must be >= 3")
    ref = target.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    if faults is None:
        faults = {f: float(rng.uniform(0.15, 1.0)) for f in FAULTS if rng.random() < fault_rate}
    style = style or STYLES[int(rng.integers(len(STYLES)))]
    other_style = STYLES[(STYLES.index(style) + 1 + int(rng.integers(len(STYLES) - 1))) % len(STYLES)]
    base_target = _target_paint(ref, rng, faults, size, other)
    plan = _plan_faults(rng, faults, n_frames, size)

    canvas = Image.new("RGB", (size, size), PAPER)
    frames: list[Image.Image] = []
    for k in range(n_frames):
        canvas = _paint_frame(canvas, k, base_target, plan, faults, (style, other_style), rng)
        frames.append(canvas.copy())

    labels = labels_from_faults(faults)
    return SyntheticProcess(
        frames=frames, reference=ref, labels=labels, style=style, faults=dict(faults), seed=seed
    )


def labels_from_faults(faults: dict[str, float]) -> np.ndarray:
    """The documented mapping from fault magnitudes to the 8 labels (PROCESS order)."""
    f = faults.get
    lab = {
        "consistency": 10
        - 9 * float(np.clip(f("departure", 0) + 0.3 * f("layout_shift", 0) + 0.3 * f("unfinished", 0), 0, 1)),
        "style_stability": 10 - 8 * f("style_switch", 0),
        "color_stability": 10 - 8 * f("colour_jump", 0),
        "composition_stability": 10 - 8 * f("layout_shift", 0),
        "process_stability": 10 - 8 * f("regression", 0),
        "detail_depth": 10 - 8 * f("no_detail", 0),
        "color_depth": 10 - 8 * f("flat_colour", 0),
        "composition_depth": 10 - 8 * f("unfinished", 0),
    }
    return np.array([lab[k] for k in PROCESS_KEYS], dtype=np.float32)


def generate_dataset(
    n: int,
    seed: int,
    targets: Sequence[Image.Image] = (),
    *,
    n_frames: int = 8,
    size: int = 128,
    fault_rate: float = 0.35,
) -> list[SyntheticProcess]:
    """``n`` processes; targets cycle through ``targets`` mixed with procedural pictures."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        s = int(rng.integers(1 << 31))
        r = np.random.default_rng(s + 1)
        if targets and r.random() < 0.6:
            tgt = targets[int(r.integers(len(targets)))]
            oth = targets[int(r.integers(len(targets)))]
        else:
            tgt, oth = procedural_target(r, size), None
        out.append(generate_process(tgt, s, n_frames=n_frames, size=size, fault_rate=fault_rate, other=oth))
        del i
    return out
