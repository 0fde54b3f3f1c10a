"""The output formats: one table of every file a prediction run can write.

:data:`FORMATS` maps each output kind to its format. A :class:`VectorFormat` writes the
detection table to a file (GeoJSON, CSV, GeoPackage, GeoParquet); a :class:`RasterFormat`
streams one band of rows at a time to a Cloud-Optimised GeoTIFF on the scene's grid as
prediction proceeds (the detection mask, the probabilities); a :class:`RunFormat` writes
what a person or a catalogue reads of a whole run once it is over, from its detections
and its :class:`RunRecord` (the STAC collection, the HTML report, the review page).
Everything else derives from this table:

* the keyword arguments ``output_<kind>`` of
  :meth:`~torchgeo_datacenters.inference.Predictor.predict` (vector and raster formats)
  and :meth:`~torchgeo_datacenters.inference.Predictor.predict_batch` (vector formats);
* the flags ``--output-<kind>`` of ``tgdc detect`` (every format), ``tgdc batch-detect``
  (vector and run formats) and ``tgdc scan`` (run formats), with their help;
* the files of every ``tgdc scan``, ``detections<extension>`` in its output directory for
  each vector format with ``scan=True`` (:func:`scan_files`), and the scan's help;
* the checks before any work (two outputs on one path, a missing directory, a file that
  exists without ``--overwrite``), the atomic staging (:class:`~.staging.Outputs`) and the
  list of files every command prints at the end.

Adding a format
---------------
Write its writer, then register it once, here beside the built-in formats; nothing else
changes::

    # torchgeo_datacenters/outputs/kml.py
    def write_kml(detections: gpd.GeoDataFrame, path: Path) -> None: ...

    # at the end of this module
    register(VectorFormat(name="kml", help="KML of the detections", extension=".kml",
                          writer="torchgeo_datacenters.outputs.kml:write_kml", scan=True))

Now ``Predictor.predict(..., output_kml="d.kml")``, ``predict_batch(..., output_kml=...)``,
``tgdc detect --output-kml FILE`` and ``tgdc batch-detect --output-kml FILE`` write it, and
every ``tgdc scan`` writes ``detections.kml``. The name becomes the keyword and the flag,
so it must be a lower-case identifier.

* The writer is named as ``"module:function"``, imported only when a run writes the file,
  so that the command line starts without loading the libraries writers need (a function
  itself works too, e.g. in a test). :func:`register` checks the name at once: the module
  must exist and define the function (:func:`check_name`), so a misspelt writer fails
  when the table is built, never after a prediction.
* A vector writer gets the final detection table (EPSG:4326, ordered and numbered: see
  :mod:`torchgeo_datacenters.detections.schema`) and a temporary path beside the final one
  to write directly; the file is renamed into place when the whole run succeeds.
* A raster writer opens a :class:`~.rasters.RasterWriter` (pixel type, nodata value,
  overview resampling: see :data:`~.rasters.mask_writer`) from ``(path, grid)``; the
  format's ``values(mask, probabilities)`` gives the (rows, width) band it writes, from the
  uint8 mask (:func:`~torchgeo_datacenters.detections.threshold_band`) and the float32
  probabilities (NaN nodata) of the same rows.
* A run writer takes ``(path, detections, run)`` and returns the path written; its
  ``checker`` (also by name) takes ``(path, overwrite=...)`` and refuses, before any work,
  a path it could not write, and its ``size`` (also by name) takes ``(detections, images)``
  and returns the most bytes the output takes, counted with the run's other outputs in
  the free-space check before prediction (:mod:`~.space`). The commands check and write
  every run format given (:mod:`torchgeo_datacenters.commands.extra_outputs`).

Register formats in this module, or in a module it imports, so that every process (the
command line, Ray workers) sees the same table. Tests may register temporary formats.
"""

import importlib.util
import os
import pkgutil
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..utils.atomic import writing

if TYPE_CHECKING:
    import geopandas as gpd
    import numpy as np

    from ..checkpoint import CheckpointFacts
    from ..grid import Grid
    from .provenance import Provenance
    from .rasters import RasterWriter

#: Stem of the files every scan writes in its output directory.
SCAN_STEM = "detections"


