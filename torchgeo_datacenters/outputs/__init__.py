"""The files a run writes: the output-format registry, atomic staging and COG rasters.

* :mod:`.formats`: :data:`FORMATS`, the one table of output formats from which the
  predictor's ``output_<kind>`` keywords, the commands' ``--output-<kind>`` flags and the
  scan's files derive; its docstring says how to add a format.
* :mod:`.staging`: :class:`Outputs`, the files of one run, checked before any work and
  renamed into place together.
* :mod:`.stac`, :mod:`.report`, :mod:`.styles`, :mod:`.provenance`: outputs for people and
  catalogues: a STAC collection, the HTML map report, QGIS and COG styles, and where
  detections come from (imported on their own).
* :mod:`.rasters`: :class:`~.rasters.RasterWriter`, a raster written band by band, ending
  as a COG (imported on its own: it needs rasterio).

Nothing here imports torch or torchgeo, and the package itself imports no third-party
library, so the command line can build its flags from :data:`FORMATS` and start fast.
"""

from .formats import (
    FORMATS,
    OutputFormat,
    RasterFormat,
    VectorFormat,
    paths_from_keywords,
    raster_formats,
    register,
    scan_files,
    vector_formats,
    write_vectors,
)
from .staging import Outputs

__all__ = [
    "FORMATS",
    "OutputFormat",
    "Outputs",
    "RasterFormat",
    "VectorFormat",
    "paths_from_keywords",
    "raster_formats",
    "register",
    "scan_files",
    "vector_formats",
    "write_vectors",
]
