"""A screening pass: the parts of a scene where a data center can be.

Data centers cover well under 0.1% of the land. Before the full model, a screen (the
same kind of network, trained by the same ``torchgeo fit`` route on imagery sampled at
4x the pixel size, ``--data.init_args.gsd 2.4``, with warehouses counted as foreground,
``--data.init_args.positive_classes '[datacenter, warehouse]'``: it finds every large flat
roof the full model might take for a data center, and leaves telling them apart to the
full model) looks at the scene at its own coarse pixel size, where it costs about 1/16 of
the full model per km². Where its probability reaches :data:`SCREEN_THRESHOLD`, grown by
:data:`SCREEN_MARGIN_M` metres, the full model runs on every tile that touches it: every
pixel of that area then gets exactly the probability of a full run (all the tiles that
cover it run). Pixels that no tile that ran covers get probability 0 without the model. A
detection, or a patch too small to be one, that comes near a tile left out
(:meth:`Screen.unfinished`) may go on beyond it, so the predictor runs those tiles too and
traces the scene again (the tiles run before are not run again:
:class:`~.tilecache.TileCache`), until none comes near one: every outline of a screened run
is the full run's, however little of the building the screen found.

The screen ships beside the checkpoint, as ``<checkpoint name>.screen.ckpt``
(:func:`screen_path`), and is used where it is there (``--screen auto``, the default) or
named (``--screen FILE``); ``--screen off`` runs the full model everywhere.
``benchmarks/screen.py`` measures its speed and whether every detection of the full
run is found with the same outline, on a SYNTHETIC county (benchmarks/README.md, "Default
precision and the screening pass").
"""

import dataclasses
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import shapely
import torch
from rasterio.warp import transform_bounds
from rasterio.windows import Window, bounds
from scipy.ndimage import distance_transform_edt

from ..detections.outlines import TOLERANCE_PIXELS
from ..errors import TGDCError
from ..grid import Grid
from ..imagery import ImageryRules
from .device import CHANNELS_LAST_DEVICES
from .model import ProbabilityModel, load_checkpoint
from .precision import autocast
from .scene import Scene, open_scene
from .tiling import TileLayout, tile_starts

if TYPE_CHECKING:
    import geopandas as gpd

#: File name suffix of a screen shipped beside its checkpoint (``model.ckpt`` ->
#: ``model.screen.ckpt``).
SCREEN_SUFFIX = ".screen.ckpt"

#: Values of the ``screen`` option besides a file: ``auto`` uses the screen beside the
#: checkpoint where there is one, ``off`` none.
SCREEN_CHOICES = ("auto", "off")

#: Screen probability at or above which the full model runs. On the SYNTHETIC county of
#: benchmarks/screen.py (benchmarks/README.md, "Default precision and the screening pass")
#: a data-center screen (8 epochs) reached 0.994-0.999 inside every detection of the full
#: run, and at most 0.58 on the houses and 0.35 on the forest of scenes with no detection,
#: where 0.2 sent the full model to 25% and 16% of their tiles and 0.5 to 0.3% and none.
SCREEN_THRESHOLD = 0.5

#: Distance from the screen's candidate pixels within which the full model runs, in
#: metres. None is needed for whole outlines (:meth:`Screen.unfinished` runs the tiles a
#: detection goes on into) nor, with warehouses in the screen's foreground, for the full
#: run's detections: on the county every one of them was found at 0 m as at 30 m, with
#: the full model on 9.1% of the tiles instead of 11.6%.
SCREEN_MARGIN_M = 0.0

#: Pixels around an outline that must be exact before it is known to be whole, besides
#: the merge distance and the simplification tolerance: the pixels next to its traced
#: edges, and a regularised outline's walls, which may lie up to the regularising
#: tolerance (:data:`~..detections.outlines.TOLERANCE_PIXELS`) from them.
UNFINISHED_REACH = TOLERANCE_PIXELS + 2

#: Side of the blocks the screen runs on, in its own (coarse) pixels, and their overlap:
#: overlapping blocks keep the larger probability.
SCREEN_BLOCK = 512
SCREEN_OVERLAP = 32

#: The screen's blocks are padded to a multiple of this (UNet4 halves its input 4 times).
SCREEN_MULTIPLE = 16


def screen_path(checkpoint: str | os.PathLike[str]) -> Path:
    """The screen shipped beside a checkpoint.

    Args:
        checkpoint: the full model's checkpoint.

    Returns:
        ``<checkpoint without its suffix>.screen.ckpt`` in the same directory.
    """
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + SCREEN_SUFFIX)