@dataclass(frozen=True, kw_only=True)
class OutputFormat:
    """A kind of file a run can write.

    Attributes:
        name: the output kind, a lower-case identifier: keyword ``output_<name>`` and flag
            ``--output-<name>``.
        help: what the file holds, for the command line's help.
        writer: the function that writes it, or its ``"module:function"`` name.
        required: whether the commands that offer it always ask for it.
    """

    name: str
    help: str
    writer: Callable[..., Any] | str
    required: bool = False

    @property
    def keyword(self) -> str:
        """Keyword argument of the predictor naming this output's path."""
        return f"output_{self.name}"

    @property
    def flag(self) -> str:
        """Command-line flag naming this output's path."""
        return "--" + self.keyword.replace("_", "-")

    def load_writer(self) -> Callable[..., Any]:
        """Return the writer, imported if it is given by name.

        Returns:
            The writer function.
        """
        if isinstance(self.writer, str):
            return pkgutil.resolve_name(self.writer)
        return self.writer


@dataclass(frozen=True, kw_only=True)
class VectorFormat(OutputFormat):
    """A file of the detection table; its writer takes (detections, path).

    Attributes:
        extension: file name extension, with its dot (a scan writes
            ``detections<extension>``).
        file_bytes: bytes of the file holding no detection.
        detection_bytes: bytes each detection adds at most (a 64-vertex outline, every
            column filled; default: GeoJSON's, the largest of the built-in formats). The
            free-space check before a run (:mod:`~.space`) counts both;
            ``tests/outputs/test_space.py`` measures them with the format's writer.
        scan: whether every scan writes it in its output directory.
    """

    extension: str
    file_bytes: int = 0
    detection_bytes: int = 2_000
    scan: bool = False

    def write(self, detections: "gpd.GeoDataFrame", path: Path) -> None:
        """Write a detection table.

        Args:
            detections: detections in EPSG:4326.
            path: the file to write.
        """
        self.load_writer()(detections, path)


@dataclass(frozen=True, kw_only=True)
class RasterFormat(OutputFormat):
    """A single-band COG on the scene's grid, written band by band during prediction.

    Its writer takes (path, grid) and returns a :class:`~.rasters.RasterWriter`.

    Attributes:
        values: the (rows, width) band to write, from the uint8 mask and the float32
            probabilities of the same rows.
        dtype: its pixel type (the free-space check before a run counts its bytes).
    """

    values: Callable[["np.ndarray", "np.ndarray"], "np.ndarray"]
    dtype: str

    def open(
        self,
        path: str | os.PathLike[str],
        grid: "Grid",
        output_grid: "Grid | None" = None,
    ) -> "RasterWriter":
        """Open a writer of this raster (use it as a context manager).

        Args:
            path: the COG to write.
            grid: the scene's grid: size, transform and CRS.
            output_grid: the COG's grid, if not *grid* (the rows are warped onto it).

        Returns:
            The writer.
        """
        return self.load_writer()(path, grid, output_grid=output_grid)


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    """What the outputs of a whole run take besides its detections.

    Attributes:
        checkpoint: reads what the run's checkpoint records (the STAC item's model link;
            see :func:`~torchgeo_datacenters.inference.model.read_checkpoint_facts`),
            called only by the outputs that need it.
        provenances: the imagery read, one per raster.
        item_id: id of the run's STAC item (e.g. the scene's name).
        images: rasters shown under the detections and cut into the review's chips.
        mask: the mask COG the run wrote, if any (a STAC raster asset).
        threshold: the run's probability threshold (shown on the review page).
        overwrite: whether existing outputs may be replaced.
        labels: labels given before (``--review-labels``, EPSG:4326; see
            :func:`~torchgeo_datacenters.detections.verdicts.read_base_labels`): the
            review page puts the detections on their sites last. None: none given.
    """

    checkpoint: Callable[[], "CheckpointFacts"]
    provenances: Sequence["Provenance"]
    item_id: str
    images: Sequence[Path] = ()
    mask: Path | None = None
    threshold: float
    overwrite: bool = False
    labels: "gpd.GeoDataFrame | None" = None


