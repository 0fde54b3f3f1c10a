"""Pre-chipped training data: a directory of image chips and one of matching masks.

The seed project's workflow kept 256 x 256 NAIP chips in one directory and a mask
GeoTIFF of the same name for each in another. :class:`ChipMasks` reads such masks as
a TorchGeo raster dataset (join it with :class:`~.naip.NAIPChips` by ``&``),
:func:`check_chip_pairs` proves the two directories line up, and
:func:`write_chip_masks` makes the masks from a label file (``tgdc chips``).
"""

import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from pyproj import CRS
from torchgeo.datasets import RasterDataset
from torchgeo.datasets.utils import Sample
from tqdm import tqdm

from ..errors import TGDCError
from ..utils import atomic_output, check_output_dir, check_output_path
from ..utils.atomic import writing
from .labels import DataCenterLabels


class ChipMasks(RasterDataset):
    """Single-band mask GeoTIFFs (0 background, 1 data center, >1 hard negatives)."""

    filename_regex = r".*"
    is_image = False

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] = "masks",
        crs: CRS | None = None,
        res: float | tuple[float, float] | None = None,
        transforms: Callable[[Sample], Sample] | None = None,
        filename_glob: str = "*.tif",
    ) -> None:
        """Initialize a new ChipMasks dataset.

        Args:
            paths: directories to search or mask files to load.
            crs: CRS to warp to (defaults to that of the first file).
            res: resolution in units of the CRS (defaults to that of the first file).
            transforms: a function that takes a sample and returns a transformed one.
            filename_glob: glob that selects mask files inside directories.

        Raises:
            TGDCError: if no mask file is found.
        """
        self.filename_glob = filename_glob
        self.paths = paths
        if not self.files:
            raise TGDCError(f"{paths}: no mask files matching {filename_glob!r}")
        super().__init__(paths, crs=crs, res=res, transforms=transforms)


@dataclass(frozen=True)
class ChipPair:
    """An image chip and its mask, checked to share size, CRS and transform."""

    image: Path
    mask: Path


def check_chip_pairs(
    chips_dir: str | os.PathLike[str], masks_dir: str | os.PathLike[str], pattern: str = "*.tif"
) -> list[ChipPair]:
    """Pair every chip with the mask of the same name and check they line up.

    Args:
        chips_dir: directory of image chips.
        masks_dir: directory of masks with the same file names.
        pattern: glob selecting the files in both directories.

    Returns:
        The pairs, sorted by name.

    Raises:
        TGDCError: if a directory is missing or empty, a chip has no mask (or a mask
            no chip), or a pair differs in size, CRS or transform.
    """
    chips_dir, masks_dir = Path(chips_dir), Path(masks_dir)
    for directory, what in ((chips_dir, "chips"), (masks_dir, "masks")):
        if not directory.is_dir():
            raise TGDCError(f"{directory}: {what} directory does not exist")
    chips = {p.name: p for p in chips_dir.glob(pattern)}
    masks = {p.name: p for p in masks_dir.glob(pattern)}
    if not chips:
        raise TGDCError(f"{chips_dir}: no chips matching {pattern!r}")
    if missing := sorted(set(chips) - set(masks)):
        raise TGDCError(
            f"{masks_dir}: no mask for chip(s) {missing[:5]}; run `tgdc chips` to write them"
        )
    if orphans := sorted(set(masks) - set(chips)):
        raise TGDCError(f"{masks_dir}: mask(s) {orphans[:5]} have no chip in {chips_dir}")
    pairs = []
    for name in sorted(chips):
        with rasterio.open(chips[name]) as image, rasterio.open(masks[name]) as mask:
            for field, a, b in (
                ("size", image.shape, mask.shape),
                ("CRS", image.crs, mask.crs),
                ("transform", image.transform, mask.transform),
            ):
                if a != b:
                    raise TGDCError(
                        f"{masks[name]}: {field} {b} differs from chip {chips[name]} ({a});"
                        " rewrite the mask with `tgdc chips`"
                    )
        pairs.append(ChipPair(chips[name], masks[name]))
    return pairs


