"""A small real STAC API server on loopback, serving real GeoTIFFs with HTTP range requests.

:class:`StacServer` turns a directory of GeoTIFFs into STAC items (footprints in EPSG:4326
from each file's real bounds, datetimes from the file names, ``proj:epsg``) and serves them
from ``http://127.0.0.1:PORT`` in a background thread, so that tests exercise the real
pystac-client, requests and GDAL ``/vsicurl/`` over a real socket:

- ``GET /``, ``/conformance``, ``/collections``, ``/collections/{id}``;
- ``GET``/``POST /search`` and ``GET /collections/{id}/items`` with ``collections``,
  ``ids``, ``bbox``, ``intersects``, ``datetime`` (instants and ``a/b``, ``../b``,
  ``a/..`` intervals), ``limit`` and paging through ``next`` links (``token``);
- ``GET``/``HEAD /assets/{file}`` with single ``Range: bytes=`` requests (``206`` with
  ``Content-Range``; ``416`` when out of range).

Failure injection (:meth:`StacServer.fail`) answers matching requests with an HTTP
status (e.g. ``503``) or drops the connection, a fixed number of times or always. Every
request is recorded in :attr:`StacServer.requests`.

:func:`build_naip_test_tiles` writes the set of tiles the tests serve, as COGs:

- the real Milwaukee tile ``m_4208701_ne_16_060_20200902.tif`` split into a west half
  (acquired 2022-07-01) and an east half (2022-08-15), two items side by side;
- an older item (2018-06-10) generated from the same tile (inverted values) and padded by
  20 pixels all round, so that it lies under both halves and beyond them;
- the real San Diego tile ``m_3211605_ne_11_060_20200415.tif`` (UTM zone 11).

Every tile's transform is snapped to the 0.6 m lattice (a shift below 0.3 m; the real
tiles' 0.5994 x 0.6008 m pixels become 0.6 m), so a nearest-neighbour mosaic on a 0.6 m
grid must reproduce their pixels exactly.

Use the server as a context manager::

    with StacServer.from_directory(cog_dir) as server:
        client = pystac_client.Client.open(server.url)
"""

import datetime as dt
import json
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import numpy as np
import rasterio
import rasterio.cache
import shapely
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform, transform_geom

#: Spatial extent of the served collection, as NAIP's lists it: the overall box, then one
#: box per part (contiguous states, Hawaii, Puerto Rico, US Virgin Islands), in degrees.
NAIP_EXTENT = [
    [-160.3, 17.6, -64.5, 49.5],
    [-125.0, 24.0, -66.5, 49.5],
    [-160.3, 18.9, -154.8, 22.3],
    [-68.0, 17.8, -65.2, 18.6],
    [-65.1, 17.6, -64.5, 18.5],
]

STAC_VERSION = "1.0.0"

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]

PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v1.1.0/schema.json"

COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{8})(?!\d)")


@dataclass(frozen=True)
class ServedFile:
    """A GeoTIFF served as one STAC item.

    Attributes:
        path: the file.
        datetime: the item's acquisition time (UTC).
        item_id: the item id (defaults to the file stem).
        end: the end of its acquisition interval, if it has one (a mosaic flown over several
            days): the item then has a null ``datetime``, and ``start_datetime`` (the
            *datetime*) and ``end_datetime``, as STAC allows.
    """

    path: Path
    datetime: dt.datetime
    item_id: str = ""
    end: dt.datetime | None = None

    @property
    def id(self) -> str:
        """The item id."""
        return self.item_id or self.path.stem


@dataclass(frozen=True)
class RequestRecord:
    """One request the server answered.

    Attributes:
        method: HTTP method.
        path: URL path, without the query string.
        query: raw query string.
        status: HTTP status sent, or ``None`` where the connection was dropped.
        range: the ``Range`` header, if any.
        body_bytes: bytes of response body sent.
        at: when the response started (:func:`time.monotonic`, seconds), before any
            throttling delay.
    """

    method: str
    path: str
    query: str
    status: int | None
    range: str | None
    body_bytes: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class _FailureRule:
    status: int | None
    remaining: int | None
    path_prefix: str
    methods: frozenset[str] = field(default_factory=frozenset)
    truncate: bool = False
    skip: int = 0

    def matches(self, method: str, path: str) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and path.startswith(self.path_prefix)
            and (not self.methods or method in self.methods)
        )


