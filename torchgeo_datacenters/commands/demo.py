"""``tgdc demo``: train and detect end to end on SYNTHETIC scenes, with pictures."""

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``demo`` subcommand.

    Args:
        subparsers: the subparsers of the ``tgdc`` parser.
    """
    parser = subparsers.add_parser(
        "demo",
        help="run the whole job on SYNTHETIC scenes: generate, train, detect, report",
        description=(
            "Generate SYNTHETIC NAIP-like scenes (not real imagery), train UNet4 through"
            " configs/demo.yaml, detect data centers in a separate test scene, and write"
            " overlay.png, training.png, report.md and the detections. About 3-5 minutes on"
            " 2 CPU cores. For real imagery see `tgdc download` and configs/datacenters.yaml."
        ),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=Path("demo-output"),
        metavar="DIR",
        help="directory for everything the demo writes (default: demo-output)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        metavar="N",
        help="training epochs (default: configs/demo.yaml's max_epochs)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print a summary table.

    Args:
        args: parsed command-line arguments.

    Returns:
        The exit status.
    """
    from ..demo import run_demo
    from ..errors import TGDCError

    if args.epochs is not None and args.epochs < 1:
        raise TGDCError(f"--epochs: {args.epochs} must be at least 1")
    result = run_demo(args.output_dir, epochs=args.epochs)
    m = result.metrics
    print()
    print("SYNTHETIC test scene (generated data, not real imagery)")
    print(f"  {'pixel IoU':24s} {m['pixel_iou']:6.3f}")
    print(f"  {'pixel Dice':24s} {m['pixel_dice']:6.3f}")
    print(f"  {'pixel precision':24s} {m['pixel_precision']:6.3f}")
    print(f"  {'pixel recall':24s} {m['pixel_recall']:6.3f}")
    print(f"  {'object F1 (IoU >= 0.5)':24s} {m['object_f1']:6.3f}")
    print(f"  {'detections':24s} {len(result.detections):6d}")
    if result.changes is not None:
        from ..detections.change import summarize

        print(f"Change example (SYNTHETIC later vintage): {summarize(result.changes)}")
    print()
    out = result.output_dir
    print(f"Files in {out}/: overlay.png, training.png, report.md, report.html (map),")
    print("  detections.geojson,", end="")
    print(" detections.csv, mask.tif, model.ckpt, demo-config.yaml, change.geojson,")
    print("  change.html (map of the change example); folders data/ (training scenes and")
    print("  labels.geojson), test/ (scene.tif, its labels, later.tif) and training/ (logs,")
    print("  checkpoints)")
    print(
        "Real imagery: `tgdc download --sites labels.geojson ...`, `tgdc chips`, then"
        " `torchgeo fit --config configs/datacenters.yaml` (README)."
    )
    print(f"tgdc demo: done in {result.seconds:.0f} s")
    return 0
