"""Read the pixels of a GeoTIFF as a model needs them, onto any grid, with their validity.

:class:`ImageryFile` reads the data bands of one raster file onto a window of a north-up
grid and marks every invalid pixel NaN in all bands. A pixel is invalid only where the
file says so:

* its bands all equal the file's nodata value (NaN included);
* any band is NaN (float imagery: NaN is never a pixel value);
* GDAL's mask band of the file (an internal or ``.msk`` sidecar mask) is 0 there;
* a real alpha band, one *beyond* the bands the model reads, is 0 there.

An alpha-tagged band that is one of the bands read is data: NAIP's 4th band is near
infrared, and GDAL often takes it for alpha.

Files on the grid's pixel lattice (same CRS, same north-up pixel size, whole-pixel offset)
are read with plain windowed reads; every other file (south-up rows, another CRS, another
pixel size) is warped onto the grid window by window with
:func:`rasterio.warp.reproject`, invalid pixels left out of the resampling.

:func:`input_scaling` is the visible rule that maps pixel values of one data type onto
the value range a checkpoint was trained on (``--input-scale``).
"""

import math
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from rasterio.enums import ColorInterp, MaskFlags, Resampling
from rasterio.errors import RasterioIOError
from rasterio.warp import reproject, transform_bounds
from rasterio.windows import Window

from .errors import TGDCError

#: Value range that ``--input-scale auto`` assumes for float imagery (reflectance).
FLOAT_RANGE = (0.0, 1.0)

#: Source pixels read around a warped window, so resampling kernels see their neighbours.
WARP_MARGIN = 2

#: Largest offset from the grid's pixel lattice, in pixels, still read without warping.
LATTICE_TOLERANCE = 1e-6


#: Largest relative difference between a file's pixel size and a checkpoint's ground
#: sample distance that is predicted without resampling.
GSD_TOLERANCE = 0.10

#: Largest ratio of a file's pixel size to a checkpoint's ground sample distance that is
#: resampled for it: coarser pixels lack the detail the model finds data centers by. Two
#: demo-size checkpoints found every data center of the accuracy benchmark's test scenes
#: at their own 0.6 m, 73-100% at 2x (1.2 m), 0-55% at 3x and 0-9% at 4x (benchmarks/README.md,
#: "Coarser imagery"); 1 m NAIP (before 2016) is 1.7x.
MAX_COARSER = 3.0


@dataclass(frozen=True)
class ImageryRules:
    """What a checkpoint expects of imagery, and how other imagery is made to fit it."""

    #: Data type of the training imagery (NumPy name).
    dtype: str = "uint8"
    #: [min, max] raw values of the training imagery.
    value_range: tuple[float, float] = (0.0, 255.0)
    #: Ground sample distance of the training imagery, in metres (None: any is taken).
    gsd: float | None = None
    #: How pixels of another data type are rescaled (see :func:`input_scaling`).
    input_scale: str | float | None = None
    #: Whether imagery whose pixel size differs from *gsd* by more than
    #: :data:`GSD_TOLERANCE` is resampled on the fly (else it is refused).
    resample: bool = True


def native_range(dtype: str) -> tuple[float, float]:
    """The value range ``--input-scale auto`` assumes for a data type.

    Args:
        dtype: a NumPy data type name.

    Returns:
        The type's full range for integers, :data:`FLOAT_RANGE` for floats.
    """
    kind = np.dtype(dtype)
    if np.issubdtype(kind, np.integer):
        info = np.iinfo(kind)
        return float(info.min), float(info.max)
    return FLOAT_RANGE