def date_from_name(path: Path) -> dt.datetime:
    """Read an acquisition date ``YYYYMMDD`` from a file name, as in NAIP names.

    Args:
        path: a file such as ``m_4208701_ne_16_060_20200902.tif``.

    Returns:
        Midnight UTC of the last 8-digit date in the name.

    Raises:
        ValueError: if the name holds no such date.
    """
    found = _DATE_IN_NAME.findall(path.stem)
    if not found:
        raise ValueError(f"{path.name}: no YYYYMMDD date in the name; pass datetimes=")
    return dt.datetime.strptime(found[-1], "%Y%m%d").replace(tzinfo=dt.UTC)


def _isoformat(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_instant(text: str) -> dt.datetime | None:
    if text in ("", ".."):
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def parse_datetime_filter(text: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Parse a STAC ``datetime`` parameter into an inclusive interval.

    Args:
        text: an RFC 3339 instant or an interval ``start/end`` with ``..`` for open ends.

    Returns:
        ``(start, end)``, ``None`` for an open end.
    """
    start, sep, end = text.partition("/")
    if not sep:
        moment = _parse_instant(start)
        return moment, moment
    return _parse_instant(start), _parse_instant(end)


def build_item(served: ServedFile, asset_href: str, collection: str, asset_key: str) -> dict:
    """Describe a GeoTIFF as a STAC item with its real footprint.

    Args:
        served: the file and its datetime.
        asset_href: URL of the file.
        collection: collection id.
        asset_key: key of the image asset.

    Returns:
        The item as a GeoJSON Feature dictionary.
    """
    with rasterio.open(served.path) as src:
        bounds = src.bounds
        crs = src.crs
        footprint = shapely.segmentize(shapely.box(*bounds), max(src.res) * 16)
        geometry = transform_geom(crs, "EPSG:4326", shapely.geometry.mapping(footprint))
        when: dict[str, str | None] = {"datetime": _isoformat(served.datetime)}
        if served.end is not None:
            when = {
                "datetime": None,
                "start_datetime": _isoformat(served.datetime),
                "end_datetime": _isoformat(served.end),
            }
        properties = {
            **when,
            "gsd": round(float(src.res[0]), 3),
            "naip:year": str(served.datetime.year),
            "proj:epsg": crs.to_epsg(),
            "proj:shape": [src.height, src.width],
            "proj:bbox": list(bounds),
            "proj:transform": list(src.transform)[:6],
        }
    shape = shapely.geometry.shape(geometry)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [PROJECTION_EXTENSION],
        "id": served.id,
        "collection": collection,
        "geometry": geometry,
        "bbox": list(shape.bounds),
        "properties": properties,
        "assets": {
            asset_key: {
                "href": asset_href,
                "type": COG_MEDIA_TYPE,
                "roles": ["data"],
                "title": "RGBIR COG tile",
            }
        },
        "links": [],
    }


def _interval(item: Mapping[str, Any]) -> tuple[dt.datetime, dt.datetime]:
    """The first and last moment of an item: its ``datetime`` twice, or its interval."""
    properties = item["properties"]
    if properties.get("datetime"):
        moment = dt.datetime.fromisoformat(properties["datetime"])
        return moment, moment
    start = dt.datetime.fromisoformat(properties["start_datetime"])
    return start, dt.datetime.fromisoformat(properties["end_datetime"])


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the :class:`StacServer` that owns the HTTP server."""

    protocol_version = "HTTP/1.1"
    server: "_HTTPServer"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet; requests are recorded in the request log."""

    def do_GET(self) -> None:
        self.server.stac.handle(self, "GET")

    def do_HEAD(self) -> None:
        self.server.stac.handle(self, "HEAD")

    def do_POST(self) -> None:
        self.server.stac.handle(self, "POST")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    stac: "StacServer"


class StacServer:
    """A STAC API with one collection of GeoTIFF items, on ``127.0.0.1`` in a thread.

    Args:
        files: the GeoTIFFs to serve, one item each.
        collection: the collection id.
        asset_key: key of each item's image asset.
        default_limit: page size when a request gives no ``limit``.
        max_limit: the largest page size honoured.
    """

    def __init__(
        self,
        files: Sequence[ServedFile],
        collection: str = "naip",
        asset_key: str = "image",
        default_limit: int = 10,
        max_limit: int = 1000,
    ) -> None:
        ids = [served.id for served in files]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate item ids in {ids}")
        self.files = list(files)
        self.collection = collection
        self.asset_key = asset_key
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.requests: list[RequestRecord] = []
        self._rules: list[_FailureRule] = []
        self._latency, self._rate = 0.0, 0.0
        self._lock = threading.Lock()
        #: Assets held until this many different ones are asked for (0: none held).
        self._held_files, self._hold_seconds = 0, 0.0
        self._asked: set[str] = set()
        self._gate = threading.Condition()
        self._items: list[dict] = []
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_directory(
        cls,
        directory: Path,
        pattern: str = "*.tif",
        datetimes: Mapping[str, dt.datetime] | None = None,
        ends: Mapping[str, dt.datetime] | None = None,
        **kwargs: Any,
    ) -> "StacServer":
        """Serve every GeoTIFF in a directory.

        Args:
            directory: the directory.
            pattern: glob selecting the files.
            datetimes: acquisition times by file name; others are read from the name
                (its last ``YYYYMMDD``).
            ends: ends of acquisition intervals by file name: those files are served as
                items dated by an interval (see :class:`ServedFile`).
            **kwargs: passed to :class:`StacServer`.

        Returns:
            The (not yet started) server.
        """
        datetimes, ends = datetimes or {}, ends or {}
        files = [
            ServedFile(
                path, datetimes.get(path.name) or date_from_name(path), end=ends.get(path.name)
            )
            for path in sorted(Path(directory).glob(pattern))
        ]
        return cls(files, **kwargs)

    # Life cycle

    @property
    def url(self) -> str:
        """The root URL of the API, e.g. ``http://127.0.0.1:40123``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "StacServer":
        """Bind a free port on 127.0.0.1 and serve in a daemon thread.

        Returns:
            The server itself.
        """
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.stac = self
        self._items = [
            build_item(served, self.asset_url(served.path.name), self.collection, self.asset_key)
            for served in self.files
        ]
        # GDAL keeps /vsicurl/ responses per URL: forget any from an earlier server that
        # had the same port.
        rasterio.cache.invalidate(self.url)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"stac-server-{self.url}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join the thread."""
        if self._httpd is None:
            return
        rasterio.cache.invalidate(self.url)
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> "StacServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Failure injection and request log

    def fail(
        self,
        count: int | None = None,
        status: int | None = 503,
        path_prefix: str = "/",
        methods: Sequence[str] = (),
        *,
        truncate: bool = False,
        skip: int = 0,
    ) -> None:
        """Answer matching requests with an error instead of serving them.

        Args:
            count: how many requests fail (``None``: all of them, forever).
            status: the HTTP status to answer, or ``None`` to drop the connection
                without answering.
            path_prefix: only requests whose path starts with this fail (``/assets/``
                for the image files only).
            methods: only requests with these methods fail (default: any).
            truncate: instead of failing with *status*, answer an asset request with
                its real status and headers (``Content-Length`` included) but only the
                first half of the body, then close the connection: a download dropped
                mid-file.
            skip: serve this many matching requests normally before the failures.
        """
        rule = _FailureRule(status, count, path_prefix, frozenset(methods), truncate, skip)
        with self._lock:
            self._rules.append(rule)

    def throttle(self, latency: float = 0.0, rate: float = 0.0) -> None:
        """Slow every asset response down like a real network; no arguments: full speed.

        Args:
            latency: seconds before each response starts.
            rate: bytes per second of the body (0: unlimited).
        """
        self._latency, self._rate = latency, rate

    def hold(self, files: int, seconds: float) -> None:
        """Answer no asset request until requests for *files* different assets have come.

        Like a server busy until several clients ask at once: a scan's workers download one
        scene at a time each, so holding until as many assets as workers are asked for
        means every worker has a scene. Once the requests have come, or *seconds* after
        the first held request, every asset is served as usual.

        Args:
            files: different assets to wait for.
            seconds: longest hold of a request (keep it under the client's timeout).
        """
        with self._gate:
            self._held_files, self._hold_seconds = files, seconds
            self._asked.clear()

    def _wait_for_hold(self, name: str) -> None:
        """Hold an asset request as :meth:`hold` asked."""
        with self._gate:
            if not self._held_files:
                return
            self._asked.add(name)
            self._gate.notify_all()
            self._gate.wait_for(lambda: len(self._asked) >= self._held_files, self._hold_seconds)
            # Open for good, also for requests still waiting.
            self._held_files = 0
            self._gate.notify_all()

    def clear_failures(self) -> None:
        """Remove every failure rule."""
        with self._lock:
            self._rules.clear()

    def clear_log(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RequestRecord]:
        """Recorded requests whose path starts with a prefix.

        Args:
            path_prefix: e.g. ``/assets/`` or ``/search``.
            method: only requests with this method.

        Returns:
            The matching records, oldest first.
        """
        with self._lock:
            return [
                record
                for record in self.requests
                if record.path.startswith(path_prefix) and method in (None, record.method)
            ]

    def asset_url(self, name: str) -> str:
        """The URL of a served file.

        Args:
            name: the file name.

        Returns:
            The URL.
        """
        return f"{self.url}/assets/{quote(name)}"

    # Request handling

    def handle(self, handler: _Handler, method: str) -> None:
        """Answer one request (called from the server's worker threads).

        Args:
            handler: the request handler.
            method: the HTTP method.
        """
        parts = urlsplit(handler.path)
        path = unquote(parts.path).rstrip("/") or "/"
        range_header = handler.headers.get("Range")
        body = b""
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length)
        request = (path, parts.query)
        rule = self._take_failure(method, path)
        if rule is not None and rule.truncate and path.startswith("/assets/"):
            handler.close_connection = True
            self._send_asset(handler, method, request, path.removeprefix("/assets/"), 0.5)
            return
        if rule is not None:
            if rule.status is None:
                handler.close_connection = True
                self._record(RequestRecord(method, *request, None, range_header, 0))
                return
            self._send_json(
                handler,
                method,
                request,
                rule.status,
                {"code": HTTPStatus(rule.status).phrase, "description": "injected failure"},
            )
            return
        try:
            if path.startswith("/assets/"):
                self._send_asset(handler, method, request, path.removeprefix("/assets/"))
                return
            status, document = self._route(method, path, parse_qs(parts.query), body)
        except (ValueError, KeyError, TypeError) as error:
            status, document = 400, {"code": "BadRequest", "description": str(error)}
        self._send_json(handler, method, request, status, document)

    def _take_failure(self, method: str, path: str) -> _FailureRule | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.skip > 0:
                        rule.skip -= 1
                        return None
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule
        return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _send_json(
        self, handler: _Handler, method: str, request: tuple[str, str], status: int, document: dict
    ) -> None:
        payload = json.dumps(document).encode()
        is_page = document.get("type") == "FeatureCollection"
        content_type = "application/geo+json" if is_page else "application/json"
        self._respond(handler, method, request, status, {"Content-Type": content_type}, payload)

    def _respond(
        self,
        handler: _Handler,
        method: str,
        request: tuple[str, str],
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        fraction: float = 1.0,
    ) -> None:
        """Record a response, then send it (recorded first: the client may act at once).

        A *fraction* below 1 sends that share of the body after announcing all of it.
        """
        sent = b"" if method == "HEAD" else body[: int(len(body) * fraction)]
        range_header = handler.headers.get("Range")
        self._record(RequestRecord(method, *request, status, range_header, len(sent)))
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if not request[0].startswith("/assets/"):
            handler.wfile.write(sent)
            return
        time.sleep(self._latency)
        chunk = max(1, int(self._rate * 0.05)) if self._rate else max(len(sent), 1)
        for offset in range(0, len(sent), chunk):
            handler.wfile.write(sent[offset : offset + chunk])
            if self._rate:
                time.sleep(min(chunk, len(sent) - offset) / self._rate)

    def _send_asset(
        self,
        handler: _Handler,
        method: str,
        request: tuple[str, str],
        name: str,
        fraction: float = 1.0,
    ) -> None:
        matches = [served.path for served in self.files if served.path.name == name]
        if not matches:
            self._send_json(handler, method, request, 404, {"code": "NotFound"})
            return
        self._wait_for_hold(name)
        data = matches[0].read_bytes()
        size = len(data)
        range_header = handler.headers.get("Range")
        if not range_header:
            headers = {"Content-Type": "image/tiff", "Accept-Ranges": "bytes"}
            self._respond(handler, method, request, 200, headers, data, fraction)
            return
        start, end = self._parse_range(range_header, size)
        if start > end:
            headers = {"Content-Range": f"bytes */{size}"}
            self._respond(handler, method, request, 416, headers, b"")
            return
        headers = {
            "Content-Type": "image/tiff",
            "Accept-Ranges": "bytes",
            "Content-Range": f"bytes {start}-{end}/{size}",
        }
        self._respond(handler, method, request, 206, headers, data[start : end + 1], fraction)

    @staticmethod
    def _parse_range(header: str, size: int) -> tuple[int, int]:
        """Parse a single ``bytes=`` range; a multi-range request gets one range: the whole file."""
        unit, _, spec = header.partition("=")
        if unit.strip() != "bytes" or "," in spec:
            return 0, size - 1
        first, _, last = spec.strip().partition("-")
        if not first:
            return max(size - int(last), 0), size - 1
        end = min(int(last), size - 1) if last else size - 1
        return int(first), end

    # The API

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict]:
        items_path = f"/collections/{self.collection}/items"
        if method == "POST" and path == "/search":
            return 200, self._search(json.loads(body or b"{}"), "POST", path)
        if method not in ("GET", "HEAD"):
            return 405, {"code": "MethodNotAllowed"}
        params = {key: values[-1] for key, values in query.items()}
        routes = {
            "/": self._landing_page,
            "/conformance": lambda: {"conformsTo": CONFORMANCE},
            "/collections": lambda: {
                "collections": [self._collection()],
                "links": [self._link("self", "/collections")],
            },
            f"/collections/{self.collection}": self._collection,
        }
        if path in routes:
            return 200, routes[path]()
        if path == "/search":
            return 200, self._search(self._params_from_query(params), "GET", path)
        if path == items_path:
            search = self._params_from_query(params) | {"collections": [self.collection]}
            return 200, self._search(search, "GET", path)
        if path.startswith(f"{items_path}/"):
            item_id = path.removeprefix(f"{items_path}/")
            for item in self._items:
                if item["id"] == item_id:
                    return 200, self._with_links(item)
        return 404, {"code": "NotFound", "description": f"no resource at {path}"}

    @staticmethod
    def _params_from_query(params: dict[str, str]) -> dict[str, Any]:
        search: dict[str, Any] = dict(params)
        for key in ("collections", "ids"):
            if key in params:
                search[key] = params[key].split(",")
        if "bbox" in params:
            search["bbox"] = [float(v) for v in params["bbox"].split(",")]
        if "intersects" in params:
            search["intersects"] = json.loads(params["intersects"])
        return search

    def _link(self, rel: str, path: str, **extra: Any) -> dict:
        return {"rel": rel, "href": f"{self.url}{path}", **extra}

    def _landing_page(self) -> dict:
        return {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": "tgdc-test-stac",
            "title": "torchgeo-datacenters loopback STAC API",
            "description": "Real GeoTIFFs served for tests",
            "conformsTo": CONFORMANCE,
            "links": [
                self._link("self", "/", type="application/json"),
                self._link("root", "/", type="application/json"),
                self._link("conformance", "/conformance", type="application/json"),
                self._link("data", "/collections", type="application/json"),
                self._link("child", f"/collections/{self.collection}", type="application/json"),
                self._link("search", "/search", type="application/geo+json", method="GET"),
                self._link("search", "/search", type="application/geo+json", method="POST"),
            ],
        }

    def _collection(self) -> dict:
        times = sorted(_isoformat(_interval(item)[0]) for item in self._items)
        return {
            "type": "Collection",
            "stac_version": STAC_VERSION,
            "id": self.collection,
            "title": "NAIP test tiles",
            "description": "Real NAIP GeoTIFFs served on loopback for tests",
            "license": "proprietary",
            "extent": {
                # As the Planetary Computer ``naip`` collection lists it: the overall box,
                # then one box per part (contiguous states, Hawaii, Puerto Rico, USVI).
                "spatial": {"bbox": NAIP_EXTENT},
                "temporal": {"interval": [[times[0], times[-1]] if times else [None, None]]},
            },
            "links": [
                self._link("self", f"/collections/{self.collection}"),
                self._link("root", "/"),
                self._link("parent", "/"),
                self._link("items", f"/collections/{self.collection}/items"),
            ],
        }

    def _with_links(self, item: dict) -> dict:
        item_path = f"/collections/{self.collection}/items/{item['id']}"
        return item | {
            "links": [
                self._link("self", item_path),
                self._link("collection", f"/collections/{self.collection}"),
                self._link("parent", f"/collections/{self.collection}"),
                self._link("root", "/"),
            ]
        }

    def _matching(self, search: Mapping[str, Any]) -> Iterator[dict]:
        collections = search.get("collections")
        ids = search.get("ids")
        region = None
        if search.get("bbox"):
            bbox = [float(v) for v in search["bbox"]]
            region = shapely.box(*(bbox[:2] + bbox[3:5] if len(bbox) == 6 else bbox))
        if search.get("intersects"):
            region = shapely.geometry.shape(search["intersects"])
        start, end = (
            parse_datetime_filter(search["datetime"])
            if search.get("datetime")
            else (
                None,
                None,
            )
        )
        for item in self._items:
            first, last = _interval(item)
            if collections and item["collection"] not in collections:
                continue
            if ids and item["id"] not in ids:
                continue
            if region is not None and not region.intersects(
                shapely.geometry.shape(item["geometry"])
            ):
                continue
            if (start and last < start) or (end and first > end):
                continue
            yield item

    def _search(self, search: dict[str, Any], method: str, path: str) -> dict:
        limit = int(search.get("limit") or self.default_limit)
        if limit < 1:
            raise ValueError(f"limit must be positive, got {limit}")
        limit = min(limit, self.max_limit)
        offset = int(search.get("token") or 0)
        matched = list(self._matching(search))
        page = matched[offset : offset + limit]
        links = [self._link("root", "/")]
        if offset + limit < len(matched):
            following = search | {"token": str(offset + limit)}
            if method == "POST":
                links.append(self._link("next", path, method="POST", body=following, merge=False))
            else:
                query = {
                    key: (
                        ",".join(map(str, value))
                        if isinstance(value, list)
                        else json.dumps(value)
                        if isinstance(value, dict)
                        else value
                    )
                    for key, value in following.items()
                }
                links.append(self._link("next", f"{path}?{urlencode(query)}"))
        return {
            "type": "FeatureCollection",
            "features": [self._with_links(item) for item in page],
            "links": links,
            "numberMatched": len(matched),
            "numberReturned": len(page),
            "context": {"returned": len(page), "limit": limit, "matched": len(matched)},
        }


