"""The record of a scan on disk: what each scene found, so that a rerun resumes.

A scan's output directory holds:

* ``scan.json``: the settings that decide what a scene's detections are (the model's
  SHA-256, threshold, tiling, merging and area settings). A rerun with other settings is
  refused, so one directory never mixes the results of two models;
* ``scenes/<scene>.parquet``: the detections of every finished scene (GeoParquet, EPSG:4326),
  each written atomically;
* ``manifest.jsonl``: one JSON line per finished or failed scene, appended (and flushed to
  disk) only after the scene's GeoParquet is in place.

A scene is finished when its last line says ``done`` and its GeoParquet exists; a crash
loses at most the scenes in flight. A line cut short by a crash is ignored on reading.
"""

import datetime as dt
import hashlib
import json
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..detections.schema import SITE_ID, empty_detections
from ..errors import TGDCError, describe_os_error
from ..utils import atomic_output

#: File of settings in a scan's output directory.
SETTINGS_FILE = "scan.json"

#: File of scene records in a scan's output directory.
MANIFEST_FILE = "manifest.jsonl"

#: Directory of per-scene detections in a scan's output directory.
SCENES_DIR = "scenes"

#: Characters kept from a scene id in its file name.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class SceneRecord:
    """One line of the manifest: how a scene ended.

    Attributes:
        scene: the scene's id.
        status: ``done`` or ``failed``.
        detections: number of detections found (0 when failed).
        scanned_km2: area of valid pixels scanned, in km².
        seconds: time spent on the scene's last attempt, in seconds.
        attempts: attempts made.
        file: the scene's GeoParquet, relative to the output directory (None when failed).
        error: the last error (None when done).
        finished: when the record was written (UTC, ISO 8601).
        node: the Ray node of the last attempt (its node id; None when unknown, and in
            manifests written before nodes were recorded).
    """

    scene: str
    status: Literal["done", "failed"]
    detections: int
    scanned_km2: float
    seconds: float
    attempts: int
    file: str | None
    error: str | None
    finished: str
    node: str | None = None


