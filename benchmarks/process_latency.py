"""Latency of a new frame: key-value cache (``update``) against a full recompute.

    python benchmarks/process_latency.py [--repeats 20] [--runtime onnx torch]

For processes of 10 and 50 frames, the time to get scores after the last frame: with the
cache (one ``step`` over the new frame's tokens) and by recomputing the whole sequence
(the network over all frames), signals included (the cache measures the new frame's
canvas signals, the recompute every frame's), both on precomputed frame tokens and alignment features
against a reference image, in the same run; plus the frozen encoder's time for one frame
(patch tokens, class logits and alignment features), which both paths pay once per new
frame (a full recompute that re-encoded every frame would pay it T times). The encoder runs
on each ``--runtime`` (default both: ONNX Runtime, the default engine, and PyTorch); the
judge's transformer and the signals are the same torch/NumPy code on either, so the cache and
recompute rows are measured once, on the first engine's tokens, and each engine adds its
encoder time. Writes benchmarks/results/process_latency.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--weights", default="default")
    ap.add_argument(
        "--runtime",
        dest="engine",
        nargs="+",
        choices=("onnx", "torch"),
        default=["onnx", "torch"],
        help="frame encoder engines",
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from artjudge.io.files import atomic_write_text
    from artjudge.models.process.encoder import PatchEncoder
    from artjudge.models.process.judge import default_weights_path, load_net
    from artjudge.models.process.onnx_encoder import OnnxPatchEncoder

    wpath = default_weights_path() if args.weights == "default" else Path(args.weights)
    net, blob = load_net(wpath)
    resolution = int(blob["meta"]["resolution"])
    encoders = {
        e: OnnxPatchEncoder(threads=args.threads)
        if e == "onnx"
        else PatchEncoder(resolution=resolution, grid=net.cfg.grid)
        for e in args.engine
    }
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
    ref_img = Image.fromarray(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
    encoder = encoders[args.engine[0]]
    ref = torch.from_numpy(encoder.encode([ref_img]))
    grounded = net.grounder.ready
    relevance = (
        net.grounder.relevance_from_logits(torch.from_numpy(encoder.class_logits(ref))) if grounded else None
    )

    def align_of(tokens: torch.Tensor, enc: object = encoder) -> torch.Tensor | None:
        """(T, P, F) -> (1, T, n_align), what the judge computes per new frame."""
        if relevance is None:
            return None
        logits = enc.class_logits(tokens)  # type: ignore[attr-defined]
        return net.grounder.features(torch.from_numpy(logits).unsqueeze(0), relevance)

    enc_ms: dict[str, float] = {}
    for name, enc in encoders.items():

        def encode_frame(enc: object = enc) -> None:
            align_of(torch.from_numpy(enc.encode([img])), enc)  # type: ignore[attr-defined]

        encode_frame()  # warm up
        enc_ms[name] = _median_ms(encode_frame, args.repeats)

    import copy

    from artjudge.features.process_signals import SignalTracker, process_signals

    rows = []
    for n in (10, 50):
        images = [Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)) for _ in range(n)]
        frames = torch.from_numpy(encoder.encode(images)).unsqueeze(0)
        tracker = SignalTracker()
        for im in images[:-1]:
            tracker.add(im)
        align = align_of(frames[0])

        def at(i: int, align: torch.Tensor | None = align) -> torch.Tensor | None:
            return None if align is None else align[:, i]

        def cached_step(frames: torch.Tensor = frames, n: int = n) -> None:
            cache = net.start(ref)
            for i in range(n - 1):
                net.step(cache, frames[:, i], at(i))
            return cache  # type: ignore[return-value]

        base_cache = cached_step()
        times = []
        for _ in range(args.repeats):
            c = type(base_cache)(
                keys=list(base_cache.keys),
                values=list(base_cache.values),
                t=base_cache.t,
                ref=base_cache.ref,
                prev=base_cache.prev,
            )
            tr = copy.deepcopy(tracker)
            t = time.perf_counter()
            net.step(c, frames[:, n - 1], at(n - 1))
            tr.add(images[-1])  # the canvas signals of the new frame only
            times.append((time.perf_counter() - t) * 1000)
        cache_ms = statistics.median(times)

        def full(
            frames: torch.Tensor = frames, align: torch.Tensor | None = align, images: list = images
        ) -> None:
            with torch.no_grad():
                net(frames, ref, None, align)
            process_signals(images)  # every frame's signals again

        full_ms = _median_ms(full, args.repeats)
        rows.append({"frames": n, "cache_ms": cache_ms, "full_ms": full_ms, "speedup": full_ms / cache_ms})
    engines = {
        name: {
            "encoder_ms_per_frame": ms,
            "rows": [
                {
                    "frames": r["frames"],
                    "cache_plus_encoder_ms": r["cache_ms"] + ms,
                    "full_reencode_ms": r["full_ms"] + r["frames"] * ms,
                }
                for r in rows
            ],
        }
        for name, ms in enc_ms.items()
    }
    n_net = sum(p.numel() for p in net.parameters())
    torch_enc = (
        PatchEncoder(resolution=resolution, grid=net.cfg.grid)
        if "torch" not in encoders
        else encoders["torch"]
    )
    n_enc = sum(p.numel() for p in torch_enc.net.parameters())  # type: ignore[union-attr]
    print(f"\nparameters: judge {n_net:,} (trained), frozen encoder {n_enc:,}; threads={args.threads}")
    print(
        f"{'frames':>6}{'cache ms':>10}{'full ms':>10}{'ratio':>8}  (tokens from the {args.engine[0]} encoder)"
    )
    for r in rows:
        print(f"{r['frames']:>6}{r['cache_ms']:>10.2f}{r['full_ms']:>10.2f}{r['speedup']:>8.1f}")
    for name, e in engines.items():
        print(f"{name} encoder, one frame: {e['encoder_ms_per_frame']:.1f} ms")
        for r in e["rows"]:
            print(
                f"  {r['frames']:>3} frames: cache+encode {r['cache_plus_encoder_ms']:.1f} ms, "
                f"full+re-encode {r['full_reencode_ms']:.1f} ms"
            )
    result = {
        "command": "python benchmarks/process_latency.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "threads": args.threads,
        "repeats": args.repeats,
        "parameters_judge": n_net,
        "parameters_frozen_encoder": n_enc,
        "tokens_from": args.engine[0],
        "rows": rows,
        "engines": engines,
    }
    atomic_write_text(RESULTS / "process_latency.json", json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