def find_screen(choice: str | None, checkpoint: str | os.PathLike[str] | None) -> Path | None:
    """The screen a run uses.

    Args:
        choice: ``auto``, ``off`` or the path of a screen checkpoint (None: ``off``).
        checkpoint: the full model's checkpoint file (None: given as a model object).

    Returns:
        The screen checkpoint: the one named, or for ``auto`` the one beside the
        checkpoint where it exists; None for no screen.

    Raises:
        TGDCError: if the choice is empty, or a named screen file does not exist or is a
            directory.
    """
    if choice in (None, "off"):
        return None
    if choice == "auto":
        if checkpoint is None:
            return None
        beside = screen_path(checkpoint)
        return beside if beside.is_file() else None
    if not choice.strip():
        raise TGDCError("screen: empty; give auto, off or the path of a screen checkpoint")
    path = Path(choice)
    if path.is_dir():
        raise TGDCError(
            f"{path}: is a directory; give the screen checkpoint file in it (NAME.screen.ckpt),"
            " or --screen auto or off"
        )
    if not path.is_file():
        raise TGDCError(
            f"{path}: screen checkpoint does not exist; give one (trained with"
            " --data.init_args.gsd 2.4), or --screen auto or off"
        )
    return path


def check_screen(screen: ProbabilityModel, model: ProbabilityModel) -> None:
    """Refuse a screen that reads the imagery otherwise than the full model.

    The screen reads the scene's files by the full model's imagery rules, at its own
    pixel size: its bands, their order and the raw values it was trained on must be the
    model's.

    Args:
        screen: the screen.
        model: the full model.

    Raises:
        TGDCError: naming the screen and what differs.
    """
    same_bands = screen.band_count == model.band_count and (
        not screen.bands or not model.bands or tuple(screen.bands) == tuple(model.bands)
    )
    same_values = (screen.dtype, tuple(screen.value_range)) == (
        model.dtype,
        tuple(model.value_range),
    )
    if not (same_bands and same_values):
        raise TGDCError(
            f"{screen.name}: the screen was trained on {screen.band_count} band(s)"
            f" {_imagery(screen)}, the model on {model.band_count} {_imagery(model)}; train"
            " the screen on the model's imagery, or give --screen off"
        )


def _imagery(model: ProbabilityModel) -> str:
    """A model's band names, raw data type and value range, for messages."""
    return f"({', '.join(model.bands) or 'unnamed'}) of {model.dtype} {list(model.value_range)}"


