"""Timeouts and retries for the two HTTP clients of a download: requests and GDAL.

A download talks HTTP twice: pystac-client searches the STAC API through ``requests``
(retried by urllib3's :class:`~urllib3.util.Retry`), and rasterio reads the images through
GDAL's ``/vsicurl/`` (retried by GDAL itself, configured through ``GDAL_HTTP_*`` options).
:class:`NetworkSettings` sets both from one place, and :func:`describe_request_error`
turns what either client raises into one line a user can act on.
"""

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import rasterio.cache
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioIOError
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import RetryError, Timeout
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import Retry

from ..errors import TGDCError

#: HTTP statuses worth retrying: rate limited, and the server-side 5xx family.
RETRY_STATUSES = (429, 500, 502, 503, 504)

#: What a failed read of a remote COG means, by GDAL error number (``CPLE_*``, see
#: ``cpl_error.h``): the kind of transient failure, or ``None`` where trying again cannot
#: help. GDAL reports a connection dropped mid-file as libtiff's short read ("Read error
#: ... got N bytes, expected M") and curl's transport errors (reset, empty reply, timeout)
#: as ``CPLE_AppDefined`` or ``CPLE_FileIO``; a tile that fails to decode has the same
#: numbers, so a corrupt remote file costs the retries before it is reported.
#: ``CPLE_HttpResponse`` is decided by the status (:data:`RETRY_STATUSES`).
GDAL_TRANSIENT_ERRORS: dict[int, str | None] = {
    1: "dropped or truncated read",  # CPLE_AppDefined
    3: "file I/O error",  # CPLE_FileIO
    4: None,  # CPLE_OpenFailed: not a readable file
    5: None,  # CPLE_IllegalArg
    6: None,  # CPLE_NotSupported
    8: None,  # CPLE_NoWriteAccess
    9: None,  # CPLE_UserInterrupt
}

#: GDAL's error number for an HTTP error answer (``CPLE_HttpResponse``).
CPLE_HTTP_RESPONSE = 11

T = TypeVar("T")


def transient_read_error(error: BaseException) -> str | None:
    """Classify a failed read of a remote COG by the GDAL errors behind it.

    rasterio chains the errors GDAL raised during a read, newest first;
    the first one with a known number decides (:data:`GDAL_TRANSIENT_ERRORS`).

    Args:
        error: what the read raised.

    Returns:
        The kind of transient failure (e.g. ``"HTTP 503"``, ``"dropped or truncated
        read"``), or ``None`` if trying again cannot help (HTTP 404, not a GeoTIFF, ...).
    """
    kind = None
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, CPLE_BaseError):
            if cause.errno == CPLE_HTTP_RESPONSE:
                status = re.search(r"\b(\d{3})\b", cause.errmsg)
                if status is None or int(status.group(1)) not in RETRY_STATUSES:
                    return None
                return f"HTTP {status.group(1)}"
            if cause.errno in GDAL_TRANSIENT_ERRORS:
                if GDAL_TRANSIENT_ERRORS[cause.errno] is None:
                    return None
                kind = kind or GDAL_TRANSIENT_ERRORS[cause.errno]
        cause = cause.__cause__ or cause.__context__
    return kind


