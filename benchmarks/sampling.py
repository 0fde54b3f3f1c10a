"""Training-data speed: samples/s of the joined NAIP & labels dataset.

Compares, in one run on the same files, ``NAIPChips & DataCenterLabels`` (labels
validated and cached in memory once) with a plain torchgeo ``RasterDataset &
VectorDataset`` (which re-reads and reprojects the label file for every sample), and
the imagery alone as the ceiling. 256 px random patches, one process, SYNTHETIC
2048 x 2048 scenes.

    uv run python benchmarks/sampling.py [--scenes 4] [--size 2048] [--samples 300]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torchgeo.datasets import RasterDataset, VectorDataset
from torchgeo.samplers import RandomPatchSampler

from torchgeo_datacenters.datasets import DataCenterLabels, NAIPChips
from torchgeo_datacenters.synthetic import generate_scenes


class PlainRaster(RasterDataset):
    """torchgeo's RasterDataset with its defaults, over the scene files."""

    filename_glob = "scene_*.tif"


def rate(dataset, samples: int, seed: int = 0) -> float:
    """Samples per second drawing *samples* random 256 px patches."""
    sampler = RandomPatchSampler(dataset, size=256, length=samples, generator=seed)
    indices = list(sampler)
    for index in indices[:20]:
        dataset[index]
    start = time.perf_counter()
    for index in indices:
        dataset[index]
    return len(indices) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=2048, help="scene side in pixels")
    parser.add_argument("--samples", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_scenes(Path(tmp), size=args.size, count=args.scenes, seed=0)
        root = str(Path(tmp))
        image_only = NAIPChips(root, filename_glob="scene_*.tif")
        ours = NAIPChips(root, filename_glob="scene_*.tif") & DataCenterLabels(
            data.labels_path, res=image_only.res
        )
        plain = PlainRaster(root) & VectorDataset(str(data.labels_path))
        figures = {
            "image alone": rate(image_only, args.samples),
            "plain RasterDataset & VectorDataset": rate(plain, args.samples),
            "NAIPChips & DataCenterLabels": rate(ours, args.samples),
        }
    print(f"{args.scenes} SYNTHETIC scenes of {args.size}^2 px, 256 px random patches, 1 process")
    for name, value in figures.items():
        print(f"  {name:38s} {value:8.1f} samples/s")
    ratio = figures["NAIPChips & DataCenterLabels"] / figures["plain RasterDataset & VectorDataset"]
    print(f"ours / plain join: {ratio:.2f}x (target >= 2x)")
    share = figures["NAIPChips & DataCenterLabels"] / figures["image alone"]
    print(f"ours / image alone: {share:.2f}")


if __name__ == "__main__":
    main()