class Screen:
    """A coarse model that decides which tiles of a scene the full model runs on."""

    def __init__(
        self,
        model: str | os.PathLike[str] | ProbabilityModel,
        device: torch.device,
        *,
        threshold: float = SCREEN_THRESHOLD,
        margin_m: float = SCREEN_MARGIN_M,
        precision: str = "fp32",
    ) -> None:
        """Initialize a new Screen.

        Args:
            model: the screen's checkpoint, or the screen as a model (its ``gsd`` is the
                pixel size it looks at).
            device: where it runs.
            threshold: probability at or above which a coarse pixel is a candidate.
            margin_m: distance from candidates within which the full model runs, in
                metres.
            precision: the full model's resolved precision
                (:func:`~.precision.resolve_precision`); the screen runs autocast to
                ``bf16`` or ``fp16`` where it is one of those, otherwise in fp32.

        Raises:
            TGDCError: if the checkpoint cannot be loaded or threshold or margin are out
                of range.
        """
        if not 0 < threshold < 1:
            raise TGDCError(f"screen threshold {threshold}: must be strictly between 0 and 1")
        if margin_m < 0:
            raise TGDCError(f"screen margin {margin_m} m: must be >= 0")
        if not isinstance(model, ProbabilityModel):
            model = load_checkpoint(model, device=device)
        if model.module is not None:
            model.module.to(device).eval()
            if device.type in CHANNELS_LAST_DEVICES:
                model.module.to(memory_format=torch.channels_last)
        self.model = model
        self.device = device
        self.threshold = threshold
        self.margin_m = margin_m
        self.precision = precision

    def candidates(self, scene: Scene, rules: ImageryRules) -> tuple[np.ndarray, Scene]:
        """Find where the full model must run, on the screen's coarse grid.

        Args:
            scene: the scene (of files) the full model is about to predict.
            rules: the full model's imagery rules; the screen reads the same files at
                its own pixel size.

        Returns:
            (height, width) booleans on the coarse grid, true within the margin of a
            pixel whose screen probability reaches the threshold; and the coarse scene.

        Raises:
            TGDCError: if the scene is a TorchGeo dataset (give files) or cannot be read.
        """
        if scene.dataset is not None:
            raise TGDCError("screen: runs on files, not a TorchGeo dataset; use --screen off")
        coarse_rules = dataclasses.replace(rules, gsd=self.model.gsd, resample=True)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*resampled on the fly.*")
            coarse = open_scene(list(scene.files), scene.band_count, coarse_rules)
        grid = coarse.grid
        found = np.zeros((grid.height, grid.width), bool)
        block = min(
            SCREEN_BLOCK, -(-max(grid.height, grid.width) // SCREEN_MULTIPLE) * SCREEN_MULTIPLE
        )
        stride = block - SCREEN_OVERLAP
        mean = np.asarray(self.model.mean, np.float32)
        std = np.asarray(self.model.std, np.float32)
        for row in tile_starts(grid.height, block, stride):
            for col in tile_starts(grid.width, block, stride):
                pixels = coarse.read(row, col, (block, block))
                valid = coarse.valid(pixels, row, col)
                if not valid.any():
                    continue
                # Pixel-interleaved as read: a channels-last tensor without a copy.
                images = np.nan_to_num((pixels - mean) / std).transpose(2, 0, 1)[None]
                with torch.inference_mode(), autocast(self.precision, self.device):
                    tensor = torch.from_numpy(images).to(self.device)
                    if self.device.type in CHANNELS_LAST_DEVICES:
                        tensor = tensor.contiguous(memory_format=torch.channels_last)
                    else:
                        tensor = tensor.contiguous()
                    probabilities = self.model.probability_fn(tensor)[0].float().cpu().numpy()
                hits = (probabilities >= self.threshold) & valid
                # A block may start before the grid (centred on a shorter side).
                top, left = max(row, 0), max(col, 0)
                bottom, right = min(row + block, grid.height), min(col + block, grid.width)
                found[top:bottom, left:right] |= hits[
                    top - row : bottom - row, left - col : right - col
                ]
        if not found.any():  # (the distance transform needs a candidate to measure from)
            return found, coarse
        pixel_m = abs(grid.transform.a)
        near = distance_transform_edt(~found) * pixel_m <= self.margin_m
        return near, coarse

    def tiles(
        self,
        scene: Scene,
        rules: ImageryRules,
        offsets: Sequence[tuple[int, int]],
        tile_size: int,
    ) -> np.ndarray:
        """Decide which tiles of a scene the full model runs on.

        Args:
            scene: the scene.
            rules: the full model's imagery rules.
            offsets: (row, column) of the scene's tiles on its grid.
            tile_size: tile side, in pixels.

        Returns:
            One boolean per tile: whether it touches the candidates' area.
        """
        near, coarse = self.candidates(scene, rules)
        inverse = ~coarse.grid.transform
        run = np.zeros(len(offsets), bool)
        for index, (row, col) in enumerate(offsets):
            box = bounds(Window(col, row, tile_size, tile_size), scene.grid.transform)
            if scene.grid.crs != coarse.grid.crs:
                box = transform_bounds(scene.grid.crs, coarse.grid.crs, *box)
            left, top = inverse @ (box[0], box[3])
            right, bottom = inverse @ (box[2], box[1])
            r0, r1 = max(0, int(np.floor(top))), min(near.shape[0], int(np.ceil(bottom)))
            c0, c1 = max(0, int(np.floor(left))), min(near.shape[1], int(np.ceil(right)))
            run[index] = r1 > r0 and c1 > c0 and bool(near[r0:r1, c0:c1].any())
        return run

    def unfinished(
        self,
        detections: "gpd.GeoDataFrame",
        dropped: np.ndarray,
        grid: Grid,
        layout: TileLayout,
        run: np.ndarray,
        reach: int,
    ) -> np.ndarray:
        """Find the tiles a screened run left out that its detections may go on into.

        A pixel's probability is exactly a full run's where every tile covering it ran
        (near a tile left out, it is the blend of the tiles that ran). So an outline is
        the full run's where no tile left out comes within *reach* pixels of it (the merge
        distance, and the outline's own distance from the pixel edges it was traced
        along). A patch dropped as smaller than the minimum area may be the part of a
        detection that the tiles left out cut off, so it counts too where it touches
        pixels that no tile that ran predicts (speckle inside the tiles that ran does not).

        Args:
            detections: the screened run's detections (any CRS).
            dropped: (patches, 4) pixel bounds (min column, min row, max column, max row)
                of the patches too small to be detections.
            grid: the scene's grid.
            layout: the scene's tiles.
            run: (tiles,) booleans: the tiles the full model ran on.
            reach: distance from an outline within which pixels must be exact, in pixels.

        Returns:
            (tiles,) booleans: the tiles left out within *reach* of an outline; run them
            too and predict the scene again (none: every outline is whole).
        """
        if (detections.empty and not len(dropped)) or run.all():
            return np.zeros(len(run), bool)
        size = layout.tile_size
        rows, cols = np.asarray(layout.offsets, float).T
        boxes = shapely.box(cols, rows, cols + size, rows + size)
        inverse = ~grid.transform
        outlines = shapely.transform(
            detections.to_crs(grid.crs).geometry.to_numpy(),
            lambda xy: np.column_stack(inverse @ (xy[:, 0], xy[:, 1])),
        )
        patches = shapely.box(*np.asarray(dropped, float).reshape(-1, 4).T)
        if len(patches):
            # Pixels of the tiles left out that no tile that ran weighs (a tile's blend is
            # 0 within a quarter of the overlap of its inner edges: :func:`~.stitch.ramp`).
            margin = layout.overlap // 4
            inner = shapely.bounds(boxes[run]) + np.array([margin, margin, -margin, -margin])
            predicted = shapely.union_all(shapely.box(*inner.T))
            unpredicted = shapely.difference(shapely.union_all(boxes[~run]), predicted)
            patches = patches[shapely.dwithin(patches, unpredicted, 1)]
        tree = shapely.STRtree(np.concatenate([outlines, patches]))
        tile, _ = tree.query(boxes, predicate="dwithin", distance=reach)
        near = np.zeros(len(run), bool)
        near[tile] = True
        return near & ~run