@dataclass(frozen=True, kw_only=True)
class RunFormat(OutputFormat):
    """A file or directory about a whole run, written once the run is over.

    Its writer takes (path, detections, run: :class:`RunRecord`) and returns the path
    written.

    Attributes:
        metavar: the value's name in the help: ``FILE`` or ``DIR``.
        checker: checks, before any work, that the path can be written: takes
            ``(path, overwrite=...)``; the function or its ``"module:function"`` name.
        size: the most bytes it takes, from the most detections of the run and the
            rasters it reads: takes ``(detections, images)``, returns bytes; the function
            or its ``"module:function"`` name. The free-space check before prediction
            counts it with the run's other outputs (:func:`~.space.output_sizes`); None:
            not counted.
    """

    metavar: str = "FILE"
    checker: Callable[..., Any] | str
    size: Callable[[int, int], int] | str | None = None

    def most_bytes(self, detections: int, images: int) -> int:
        """The most bytes the output takes (0 for a format that declares no size).

        Args:
            detections: the most detections of the run.
            images: the rasters the run reads.

        Returns:
            Bytes.
        """
        size = self.size
        if size is None:
            return 0
        function = pkgutil.resolve_name(size) if isinstance(size, str) else size
        return int(function(detections, images))

    def check(self, path: Path, *, overwrite: bool) -> None:
        """Check, before any work, that the output can be written.

        Args:
            path: the output's path.
            overwrite: whether an existing output may be replaced.

        Raises:
            TGDCError: if it cannot (see the format's checker).
        """
        checker = self.checker
        (pkgutil.resolve_name(checker) if isinstance(checker, str) else checker)(
            path, overwrite=overwrite
        )

    def write(self, path: Path, detections: "gpd.GeoDataFrame", run: RunRecord) -> Path:
        """Write the output of a run.

        Args:
            path: where (a file or a directory, by the format).
            detections: the run's detections (EPSG:4326).
            run: the rest of the run.

        Returns:
            The path written (a directory's main file, e.g. STAC's collection JSON).
        """
        return self.load_writer()(path, detections, run)


#: Every output format, by kind, in the order of the command line and of the files listed.
FORMATS: dict[str, OutputFormat] = {}


def register(output: OutputFormat) -> OutputFormat:
    """Add a format to :data:`FORMATS`.

    Args:
        output: the format.

    Returns:
        The same format.

    Raises:
        ValueError: if its name is not a lower-case identifier or is taken.
    """
    if not (output.name.isidentifier() and output.name.islower()):
        raise ValueError(f"output format {output.name!r}: give a lower-case identifier")
    if output.name in FORMATS:
        raise ValueError(f"output format {output.name!r} is registered already")
    functions = (output.writer, getattr(output, "checker", None), getattr(output, "size", None))
    for function in functions:
        if isinstance(function, str):
            check_name(function, output.name)
    FORMATS[output.name] = output
    return output


def check_name(name: str, kind: str) -> None:
    """Check a ``"module:function"`` name without importing the module.

    Args:
        name: the name.
        kind: the output kind naming it, for the error.

    Raises:
        ValueError: if it is not ``module:function``, the module does not exist, or its
            source defines no such function.
    """
    module, _, function = name.partition(":")
    spec = importlib.util.find_spec(module) if module and function.isidentifier() else None
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    defined = origin is not None and re.search(
        rf"^(?:def {function}\(|{function} *=)", origin.read_text(encoding="utf-8"), re.M
    )
    if not defined:
        raise ValueError(
            f"output format {kind!r}: {name!r} names no function; give 'module:function'"
        )


def vector_formats() -> list[VectorFormat]:
    """Return the registered vector formats, in order."""
    return [output for output in FORMATS.values() if isinstance(output, VectorFormat)]


def raster_formats() -> list[RasterFormat]:
    """Return the registered raster formats, in order."""
    return [output for output in FORMATS.values() if isinstance(output, RasterFormat)]


def paths_from_keywords(
    keywords: Mapping[str, str | os.PathLike[str] | None],
    formats: Sequence[OutputFormat],
    caller: str,
) -> dict[str, str | os.PathLike[str] | None]:
    """Turn ``output_<kind>`` keyword arguments into paths by output kind.

    Args:
        keywords: keyword argument to path (None: not written).
        formats: the formats the caller writes.
        caller: the caller's name, for the error.

    Returns:
        Output kind to path, in the order of *formats*.

    Raises:
        TypeError: for a keyword that names none of *formats*, as for any unexpected
            keyword argument.
    """
    known = {output.keyword for output in formats}
    unknown = sorted(set(keywords) - known)
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    return {output.name: keywords.get(output.keyword) for output in formats}


