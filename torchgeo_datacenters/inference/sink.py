"""Where stitched bands of probabilities go: thresholded, traced and written.

:class:`BandSink` takes the bands a :class:`~.stitch.Stitcher` finishes, top to bottom:
it counts their valid pixels, traces their masks into polygons in a thread beside the
model (which runs with the GIL released) and streams the mask and probabilities to the
raster outputs requested.
"""

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from types import TracebackType
from typing import Self

import numpy as np

from ..detections.vectorize import Vectorizer, threshold_band
from ..outputs.formats import RasterFormat
from ..outputs.rasters import RasterWriter

#: Bands of rows that may wait to be traced into polygons while the model runs on.
TRACE_BACKLOG = 1


class BandSink:
    """Threshold, trace and write the bands of one scene; a context manager."""

    def __init__(
        self,
        vectorizer: Vectorizer,
        threshold: float,
        writers: Sequence[tuple[RasterWriter, RasterFormat]],
    ) -> None:
        """Initialize a new BandSink.

        Args:
            vectorizer: traces the masks into polygons.
            threshold: probability at or above which a pixel is a data center.
            writers: (open raster writer, its output format) for each raster output.
        """
        self.vectorizer = vectorizer
        self.threshold = threshold
        self.writers = writers
        #: Pixels of the bands taken that are not nodata.
        self.valid_pixels = 0
        self._tracer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tgdc-trace")
        self._traced: deque[Future[None]] = deque()
        self._stack = ExitStack()

    def __enter__(self) -> Self:
        """Open the raster writers and the tracing thread."""
        self._stack.enter_context(self._tracer)
        for writer, _ in self.writers:
            self._stack.enter_context(writer)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Close the writers and the tracing thread, waiting for it."""
        self._stack.__exit__(kind, error, traceback)

    def __call__(self, row_off: int, probabilities: np.ndarray) -> None:
        """Take one band of stitched probabilities.

        At most :data:`TRACE_BACKLOG` bands wait to be traced, so memory stays bounded.

        Args:
            row_off: the band's first row in the scene.
            probabilities: (rows, width) float32 probabilities, NaN where nodata.
        """
        mask = threshold_band(probabilities, self.threshold)
        self.valid_pixels += int(np.count_nonzero(~np.isnan(probabilities)))
        self._traced.append(self._tracer.submit(self.vectorizer.add, row_off, mask, probabilities))
        while len(self._traced) > TRACE_BACKLOG:
            self._traced.popleft().result()
        for writer, output in self.writers:
            writer.write(row_off, output.values(mask, probabilities))

    def drain(self) -> None:
        """Wait until every band taken is traced (raising any error tracing it)."""
        while self._traced:
            self._traced.popleft().result()
