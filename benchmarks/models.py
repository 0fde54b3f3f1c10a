"""UNet4 against an smp U-Net with a ResNet18 encoder, trained the same way.

Both run the demo pipeline (``configs/demo.yaml``: SYNTHETIC scenes, same patches,
epochs, loss and seed; no pretrained weights, none can be downloaded here) and are
scored on the same held-out SYNTHETIC test scene: pixel IoU, Dice, precision, recall
and object F1 (IoU >= 0.5).

    uv run python benchmarks/models.py [--epochs N] [--output-dir DIR]
"""

import argparse
import tempfile
from pathlib import Path

from torchgeo_datacenters.demo import run_demo

MODELS = {
    "UNet4 (ours, 32 base channels)": {"model": "unet4"},
    "smp U-Net, ResNet18 encoder": {"model": "unet", "backbone": "resnet18"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--output-dir", type=Path, default=None)
    args = parser.parse_args()
    root = args.output_dir or Path(tempfile.mkdtemp(prefix="tgdc-models-"))
    rows = []
    for index, (name, overrides) in enumerate(MODELS.items()):
        result = run_demo(root / f"model{index}", epochs=args.epochs, model=overrides)
        rows.append((name, result))
    print("\nSYNTHETIC held-out test scene, demo-size training (configs/demo.yaml)")
    columns = ("IoU", "Dice", "prec", "recall", "objF1")
    print(f"{'model':34s} " + " ".join(f"{c:>6s}" for c in columns) + f" {'time s':>7s}")
    for name, result in rows:
        m = result.metrics
        print(
            f"{name:34s} {m['pixel_iou']:6.3f} {m['pixel_dice']:6.3f} {m['pixel_precision']:6.3f}"
            f" {m['pixel_recall']:6.3f} {m['object_f1']:6.3f} {result.seconds:7.0f}"
        )


if __name__ == "__main__":
    main()