def write_vectors(detections: "gpd.GeoDataFrame", paths: Mapping[str, Path]) -> None:
    """Write detections to every vector output requested.

    Args:
        detections: detections in EPSG:4326.
        paths: output kind to (staged) path; other kinds are ignored.

    Raises:
        TGDCError: if a file cannot be written (no space left, say), naming it.
    """
    for output in vector_formats():
        if output.name in paths:
            with writing(paths[output.name]):
                output.write(detections, paths[output.name])


def run_formats() -> list[RunFormat]:
    """Return the registered run formats, in order."""
    return [output for output in FORMATS.values() if isinstance(output, RunFormat)]


def scan_files() -> dict[str, str]:
    """Name the files every scan writes in its output directory.

    Returns:
        Output kind to file name, ``detections<extension>``.
    """
    return {output.name: SCAN_STEM + output.extension for output in vector_formats() if output.scan}


#: Module of the built-in vector writers.
_WRITERS = "torchgeo_datacenters.detections.writers"

register(
    VectorFormat(
        name="geojson",
        help="RFC 7946 GeoJSON of the detections (EPSG:4326 lon/lat polygons)",
        writer=f"{_WRITERS}:write_geojson",
        extension=".geojson",
        file_bytes=100,
        detection_bytes=2_000,
        scan=True,
        required=True,
    )
)
register(
    VectorFormat(
        name="csv",
        help="CSV, one row per detection: id, centroid_lon, centroid_lat, area_m2, score, source"
        " (then source_item, acquired and class_name where the run knows them, and outline"
        " and site_id with --regularize or --split-width)",
        writer=f"{_WRITERS}:write_csv",
        extension=".csv",
        file_bytes=100,
        detection_bytes=120,
        scan=True,
    )
)
register(
    VectorFormat(
        name="gpkg",
        help="GeoPackage of detections",
        writer="torchgeo_datacenters.outputs.styles:write_styled_gpkg",
        extension=".gpkg",
        file_bytes=110_000,
        detection_bytes=1_300,
    )
)
register(
    VectorFormat(
        name="parquet",
        help="GeoParquet of the detections",
        writer=f"{_WRITERS}:write_parquet",
        extension=".parquet",
        file_bytes=17_000,
        detection_bytes=950,
        scan=True,
    )
)
register(
    RasterFormat(
        name="mask",
        help="Cloud-Optimised GeoTIFF of the detection mask on the scene's grid (uint8: 1 data"
        " center, 0 background, 255 nodata)",
        writer="torchgeo_datacenters.outputs.rasters:mask_writer",
        values=lambda mask, probabilities: mask,
        dtype="uint8",
    )
)
register(
    RasterFormat(
        name="probabilities",
        help="Cloud-Optimised GeoTIFF of the probabilities (float32 0 to 1, NaN nodata)",
        writer="torchgeo_datacenters.outputs.rasters:probability_writer",
        values=lambda mask, probabilities: probabilities,
        dtype="float32",
    )
)
register(
    RunFormat(
        name="stac",
        help="STAC collection of the run (created): the detections as a label item with"
        " GeoParquet and GeoJSON assets (and the mask COG), linked to the imagery and to the"
        " model (MLM extension)",
        writer="torchgeo_datacenters.outputs.stac:write_run_stac",
        checker="torchgeo_datacenters.outputs.stac:check_stac_directory",
        size="torchgeo_datacenters.outputs.space:stac_bytes",
        metavar="DIR",
    )
)
register(
    RunFormat(
        name="report",
        help="self-contained HTML map report: imagery, detections coloured by score (by"
        " status for change and compare), a sortable table; opens offline in any browser",
        writer="torchgeo_datacenters.outputs.report:write_run_report",
        checker="torchgeo_datacenters.outputs.report:check_page_path",
        size="torchgeo_datacenters.outputs.space:report_bytes",
    )
)
register(
    RunFormat(
        name="review",
        help="self-contained HTML review page: every detection with an image chip,"
        " the least confident and the least alike in turn, judged with one key each (accept,"
        " reject as warehouse/retail/other),"
        " missed sites drawn on the map; exports the verdicts as a label file for"
        " `tgdc labels merge` (as `tgdc review` writes)",
        writer="torchgeo_datacenters.outputs.review:write_run_review",
        checker="torchgeo_datacenters.outputs.report:check_page_path",
        size="torchgeo_datacenters.outputs.space:review_bytes",
    )
)