def write_chip_masks(
    chips_dir: str | os.PathLike[str],
    labels: DataCenterLabels,
    output_dir: str | os.PathLike[str],
    *,
    pattern: str = "*.tif",
    overwrite: bool = False,
    progress: bool = True,
    check_space: Callable[[dict[Path, int]], None] | None = None,
) -> list[Path]:
    """Write a mask GeoTIFF on the grid of every chip from label polygons.

    Every chip is opened before any mask is written, so a chip that cannot be read leaves
    nothing behind. Each mask is encoded in memory and written by Python, so a full disk
    is an error naming the mask, never a truncated file.

    Args:
        chips_dir: directory of image chips (any CRS each).
        labels: the label polygons (reprojected to each chip's CRS as needed).
        output_dir: directory for the masks (created if missing); masks get the
            chips' names.
        pattern: glob selecting the chips.
        overwrite: replace existing masks.
        progress: show a progress bar.
        check_space: called, before any mask is written, with the most bytes of every
            mask by path (a byte per pixel, uncompressed): the caller's free-space check
            (the command's :func:`~torchgeo_datacenters.outputs.space.check_free_space`).

    Returns:
        The mask paths written.

    Raises:
        TGDCError: if the chips directory is missing or empty, a chip is unreadable
            or has no CRS, a mask exists and *overwrite* is false, or a mask cannot be
            written (no space left); see also *check_space*.
    """
    chips_dir, output_dir = Path(chips_dir), check_output_dir(output_dir)
    if not chips_dir.is_dir():
        raise TGDCError(f"{chips_dir}: chips directory does not exist")
    chips = sorted(chips_dir.glob(pattern))
    if not chips:
        raise TGDCError(f"{chips_dir}: no chips matching {pattern!r}")
    profiles = {chip: _chip_profile(chip) for chip in chips}
    if check_space is not None:
        check_space({output_dir / c.name: p["width"] * p["height"] for c, p in profiles.items()})
    output_dir.mkdir(parents=True, exist_ok=True)
    for chip in chips:
        check_output_path(output_dir / chip.name, overwrite=overwrite)
    written = []
    labelled = False  # whether a label polygon (data center or hard negative) lies on a chip
    for chip in tqdm(chips, desc="masks", unit="chip", disable=not progress):
        profile = profiles[chip]
        labels.crs = CRS.from_user_input(profile["crs"])
        grid = (profile["transform"], (profile["height"], profile["width"]))
        mask = labels.rasterize(*grid)
        labelled = labelled or labels.lies_on(*grid)
        profile.update(
            count=1, dtype="uint8", nodata=None, compress="deflate", photometric="minisblack"
        )
        profile.pop("blockxsize", None)
        profile.pop("blockysize", None)
        profile["tiled"] = False
        with rasterio.MemoryFile() as memory:
            with memory.open(**profile) as dst:
                dst.write(mask.astype(np.uint8), 1)
            encoded = memory.read()
        final = output_dir / chip.name
        with atomic_output(final, overwrite=overwrite) as tmp, writing(final):
            tmp.write_bytes(encoded)
        written.append(output_dir / chip.name)
    if not labelled:
        warnings.warn(
            f"no label polygon lies on any of the {len(chips)} chip(s) in {chips_dir}, so every"
            " mask is background; check that the labels cover the chips' place (longitude"
            " and latitude swapped, or a wrong CRS, puts them elsewhere)",
            stacklevel=2,
        )
    return written


def _chip_profile(chip: Path) -> dict:
    """A chip's rasterio profile, checked to be a georeferenced raster.

    Raises:
        TGDCError: if it is not a readable raster or has no CRS.
    """
    try:
        with rasterio.open(chip) as src:
            profile = dict(src.profile)
    except rasterio.errors.RasterioIOError as error:
        raise TGDCError(f"{chip}: not a readable raster ({error})") from error
    if profile.get("crs") is None:
        raise TGDCError(f"{chip}: chip has no CRS; assign one before writing masks")
    return profile