# Test tiles: real NAIP tiles as COGs, laid out so that requests span several items.

MILWAUKEE = "m_4208701_ne_16_060_20200902.tif"
SAN_DIEGO = "m_3211605_ne_11_060_20200415.tif"
RES = 0.6


@dataclass(frozen=True)
class NaipTestTiles:
    """The COGs served in the tests and the pixels they hold.

    Attributes:
        directory: the directory of COGs.
        data: the Milwaukee tile's pixels, ``(4, 143, 175)``.
        crs: its CRS (EPSG:26916).
        transform: its transform, snapped to the 0.6 m lattice.
        split: first column of the east half.
        pad: pixels by which the old item extends beyond the tile on every side.
        west: file of the west half (2022-07-01).
        east: file of the east half (2022-08-15).
        old: file of the older, padded, inverted item (2018-06-10).
        san_diego: file of the San Diego tile (2020-04-15, EPSG:26911).
    """

    directory: Path
    data: np.ndarray
    crs: CRS
    transform: Affine
    split: int = 88
    pad: int = 20
    west: str = "m_4208701_ne_16_west_20220701.tif"
    east: str = "m_4208701_ne_16_east_20220815.tif"
    old: str = "m_4208701_ne_16_old_20180610.tif"
    san_diego: str = SAN_DIEGO

    @property
    def old_data(self) -> np.ndarray:
        """Pixels of the old item: the tile inverted, edge-padded by :attr:`pad`."""
        pad = self.pad
        return np.pad(255 - self.data, ((0, 0), (pad, pad), (pad, pad)), mode="edge")

    def lonlat(self, row: float, col: float) -> tuple[float, float]:
        """Longitude and latitude of a point given in pixels of the Milwaukee tile."""
        x, y = self.transform @ (col, row)
        lons, lats = transform(self.crs, "EPSG:4326", [x], [y])
        return lons[0], lats[0]


