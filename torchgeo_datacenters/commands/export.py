"""``tgdc export``: write a trained checkpoint as an ONNX file for ONNX Runtime."""

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``export`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "export",
        help="write a trained checkpoint as an ONNX model",
        description=(
            "Write the model of a training checkpoint as an ONNX file: normalised images"
            " (batch, bands, height, width) in, data-center probabilities (batch, height,"
            " width) out, batch and tile size free. The checkpoint's bands, pixel size,"
            " normalisation, tile size, threshold and classes are stored in the file's"
            " metadata, so `tgdc detect --checkpoint model.onnx` runs it through ONNX Runtime"
            " with the same tiling, stitching and outputs."
        ),
    )
    parser.add_argument(
        "--checkpoint", type=Path, required=True, help="model checkpoint (.ckpt) from training"
    )
    parser.add_argument(
        "--onnx", type=Path, required=True, metavar="FILE", help="the ONNX file to write"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export the checkpoint and print where the file is.

    Args:
        args: the parsed arguments.

    Returns:
        The exit status (0).

    Raises:
        TGDCError: if the checkpoint cannot be loaded, the output is not a ``.onnx``
            file, or it exists without ``--overwrite``.
    """
    from ..errors import TGDCError
    from ..inference.model import load_checkpoint
    from ..inference.onnx import export_onnx, is_onnx
    from ..utils import check_output_path

    if not is_onnx(args.onnx):
        raise TGDCError(f"{args.onnx}: name the ONNX file with the .onnx extension")
    check_output_path(args.onnx, overwrite=args.overwrite)
    model = load_checkpoint(args.checkpoint, device="cpu")
    path = export_onnx(model, args.onnx, model.hparams, overwrite=args.overwrite)
    print(f"onnx: {path}")
    return 0