def scene_file_name(scene: str) -> str:
    """The file name of a scene's detections: its id made safe, plus a short hash.

    Args:
        scene: the scene's id (any text, e.g. a relative path or a STAC item id).

    Returns:
        E.g. ``tiles_a.tif-1f2e3d4c5b.parquet``: unique per id, safe on every file system.
    """
    digest = hashlib.sha256(scene.encode()).hexdigest()[:10]
    return f"{_UNSAFE.sub('_', scene)[:80]}-{digest}.parquet"


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes.

    Args:
        path: the file.

    Returns:
        The hex digest.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """The settings, per-scene detections and scene records of a scan's output directory."""

    def __init__(self, directory: str | os.PathLike[str], settings: Mapping[str, Any]) -> None:
        """Open (or start) the record of a scan.

        Args:
            directory: the scan's output directory (created if missing; its parent must
                exist).
            settings: what decides a scene's detections, as JSON-compatible values.

        Raises:
            TGDCError: if the directory cannot be created, or holds a scan made with other
                settings.
        """
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise TGDCError(f"{self.directory}: is a file; give a directory as --output-dir")
        if not self.directory.parent.is_dir():
            raise TGDCError(
                f"{self.directory}: parent directory {self.directory.parent} does not exist;"
                " create it first"
            )
        (self.directory / SCENES_DIR).mkdir(parents=True, exist_ok=True)
        self.path = self.directory / MANIFEST_FILE
        self.settings = json.loads(json.dumps(dict(settings), sort_keys=True))
        self._check_settings()
        # A national scan's manifest has some 200,000 lines and as many scene files, looked
        # at before and after the scan: lines are parsed again only once the file has
        # changed, and a file read back whole is not read again.
        self._parsed: tuple[tuple[int, int], dict[str, SceneRecord]] | None = None
        self._whole_files: set[SceneRecord] = set()

    def _check_settings(self) -> None:
        """Write the settings on the first run; compare them on later runs.

        Raises:
            TGDCError: if the directory holds a scan made with other settings.
        """
        path = self.directory / SETTINGS_FILE
        if not path.exists():
            with atomic_output(path) as tmp:
                tmp.write_text(json.dumps(self.settings, indent=2, sort_keys=True) + "\n")
            return
        try:
            previous = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise TGDCError(
                f"{path}: not valid JSON ({error}); delete {self.directory} to start the scan over"
            ) from error
        changed = sorted(
            key
            for key in set(previous) | set(self.settings)
            if previous.get(key) != self.settings.get(key)
        )
        if changed:
            key = changed[0]
            raise TGDCError(
                f"{path}: this directory holds a scan made with {key}={previous.get(key)!r},"
                f" not {self.settings.get(key)!r} (differing: {', '.join(changed)}); give"
                " another --output-dir, or delete this one to start over"
            )

    def records(self) -> dict[str, SceneRecord]:
        """The last record of every scene in the manifest.

        Returns:
            Scene id to record; lines cut short by a crash are skipped.
        """
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return {}
        version = (stat.st_size, stat.st_mtime_ns)
        if self._parsed is not None and self._parsed[0] == version:
            return dict(self._parsed[1])
        records: dict[str, SceneRecord] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = SceneRecord(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                continue
            records[record.scene] = record
        self._parsed = version, records
        return dict(records)

    def finished(self) -> dict[str, SceneRecord]:
        """The scenes whose detections are on disk.

        Returns:
            Scene id to its ``done`` record.
        """
        # One listing of the scene files rather than a look at each (a national scan has
        # some 200,000, most of them empty).
        present = {entry.name for entry in os.scandir(self.directory / SCENES_DIR)}
        return {
            scene: record
            for scene, record in self.records().items()
            if record.status == "done"
            and record.file is not None
            and self._readable(record, present)
        }

    def _readable(self, record: SceneRecord, present: set[str]) -> bool:
        """Whether a scene's detections are on disk and whole.

        A scene with no detection needs only its file (nothing of it is read again);
        otherwise the file is read back to its footer, see :meth:`_whole`.

        Args:
            record: a ``done`` record.
            present: names of the files in the scene directory.

        Returns:
            Whether its detections can be read, with as many rows as recorded.
        """
        if str(record.file).rpartition("/")[2] not in present:
            return False
        if record.detections == 0 or record in self._whole_files:
            return True
        if self._whole(record):
            self._whole_files.add(record)
            return True
        return False

    def _whole(self, record: SceneRecord) -> bool:
        """Whether a scene's GeoParquet is on disk and whole, read back to its footer.

        A file cut short or corrupted (by a full disk, a copy, a crash of the machine) is
        warned about: its scene is not finished, so it is scanned again.

        Args:
            record: a ``done`` record.

        Returns:
            Whether its detections can be read, with as many rows as recorded.
        """
        path = self.directory / str(record.file)
        if not path.is_file():
            return False
        try:
            rows = pq.ParquetFile(path).metadata.num_rows
        except (OSError, ValueError) as error:
            warnings.warn(
                f"{path}: cannot be read ({describe_os_error(error)}); scene {record.scene} is"
                " scanned again",
                UserWarning,
                stacklevel=3,
            )
            return False
        if rows != record.detections:
            warnings.warn(
                f"{path}: holds {rows} detections, the manifest says {record.detections};"
                f" scene {record.scene} is scanned again",
                UserWarning,
                stacklevel=3,
            )
            return False
        return True

    def record_done(
        self,
        scene: str,
        detections: gpd.GeoDataFrame,
        *,
        scanned_km2: float,
        seconds: float,
        attempts: int,
        node: str | None = None,
    ) -> SceneRecord:
        """Write a scene's detections, then its ``done`` line.

        Args:
            scene: the scene's id.
            detections: its detections (EPSG:4326).
            scanned_km2: area of valid pixels scanned, in km².
            seconds: time spent on the scene, in seconds.
            attempts: attempts made.
            node: the Ray node that scanned it.

        Returns:
            The record written.
        """
        file = Path(SCENES_DIR) / scene_file_name(scene)
        with atomic_output(self.directory / file) as tmp:
            detections.to_parquet(tmp)
        return self._append(
            SceneRecord(
                scene=scene,
                status="done",
                detections=len(detections),
                scanned_km2=scanned_km2,
                seconds=seconds,
                attempts=attempts,
                file=file.as_posix(),
                error=None,
                finished=_now(),
                node=node,
            )
        )

    def record_failed(
        self, scene: str, error: str, *, seconds: float, attempts: int, node: str | None = None
    ) -> SceneRecord:
        """Write a scene's ``failed`` line.

        Args:
            scene: the scene's id.
            error: the last error.
            seconds: time spent on the last attempt, in seconds.
            attempts: attempts made.
            node: the Ray node of the last attempt.

        Returns:
            The record written.
        """
        return self._append(
            SceneRecord(
                scene=scene,
                status="failed",
                detections=0,
                scanned_km2=0.0,
                seconds=seconds,
                attempts=attempts,
                file=None,
                error=error,
                finished=_now(),
                node=node,
            )
        )

    def _append(self, record: SceneRecord) -> SceneRecord:
        """Append one line to the manifest and flush it to disk.

        Args:
            record: the record.

        Returns:
            The record.
        """
        line = json.dumps(asdict(record), sort_keys=True, ensure_ascii=False) + "\n"
        with open(self.path, "a+b") as file:
            if file.tell() > 0:
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":
                    line = "\n" + line
            file.write(line.encode("utf-8"))
            file.flush()
            os.fsync(file.fileno())
        return record

    def read(
        self, scenes: Iterable[str], finished: Mapping[str, SceneRecord] | None = None
    ) -> gpd.GeoDataFrame:
        """Read the detections of finished scenes, scene after scene.

        Args:
            scenes: scene ids, in the order wanted; unfinished ones are skipped.
            finished: :meth:`finished`, where the caller has just asked for it.

        Returns:
            All their detections in EPSG:4326, in that order.
        """
        finished = self.finished() if finished is None else finished
        records = [finished[scene] for scene in scenes if scene in finished]
        # Only files with detections are read, as Arrow tables joined before one
        # conversion: a national scan has some 200,000 scenes, most of them empty, and a
        # GeoParquet read on its own parses its CRS again (benchmarks/scan.py --merge-only).
        tables = []
        offset = 0
        for record in records:
            if record.detections == 0:
                continue
            # One small file: read in this thread, without a dataset around it (3x faster).
            table = pq.ParquetFile(self.directory / str(record.file)).read(use_threads=False)
            # Each scene's sites stay apart, as concat_detections keeps them.
            if SITE_ID in table.column_names:
                sites = pc.add(table[SITE_ID], offset)
                table = table.set_column(table.schema.get_field_index(SITE_ID), SITE_ID, sites)
                offset = pc.max(sites).as_py() + 1
            tables.append(table)
        if not tables:
            return empty_detections()
        frame = pa.concat_tables(tables, promote_options="default").to_pandas()
        geometry = gpd.GeoSeries.from_wkb(frame.pop("geometry"), crs="EPSG:4326")
        return gpd.GeoDataFrame(frame, geometry=geometry)


def _now() -> str:
    """The time now, UTC, ISO 8601 to the millisecond."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
