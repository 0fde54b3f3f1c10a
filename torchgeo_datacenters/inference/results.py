"""What a prediction run returns: the detections, the files written and counts of the run."""

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass
class RunStats:
    """Counts gathered while predicting one scene."""

    pixels: int = 0
    valid_pixels: int = 0
    scanned_m2: float = 0.0
    tiles: int = 0
    skipped_tiles: int = 0
    #: Tiles holding valid pixels that the screen kept from the full model.
    screened_tiles: int = 0
    #: Scenes a screen looked at (0: the full model ran everywhere).
    screened_scenes: int = 0

    def __iadd__(self, other: "RunStats") -> "RunStats":
        """Add the counts of another run."""
        self.pixels += other.pixels
        self.valid_pixels += other.valid_pixels
        self.scanned_m2 += other.scanned_m2
        self.tiles += other.tiles
        self.skipped_tiles += other.skipped_tiles
        self.screened_tiles += other.screened_tiles
        self.screened_scenes += other.screened_scenes
        return self


@dataclass
class Detections:
    """The result of a prediction run."""

    #: One row per detection: id, area_m2, centroid_lon, centroid_lat, score, max_score,
    #: source and the polygon (EPSG:4326).
    gdf: "gpd.GeoDataFrame"
    #: Every file written, by output kind (see :mod:`torchgeo_datacenters.outputs`).
    outputs: dict[str, Path] = field(default_factory=dict)
    #: Names of the input rasters.
    sources: tuple[str, ...] = ()
    #: Counts of pixels, area and tiles.
    stats: RunStats = field(default_factory=RunStats)
    #: Wall-clock duration of the run, in seconds.
    seconds: float = 0.0
    #: Numeric precision the model ran at (``auto`` resolved, see :mod:`.precision`).
    precision: str = "fp32"

    def __len__(self) -> int:
        """Number of detections."""
        return len(self.gdf)

    @property
    def scanned_km2(self) -> float:
        """Area of valid input pixels, in km²."""
        return self.stats.scanned_m2 / 1e6

    def summary(self) -> str:
        """One line describing the run.

        Returns:
            Detections, km² scanned, time and km²/s, the model's precision and, where a
            screen ran, the tiles it ruled out (none included); or a note that the input
            held no valid pixels.
        """
        where = self.sources[0] if len(self.sources) == 1 else f"{len(self.sources)} rasters"
        if self.stats.valid_pixels == 0:
            return f"0 detections in {where}: every pixel is nodata, nothing was scanned"
        rate = self.scanned_km2 / self.seconds if self.seconds > 0 else float("inf")
        screened = self.stats.screened_tiles
        screen = (
            f"; the screen ruled out {screened} of {self.stats.tiles} tiles"
            if self.stats.screened_scenes
            else ""
        )
        return (
            f"{len(self)} detection(s) in {where}: {self.scanned_km2:.3f} km² scanned in"
            f" {self.seconds:.1f} s ({rate:.3f} km²/s, {self.precision}{screen})"
        )