def input_scaling(
    name: str,
    dtype: str,
    rule: str | float | None,
    model_dtype: str,
    value_range: Sequence[float],
) -> tuple[float, float]:
    """The linear map from a file's pixel values onto those a checkpoint was trained on.

    Args:
        name: the file, for messages.
        dtype: data type of the file's pixels.
        rule: None (refuse a data type other than the checkpoint's), ``"auto"`` (map the
            type's range, see :func:`native_range`, onto *value_range*) or a factor
            (value x factor).
        model_dtype: data type of the checkpoint's training imagery.
        value_range: [min, max] raw values of the checkpoint's training imagery.

    Returns:
        (scale, offset): the model sees value x scale + offset.

    Raises:
        TGDCError: if *rule* is None and the data types differ.
    """
    low, high = (float(v) for v in value_range)
    if rule is None:
        if np.dtype(dtype) == np.dtype(model_dtype):
            return 1.0, 0.0
        src_low, src_high = native_range(dtype)
        raise TGDCError(
            f"{name}: pixels are {dtype} but the checkpoint was trained on {model_dtype}"
            f" values {low:g} to {high:g}; rescale with --input-scale auto (maps {dtype}"
            f" {src_low:g} to {src_high:g} onto {low:g} to {high:g}) or --input-scale FACTOR"
            " (value x FACTOR)"
        )
    if rule == "auto":
        src_low, src_high = native_range(dtype)
        scale = (high - low) / (src_high - src_low)
        return scale, low - src_low * scale
    return float(rule), 0.0


def check_georeferenced(src: Any, name: str | os.PathLike[str]) -> CRS:
    """The CRS of an open raster, or one line saying how to georeference it.

    A raster georeferenced by ground control points (a scanned map or an image aligned in a
    GIS: GCPs with a CRS, no geotransform) is refused with the ``gdalwarp`` line that warps
    it onto a geotransform in the GCPs' CRS (:func:`warp_command`); run on the raster, it
    gives a file every command reads. A raster with no CRS is refused with the
    ``gdal_edit.py`` line that assigns one: the ``.prj`` beside it where a world file's CRS
    lies, else an example.

    Args:
        src: the raster, open in rasterio.
        name: its path, for the message.

    Returns:
        Its CRS.

    Raises:
        TGDCError: if it has no CRS, or is georeferenced by GCPs only.
    """
    gcps, gcp_crs = src.gcps
    if src.crs is None and gcps:
        assign = "" if gcp_crs else " after giving its GCPs a CRS (gdal_edit.py -a_srs EPSG:...)"
        raise TGDCError(
            f"{name}: georeferenced by {len(gcps)} ground control points, not a geotransform;"
            f" warp it onto one first{assign}: {warp_command(name)}"
        )
    if src.crs is None:
        # A world file's CRS lies in a .prj beside it, which GDAL reads for no GeoTIFF.
        prj = Path(str(name)).with_suffix(".prj")
        given = prj if prj.is_file() else "EPSG:26916"
        raise TGDCError(
            f"{name}: raster has no CRS; assign one"
            f" ({'' if prj.is_file() else 'e.g. '}gdal_edit.py -a_srs {given} {name})"
        )
    return CRS.from_user_input(src.crs)


def warp_command(name: str | os.PathLike[str]) -> str:
    """The ``gdalwarp`` line that puts a raster on a north-up geotransform in its own CRS.

    Without ``-t_srs``, gdalwarp keeps the raster's CRS (or its GCPs'); ``-nosrcalpha``
    keeps the near-infrared band, which NAIP files tag as alpha, as data (else gdalwarp
    blanks every pixel where it is 0), and ``-dstalpha`` marks the corners a rotated image
    leaves outside it as nodata (else they are black pixels, read as ground).

    Args:
        name: the raster's path.

    Returns:
        The command, writing ``STEM_warped.tif`` beside where it runs.
    """
    return f"gdalwarp -r bilinear -nosrcalpha -dstalpha {name} {Path(str(name)).stem}_warped.tif"


