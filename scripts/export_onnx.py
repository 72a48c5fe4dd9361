"""Export the ONNX graphs artjudge ships: the multi-scale encoder, the default head and the
process judge's frame encoder and classifier.

    python scripts/export_onnx.py                 # all, into src/artjudge/weights/
    python scripts/export_onnx.py --process       # only the process judge's two graphs
    python scripts/export_onnx.py --head CKPT_DIR # a trained checkpoint's head.onnx

Reproducible: the same torch version writes the same bytes (the script prints each
SHA-256; compare with the shipped NAME.sha256). Needs torch and onnx (pip install -e .[torch,dev]).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from artjudge.models.onnx_export import export_encoder, export_head, export_process_encoder
from artjudge.models.weights import (
    ENCODER_ONNX,
    PACKAGE_WEIGHTS,
    PROCESS_CLASSIFIER_ONNX,
    PROCESS_TOKENS_ONNX,
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--head", type=Path, help="only export this checkpoint folder's head")
    ap.add_argument("--process", action="store_true", help="only export the process judge's two graphs")
    args = ap.parse_args()
    if args.head is not None:
        print(f"{args.head / 'head.onnx'}  {export_head(args.head)}")
        return
    tokens, classifier = export_process_encoder()
    print(f"{PROCESS_TOKENS_ONNX}  {tokens}")
    print(f"{PROCESS_CLASSIFIER_ONNX}  {classifier}")
    if args.process:
        return
    print(f"{ENCODER_ONNX}  {export_encoder(ENCODER_ONNX)}")
    folder = PACKAGE_WEIGHTS / "default"
    print(f"{folder / 'head.onnx'}  {export_head(folder)}")


if __name__ == "__main__":
    main()