@dataclass(frozen=True)
class NetworkSettings:
    """How long to wait for a server and how often to try again.

    Attributes:
        retries: retries after a failed request (so ``retries + 1`` attempts) on a
            connection error, a timeout, a dropped connection or HTTP 429/5xx.
        backoff: base of the exponential backoff, in seconds. The STAC client (urllib3)
            retries once at once, then waits 2, 4, 8, ... times *backoff*; a failed
            image read waits 1, 2, 4, ... times *backoff*.
        timeout: seconds to wait for a connection or a response before a request
            counts as failed.
    """

    retries: int = 5
    backoff: float = 0.5
    timeout: float = 30.0

    def __post_init__(self) -> None:
        """Check the settings.

        Raises:
            TGDCError: if *retries* or *backoff* is negative or *timeout* is not positive.
        """
        if self.retries < 0:
            raise TGDCError(f"retries: must be 0 or more, got {self.retries}")
        if self.backoff < 0:
            raise TGDCError(f"backoff: must be 0 or more seconds, got {self.backoff}")
        if self.timeout <= 0:
            raise TGDCError(f"timeout: must be a positive number of seconds, got {self.timeout}")

    def retry(self) -> Retry:
        """Build the urllib3 retry policy for the STAC API.

        Searches are POSTed, and repeating a search is harmless, so POST is retried too.

        Returns:
            The policy.
        """
        return Retry(
            total=self.retries,
            connect=self.retries,
            read=self.retries,
            status=self.retries,
            backoff_factor=self.backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "HEAD", "POST"}),
            respect_retry_after_header=True,
        )

    def stac_io(self) -> StacApiIO:
        """Build pystac-client's I/O with this retry policy and timeout.

        Returns:
            The I/O object to pass to :meth:`pystac_client.Client.open`.
        """
        return StacApiIO(timeout=self.timeout, max_retries=self.retry())

    def gdal_options(self) -> dict[str, str]:
        """GDAL configuration options for reading Cloud-Optimised GeoTIFFs over HTTP.

        Returns:
            Options for :class:`rasterio.Env`.
        """
        return {
            # Every retry of an image read is made by read_with_retries, so that
            # ``retries`` bounds the attempts whatever the kind of failure.
            "GDAL_HTTP_MAX_RETRY": "0",
            "GDAL_HTTP_TIMEOUT": str(math.ceil(self.timeout)),
            "GDAL_HTTP_CONNECTTIMEOUT": str(math.ceil(self.timeout)),
            # A COG is one file: never list its "directory" on the server.
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        }

    def read_with_retries(self, url: str, read: Callable[[], T]) -> T:
        """Call a GDAL read, trying again after a transient failure.

        The failure's kind is decided by :func:`transient_read_error` from GDAL's error
        numbers and HTTP status (a dropped, reset or truncated transfer, a timeout, HTTP
        429/5xx); those are retried with exponential backoff, after dropping GDAL's
        cached view of the file. Other failures are raised at once.

        Args:
            url: the file being read.
            read: opens and reads the file.

        Returns:
            Whatever *read* returns.

        Raises:
            RasterioIOError: the last error, once the retries are spent or for an error
                that is not transient.
        """
        attempt = 0
        while True:
            try:
                return read()
            except RasterioIOError as error:
                if attempt >= self.retries or transient_read_error(error) is None:
                    raise
            rasterio.cache.invalidate(url)
            time.sleep(self.backoff * 2**attempt)
            attempt += 1


def describe_request_error(error: APIError) -> str:
    """Describe a failed STAC API request in a few words.

    pystac-client raises every failure as :class:`~pystac_client.exceptions.APIError`,
    raised while handling the requests exception that says what went wrong.

    Args:
        error: the error.

    Returns:
        E.g. ``"is unreachable ([Errno 111] Connection refused)"``, ``"kept failing (too
        many 503 error responses)"``, ``"answered HTTP 404: ..."``.
    """
    status = getattr(error, "status_code", None)
    if status is not None:
        return f"answered HTTP {status}: {' '.join(str(error).split())[:200]}"
    cause = error.__context__
    reason = cause.args[0] if cause is not None and cause.args else cause
    if isinstance(reason, MaxRetryError) and reason.reason is not None:
        reason = reason.reason
    detail = str(reason).rsplit(": ", 1)[-1] if reason is not None else str(error)
    if isinstance(cause, RetryError):
        return f"kept failing ({detail})"
    if isinstance(reason, NewConnectionError):
        return f"is unreachable ({detail})"
    if isinstance(cause, Timeout) or isinstance(reason, Urllib3Timeout):
        return f"did not answer in time ({detail})"
    if isinstance(cause, RequestsConnectionError):
        return f"dropped the connection ({detail})"
    return f"answered with something other than STAC JSON ({' '.join(str(error).split())[:200]})"
