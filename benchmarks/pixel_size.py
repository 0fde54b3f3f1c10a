"""How coarse imagery can be before a checkpoint stops finding data centers.

The test scenes of benchmarks/accuracy.py (SYNTHETIC, 0.6 m) are averaged down by each
``--factors`` F (pixels F x 0.6 m on the ground, as coarser imagery of the same ground
is), then detected by each checkpoint, which the predictor resamples back to its 0.6 m on
the fly. Printed per checkpoint and factor: the pixel size, object precision, recall and
F1 (one-to-one matches at IoU >= 0.5, pooled over the scenes), as benchmarks/accuracy.py
scores them, with the predictor's limit (:data:`~torchgeo_datacenters.imagery.MAX_COARSER`,
set from these figures) lifted.

    uv run python benchmarks/pixel_size.py CKPT [CKPT ...] [--factors 1 2 3 4 8]
        [--test-scenes 6]
"""

import argparse
import math
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import rasterio
from accuracy import make_data, score
from rasterio.enums import Resampling

from torchgeo_datacenters.imagery import MAX_COARSER
from torchgeo_datacenters.inference import scene as scene_module


def coarser(scene: Path, factor: int, out: Path) -> Path:
    """Write *scene* with pixels *factor* times larger, each the mean of the pixels it covers.

    Args:
        scene: a GeoTIFF.
        factor: how many times larger the pixels are, along each side.
        out: the file to write.

    Returns:
        *out*.
    """
    with rasterio.open(scene) as src:
        height, width = src.height // factor, src.width // factor
        data = src.read(out_shape=(src.count, height, width), resampling=Resampling.average)
        transform = src.transform * src.transform.scale(src.width / width, src.height / height)
        profile = src.profile | {"height": height, "width": width, "transform": transform}
    for key in ("blockxsize", "blockysize", "tiled"):
        profile.pop(key, None)
    with rasterio.open(out, "w", **profile) as dst:
        dst.write(data)
    return out


def main() -> None:
    """Score every checkpoint on the test scenes at every pixel size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 2, 3, 4, 8])
    parser.add_argument("--test-scenes", type=int, default=6)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tgdc-pixel-size-"))
    scenes, truth = make_data(root, args.test_scenes, training=False)
    print(f"writing under {root}")
    print(f"the predictor refuses pixels more than {MAX_COARSER:g}x the checkpoint's")
    print(
        f"{'checkpoint':40s} {'factor':>6s} {'pixel m':>7s} {'objP':>6s} {'objR':>6s} {'objF1':>6s}"
    )
    warnings.simplefilter("ignore")  # the predictor's resampling warning, every scene
    for number, checkpoint in enumerate(args.checkpoints):
        for factor in args.factors:
            folder = root / f"{number}-x{factor}"
            folder.mkdir()
            (folder / "labels.geojson").write_bytes(
                (scenes[0].parent / "labels.geojson").read_bytes()
            )
            inputs = [coarser(scene, factor, folder / scene.name) for scene in scenes]
            # Beyond the limit the predictor refuses: scored as it would be without one.
            with mock.patch.object(scene_module, "MAX_COARSER", math.inf):
                m = score(checkpoint, inputs, truth, folder / "score")
            print(
                f"{str(checkpoint)[-40:]:40s} {factor:6d} {0.6 * factor:7.1f}"
                f" {m['object_precision']:6.3f} {m['object_recall']:6.3f} {m['object_f1']:6.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