def snapped(affine: Affine) -> Affine:
    """The transform moved onto the 0.6 m lattice with 0.6 m pixels."""
    return Affine(RES, 0, round(affine.c / RES) * RES, 0, -RES, round(affine.f / RES) * RES)


def write_cog(path: Path, data: np.ndarray, crs: CRS, affine: Affine) -> Path:
    """Write a 4-band uint8 COG with 64-pixel tiles, so a window touches only some tiles."""
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype="uint8",
        crs=crs,
        transform=affine,
        compress="DEFLATE",
        blocksize=64,
    ) as dst:
        dst.write(data)
    return path


def build_naip_test_tiles(naip_dir: Path, out: Path) -> NaipTestTiles:
    """Write the test tile set (see "Test tiles" above) from the real NAIP files.

    Args:
        naip_dir: the directory of real NAIP tiles (``../shared/data/naip``).
        out: the directory to write the COGs to.

    Returns:
        The tile set.
    """
    with rasterio.open(naip_dir / MILWAUKEE) as src:
        tiles = NaipTestTiles(out, src.read(), src.crs, snapped(src.transform))
    out, data, split = tiles.directory, tiles.data, tiles.split
    write_cog(out / tiles.west, data[:, :, :split], tiles.crs, tiles.transform)
    east = tiles.transform @ Affine.translation(split, 0)
    write_cog(out / tiles.east, data[:, :, split:], tiles.crs, east)
    old = tiles.transform @ Affine.translation(-tiles.pad, -tiles.pad)
    write_cog(out / tiles.old, tiles.old_data, tiles.crs, old)
    with rasterio.open(naip_dir / SAN_DIEGO) as src:
        write_cog(out / tiles.san_diego, src.read(), src.crs, snapped(src.transform))
    return tiles