class ImageryFile:
    """One raster file, read as data bands with invalid pixels set to NaN."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        band_count: int | None = None,
        *,
        scale: float = 1.0,
        offset: float = 0.0,
    ) -> None:
        """Open a raster file and work out how its validity is stored.

        Args:
            path: the file, or a URL GDAL reads (``https://``, ``/vsicurl/``...).
            band_count: number of data bands to read (the model's bands; None: all).
            scale: factor applied to every value read (see :func:`input_scaling`).
            offset: added to every value read, after *scale*.

        Raises:
            TGDCError: if the file is missing or not a raster, has no CRS, is georeferenced
                by ground control points (see :func:`check_georeferenced`), has no or a
                rotated geotransform, or a band count other than *band_count* (or *band_count*
                plus an alpha band).
        """
        self.remote = "://" in str(path) or str(path).startswith("/vsi")
        self.path: Path | str = str(path) if self.remote else Path(path)
        if not self.remote and Path(path).is_dir():
            raise TGDCError(
                f"{self.path}: is a directory; give a GeoTIFF in it, or predict every raster"
                " in it with tgdc batch-detect --chips-dir"
            )
        if not self.remote and not Path(path).is_file():
            raise TGDCError(f"{self.path}: image file does not exist")
        try:
            with rasterio.open(self.path) as src:
                self.crs: CRS = check_georeferenced(src, self.path)
                self.transform: Affine = src.transform
                self.width, self.height, self.count = src.width, src.height, src.count
                self.dtype = src.dtypes[0]
                self.nodata = src.nodata
                colorinterp = src.colorinterp
                flags = src.mask_flag_enums
        except RasterioIOError as error:
            raise TGDCError(f"{self.path}: not a readable raster ({error})") from error
        t = self.transform
        if t.is_identity or t.b != 0 or t.d != 0 or t.a <= 0:
            raise TGDCError(
                f"{self.path}: raster has no north- or south-up geotransform (rotated, flipped"
                f" east-west or missing); warp it first: {warp_command(self.path)}"
            )
        if band_count is None:
            band_count = self.count
        self.band_count = band_count
        #: A real alpha band: one beyond the data bands, tagged alpha.
        self.alpha = self.count if self.count == band_count + 1 else None
        if self.count != band_count and not (
            self.alpha is not None and colorinterp[-1] == ColorInterp.alpha
        ):
            raise TGDCError(
                f"{self.path}: has {self.count} band(s) but the checkpoint expects"
                f" {band_count}; give imagery with the bands the model was trained on"
            )
        #: Whether GDAL's mask band (internal or sidecar, not alpha or nodata) is read.
        self.mask_band = any(
            MaskFlags.per_dataset in band and MaskFlags.alpha not in band
            for band in flags[:band_count]
        )
        self.scale, self.offset = scale, offset
        self._src: Any = None
        self._pid = -1

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of the file, in its CRS."""
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (self.width, self.height)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    @property
    def res(self) -> tuple[float, float]:
        """(x, y) pixel size, in CRS units."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def marks_invalid(self) -> bool:
        """Whether the file may mark pixels invalid.

        It does with a nodata value, an alpha or mask band, or floating-point data (NaN).
        """
        floating = np.issubdtype(np.dtype(self.dtype), np.floating)
        return self.nodata is not None or self.alpha is not None or self.mask_band or floating

    @property
    def north_up(self) -> bool:
        """Whether rows run from north to south."""
        return self.transform.e < 0

    def _open(self) -> Any:
        """The file, opened once per process; closed with this object or at exit.

        A handle still open when the interpreter shuts down would close after the modules
        its ``close`` needs are gone, and Python print an empty ``Error in sys.excepthook``
        block for it: a handle held to the end (by a training run's datamodule, which
        Lightning's argument parser keeps in a context variable) is closed at exit instead,
        while the interpreter still works.
        """
        if self._pid != os.getpid():
            self._src = rasterio.open(self.path)
            self._pid = os.getpid()
            weakref.finalize(self, self._src.close)
        return self._src

    def lattice_offset(self, transform: Affine, crs: CRS) -> tuple[int, int] | None:
        """Where the file lies on a grid whose pixels are the file's own.

        Args:
            transform: the grid's (north-up) transform.
            crs: the grid's CRS.

        Returns:
            (row, column) of the file's first pixel on the grid, or None if the file must
            be warped onto the grid.
        """
        t = self.transform
        if not (self.north_up and crs == self.crs and (t.a, t.e) == (transform.a, transform.e)):
            return None
        col, row = ~transform @ (t.c, t.f)
        if max(abs(col - round(col)), abs(row - round(row))) > LATTICE_TOLERANCE:
            return None
        return round(row), round(col)

    def scales_onto(self, transform: Affine, crs: CRS) -> bool:
        """Whether a grid is the file's own axes at another pixel size, read without warping.

        GDAL then reads the file's pixels straight onto the grid's (a decimated read, as
        TorchGeo's datasets read a file at another resolution when training); a file that
        may mark pixels invalid (:attr:`marks_invalid`) is warped instead, which keeps its
        invalid pixels out of the resampling.

        Args:
            transform: the grid's (north-up) transform.
            crs: the grid's CRS.

        Returns:
            Whether the grid is north-up in the file's CRS, the file north-up, their pixel
            sizes differ and the file marks no pixel invalid.
        """
        t = self.transform
        return (
            self.north_up
            and transform.e < 0
            and transform.b == transform.d == 0
            and crs == self.crs
            and (t.a, t.e) != (transform.a, transform.e)
            and not self.marks_invalid
        )

    def read(
        self,
        transform: Affine,
        crs: CRS,
        window: Window,
        *,
        resampling: Resampling = Resampling.nearest,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Read the file's pixels under a window of a north-up grid.

        Args:
            transform: the grid's transform.
            crs: the grid's CRS.
            window: the window of the grid, in whole pixels (it may reach past the file).
            resampling: how a file off the grid's lattice is resampled.
            out: (height, width, bands) float32 array to read into (a new one if None).

        Returns:
            The (height, width, bands) float32 pixels, scaled; NaN in every band where the
            file is invalid or absent.

        Raises:
            TGDCError: if GDAL cannot read the pixels of a local file (truncated or
                corrupt).
            RasterioIOError: if GDAL cannot read the pixels of a URL.
        """
        height, width = int(window.height), int(window.width)
        if out is None:
            out = np.empty((height, width, self.band_count), np.float32)
        try:
            shift = self.lattice_offset(transform, crs)
            if shift is not None:
                self._read_aligned(window, shift, out)
            elif self.scales_onto(transform, crs):
                self._read_scaled(transform, crs, window, resampling, out)
            else:
                self._read_warped(transform, crs, window, resampling, out)
        except RasterioIOError as error:
            if self.remote:
                raise  # a network error, which the caller may retry
            raise TGDCError(
                f"{self.path}: cannot read the pixels, the file is truncated or corrupt"
                f" ({gdal_message(error)}); download or export it again"
            ) from error
        if self.scale != 1.0 or self.offset != 0.0:
            np.multiply(out, np.float32(self.scale), out=out)
            out += np.float32(self.offset)
        return out

    def _read_aligned(self, window: Window, shift: tuple[int, int], out: np.ndarray) -> None:
        """Windowed read of a file on the grid's lattice, NaN outside it."""
        row_off, col_off = int(window.row_off) - shift[0], int(window.col_off) - shift[1]
        height, width = out.shape[:2]
        r0, r1 = max(row_off, 0), min(row_off + height, self.height)
        c0, c1 = max(col_off, 0), min(col_off + width, self.width)
        if not (r0 < r1 and c0 < c1):
            out[:] = np.nan
            return
        if (r0, r1, c0, c1) != (row_off, row_off + height, col_off, col_off + width):
            out[:] = np.nan
        part = out[r0 - row_off : r1 - row_off, c0 - col_off : c1 - col_off]
        self._read_valid(Window(c0, r0, c1 - c0, r1 - r0), part)

    def _read_valid(self, window: Window, out: np.ndarray) -> None:
        """Read a window of the file into *out*, NaN where the file marks it invalid."""
        src = self._open()
        # GDAL converts to float32 and interleaves the bands as it copies the pixels.
        src.read(range(1, self.band_count + 1), window=window, out=out.transpose(2, 0, 1))
        invalid = None
        if self.nodata is not None:
            equal = np.isnan(out) if math.isnan(self.nodata) else out == np.float32(self.nodata)
            invalid = equal.all(axis=2)
        if np.issubdtype(np.dtype(self.dtype), np.floating):
            nan = np.isnan(out).any(axis=2)
            invalid = nan if invalid is None else invalid | nan
        if self.alpha is not None:
            transparent = src.read(self.alpha, window=window) == 0
            invalid = transparent if invalid is None else invalid | transparent
        if self.mask_band:
            masked = src.read_masks(1, window=window) == 0
            invalid = masked if invalid is None else invalid | masked
        if invalid is not None and invalid.any():
            out[invalid] = np.nan

    def _read_scaled(
        self,
        transform: Affine,
        crs: CRS,
        window: Window,
        resampling: Resampling,
        out: np.ndarray,
    ) -> None:
        """Read the file onto a window of a grid at another pixel size (:meth:`scales_onto`).

        The grid's pixels that lie wholly within the file are read by one decimated (or
        magnified) read of the file's window under them; the pixels across the file's
        edges, at most one row or column on each side, are warped; the rest are NaN.
        """
        out[:] = np.nan
        t = self.transform
        height, width = out.shape[:2]
        # File pixels per grid pixel, and the window's top-left corner in file pixels.
        sx, sy = transform.a / t.a, transform.e / t.e
        x0 = (transform.c - t.c) / t.a + int(window.col_off) * sx
        y0 = (transform.f - t.f) / t.e + int(window.row_off) * sy
        eps = LATTICE_TOLERANCE
        c0 = max(0, math.ceil(-x0 / sx - eps))
        c1 = min(width, math.floor((self.width - x0) / sx + eps))
        r0 = max(0, math.ceil(-y0 / sy - eps))
        r1 = min(height, math.floor((self.height - y0) / sy + eps))
        if not (c0 < c1 and r0 < r1):
            self._read_warped(transform, crs, window, resampling, out)
            return
        source = Window(x0 + c0 * sx, y0 + r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy)
        part = out[r0:r1, c0:c1].transpose(2, 0, 1)
        indexes = range(1, self.band_count + 1)
        self._open().read(indexes, window=source, out=part, resampling=resampling)
        col, row = int(window.col_off), int(window.row_off)
        left, right = max(c0 - 1, 0), min(c1 + 1, width)
        edges = [(r0 - 1, left, 1, right - left), (r1, left, 1, right - left)]
        edges += [(r0, c0 - 1, r1 - r0, 1), (r0, c1, r1 - r0, 1)]
        for top, first, rows, cols in edges:
            if 0 <= top < height and 0 <= first < width and rows > 0 and cols > 0:
                strip = Window(col + first, row + top, cols, rows)
                view = out[top : top + rows, first : first + cols]
                self._read_warped(transform, crs, strip, resampling, view)

    def _read_warped(
        self,
        transform: Affine,
        crs: CRS,
        window: Window,
        resampling: Resampling,
        out: np.ndarray,
    ) -> None:
        """Warp the file onto a window of the grid, NaN where nothing valid lands."""
        out[:] = np.nan
        dst_transform = transform @ Affine.translation(window.col_off, window.row_off)
        height, width = out.shape[:2]
        x0, y0 = dst_transform @ (0, 0)
        x1, y1 = dst_transform @ (width, height)
        try:
            bounds = transform_bounds(
                crs, self.crs, min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
            )
        except (rasterio.errors.CRSError, ValueError):
            return
        corners = [~self.transform @ (x, y) for x in bounds[::2] for y in bounds[1::2]]
        cols, rows = zip(*corners, strict=True)
        c0 = max(math.floor(min(cols)) - WARP_MARGIN, 0)
        c1 = min(math.ceil(max(cols)) + WARP_MARGIN, self.width)
        r0 = max(math.floor(min(rows)) - WARP_MARGIN, 0)
        r1 = min(math.ceil(max(rows)) + WARP_MARGIN, self.height)
        if not (c0 < c1 and r0 < r1 and all(map(math.isfinite, cols + rows))):
            return
        source = np.empty((r1 - r0, c1 - c0, self.band_count), np.float32)
        self._read_valid(Window(c0, r0, c1 - c0, r1 - r0), source)
        destination = np.full((self.band_count, height, width), np.nan, np.float32)
        reproject(
            np.ascontiguousarray(source.transpose(2, 0, 1)),
            destination,
            src_transform=self.transform @ Affine.translation(c0, r0),
            src_crs=self.crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=crs,
            dst_nodata=np.nan,
            resampling=resampling,
        )
        out[:] = destination.transpose(1, 2, 0)
        out[np.isnan(out).any(axis=2)] = np.nan

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the open file handle (workers open their own)."""
        state = self.__dict__.copy()
        state["_src"], state["_pid"] = None, -1
        return state


def gdal_message(error: BaseException) -> str:
    """GDAL's own words for a read error, not rasterio's pointer to them.

    Args:
        error: the exception rasterio raised.

    Returns:
        The messages of the error and the errors it was raised from, joined.
    """
    messages = []
    cause: BaseException | None = error
    while cause is not None:
        text = str(cause).strip()
        if text and "previous exception" not in text.lower() and text not in messages:
            messages.append(text)
        cause = cause.__cause__ or cause.__context__
    return "; ".join(messages) or type(error).__name__
