"""The files a run writes: the output-format registry, atomic staging and COG rasters.

* :mod:`.formats`: :data:`FORMATS`, the one table of output formats (the detection table's
  files, the rasters streamed during prediction, and the STAC collection, report and
  review page of a whole run) from which the predictor's ``output_<kind>`` keywords, the
  commands' ``--output-<kind>`` flags and the scan's files derive; its docstring says how
  to add a format.
* :mod:`.staging`: :class:`Outputs`, the files of one run, checked before any work and
  renamed into place together.
* :mod:`.stac`, :mod:`.report`, :mod:`.review`, :mod:`.styles`, :mod:`.provenance`: the
  writers of the run formats (a STAC collection, the HTML map report, the review page),
  QGIS and COG styles, and where detections come from (imported on their own).
* :mod:`.rasters`: :class:`~.rasters.RasterWriter`, a raster written band by band, ending
  as a COG (imported on its own: it needs rasterio).

Nothing here imports torch or torchgeo, and the package itself imports no third-party
library, so the command line can build its flags from :data:`FORMATS` and start fast.
"""

from .formats import (
    FORMATS,
    OutputFormat,
    RasterFormat,
    RunFormat,
    RunRecord,
    VectorFormat,
    paths_from_keywords,
    raster_formats,
    register,
    run_formats,
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
    "RunFormat",
    "RunRecord",
    "VectorFormat",
    "paths_from_keywords",
    "raster_formats",
    "register",
    "run_formats",
    "scan_files",
    "vector_formats",
    "write_vectors",
]
