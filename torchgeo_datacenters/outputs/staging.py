"""The files of one run as a set: checked before any work, renamed into place together.

Every path of a run is checked before any work starts (two outputs on one path, a missing
directory, a file that exists without ``overwrite``), everything is written to temporary
files beside the final ones, and the files are renamed into place only when the whole run
succeeds, so a failure leaves no partial output behind.
"""

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..errors import TGDCError
from ..utils import atomic_output, check_output_path


class Outputs:
    """The files one run writes, by output kind (see :mod:`.formats`)."""

    def __init__(self, paths: Mapping[str, str | os.PathLike[str] | None]) -> None:
        """Initialize a new set of outputs.

        Args:
            paths: output kind (``geojson``, ``mask``, ...) to path; None: not written.
        """
        self.paths = {kind: Path(path) for kind, path in paths.items() if path is not None}

    def requested(self) -> dict[str, Path]:
        """Return the outputs to write.

        Returns:
            Output kind to path, for the given paths only.
        """
        return dict(self.paths)

    def check(self, *, overwrite: bool = False) -> None:
        """Check, before any work, that every output can be written.

        Args:
            overwrite: whether existing files may be replaced.

        Raises:
            TGDCError: if two outputs share a path, a directory is missing, or a file
                exists and *overwrite* is false.
        """
        paths = self.requested()
        resolved = [path.resolve() for path in paths.values()]
        if len(set(resolved)) != len(resolved):
            raise TGDCError(f"outputs {sorted(map(str, paths.values()))}: two share one path")
        for path in paths.values():
            check_output_path(path, overwrite=overwrite)

    @contextlib.contextmanager
    def staged(self, *, overwrite: bool = False) -> Iterator[dict[str, Path]]:
        """Stage every output in a temporary file, renamed into place on success.

        Args:
            overwrite: whether existing files may be replaced.

        Yields:
            Output kind to temporary path.

        Raises:
            TGDCError: see :meth:`check`.
        """
        self.check(overwrite=overwrite)
        with contextlib.ExitStack() as stack:
            yield {
                kind: stack.enter_context(atomic_output(path, overwrite=overwrite))
                for kind, path in self.requested().items()
            }
