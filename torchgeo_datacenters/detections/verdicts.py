"""A person's verdicts on detections, as label files, and their merge into one label set.

The review page (:mod:`torchgeo_datacenters.outputs.review`) exports what its reviewer
decided as one GeoJSON label file in the schema of the project's label files (``class``,
``label``: see :mod:`torchgeo_datacenters.naip`), one feature per verdict, with the
properties of :data:`VERDICT_COLUMNS`:

* ``accepted``: the detection's outline, class ``datacenter``, ``label`` true;
* ``rejected``: the detection's outline, a hard-negative class (``warehouse``, ``retail``
  or ``other``), ``label`` false;
* ``missed``: a site the model missed, drawn on the map, class ``datacenter``.

Each verdict names the ``run`` whose detections were reviewed: :func:`run_id`, a digest
of the detection table (ids, centroids, scores, sources, as the writers round them), so a
page built again from the same detections file, or from the run that wrote it, has the
same run. :func:`merge_verdicts` joins such files (and the label sets it wrote before)
into one label set: a site judged twice (the same detection of one run, or outlines that
overlap by :data:`SAME_SITE_IOU` or more) keeps its newest verdict, and every such
replacement is reported.
"""

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import TGDCError
from ..naip import DATACENTER_CLASS, HARD_NEGATIVE_CLASSES
from ..vectors import as_bool
from .files import read_vector, refuse_features
from .metric import project_by_zone, zones
from .schema import LONLAT_DECIMALS
from .writers import SCORE_DECIMALS

#: What a reviewer can decide about a site, with the classes each allows: a detection
#: accepted as a data center, a detection rejected as one of the hard-negative classes, a
#: missed data center drawn by hand.
VERDICT_CLASSES: dict[str, tuple[str, ...]] = {
    "accepted": (DATACENTER_CLASS,),
    "rejected": HARD_NEGATIVE_CLASSES,
    "missed": (DATACENTER_CLASS,),
}

#: Properties of every verdict, in order (plus the geometry): the label file's ``class``
#: and ``label``; the verdict; the detection judged (None for a missed site) with its
#: score; when (ISO 8601, UTC); the source scene (file name, STAC item id, acquisition
#: date, where known); the run reviewed (:func:`run_id`) and a name for the feature.
VERDICT_COLUMNS = (
    "class",
    "label",
    "verdict",
    "detection_id",
    "score",
    "reviewed_at",
    "source",
    "source_item",
    "acquired",
    "run",
    "name",
)

#: Two verdicts judge one site when their intersection over union is at
#: least this (the matching rule of the object metrics, ``tasks.object_metrics``).
SAME_SITE_IOU = 0.5

#: Hex digits of a run id (48 bits: two different runs share one with odds of 1 in 2.8e14).
RUN_ID_DIGITS = 12


def run_id(detections: gpd.GeoDataFrame) -> str:
    """The id of a run: a digest of its detection table.

    Ids, centroids (rounded to :data:`~.schema.LONLAT_DECIMALS`), scores (rounded to
    :data:`~.writers.SCORE_DECIMALS`) and sources are digested as the GeoJSON writer rounds
    them, so the table of a run and the file it wrote give the same id.

    Args:
        detections: a detection table (see :mod:`.schema`), in any row order.

    Returns:
        :data:`RUN_ID_DIGITS` lower-case hex digits.
    """
    digest = hashlib.sha256()
    table = detections[["id", "centroid_lon", "centroid_lat", "score", "source"]]
    for row in table.sort_values("id", kind="stable").itertuples():
        lon = round(float(row.centroid_lon), LONLAT_DECIMALS)
        lat = round(float(row.centroid_lat), LONLAT_DECIMALS)
        score = round(float(row.score), SCORE_DECIMALS)
        digest.update(f"{int(row.id)}|{lon!r}|{lat!r}|{score!r}|{row.source}\n".encode())
    return digest.hexdigest()[:RUN_ID_DIGITS]


@dataclass(frozen=True)
class Replacement:
    """A site judged twice: the verdict kept and the one it replaced.

    Attributes:
        kept: ``FILE: verdict class (reviewed_at)`` of the newer verdict.
        dropped: the same of the older one.
        site: the site as the verdict kept names it, ``run RUN #ID`` or ``run RUN drawn
            site NAME``.
    """

    kept: str
    dropped: str
    site: str

    def __str__(self) -> str:
        """One line: the site, the verdict kept and the one dropped."""
        return f"{self.site}: kept {self.kept}, dropped {self.dropped}"


@dataclass(frozen=True)
class MergedLabels:
    """The label set merged from verdict files.

    Attributes:
        labels: one row per site (:data:`VERDICT_COLUMNS` and the geometry, EPSG:4326),
            newest verdict first per site, ordered by verdict then time.
        replaced: every site judged twice (or a base label judged), with the verdict kept.
        files: the files merged, in order.
    """

    labels: gpd.GeoDataFrame
    replaced: list[Replacement]
    files: tuple[Path, ...]

    def summary(self) -> str:
        """One line: sites by verdict and class, base labels, and how many were judged twice.

        Returns:
            E.g. ``12 site(s) from 2 file(s): 5 data center(s) (4 accepted, 1 missed),
            7 hard negative(s) (3 warehouse, 4 retail, 0 other); 1 judged twice``.
        """
        counts = self.labels.groupby(["verdict", "class"]).size()
        verdicts = self.labels["verdict"].value_counts()
        negatives = ", ".join(
            f"{int(counts.get(('rejected', name), 0))} {name}" for name in HARD_NEGATIVE_CLASSES
        )
        positives = int(verdicts.get("accepted", 0) + verdicts.get("missed", 0))
        labelled = int(self.labels["verdict"].isna().sum())
        return (
            f"{len(self.labels)} site(s) from {len(self.files)} file(s): {positives} data"
            f" center(s) ({int(verdicts.get('accepted', 0))} accepted,"
            f" {int(verdicts.get('missed', 0))} missed), {int(verdicts.get('rejected', 0))}"
            f" hard negative(s) ({negatives})"
            + (f", {labelled} earlier label(s) without a verdict" if labelled else "")
            + f"; {len(self.replaced)} judged twice"
        )


def read_verdicts(
    path: str | os.PathLike[str], runs: Mapping[str, gpd.GeoDataFrame] | None = None
) -> gpd.GeoDataFrame:
    """Read and check a file of verdicts (a review page's export or a merged label set).

    Args:
        path: the file (GeoJSON, GeoPackage, GeoParquet, ...).
        runs: detection tables by run id (see :func:`run_id`); where given, every verdict
            on a detection must name one of these runs and a detection id of it.

    Returns:
        The verdicts, :data:`VERDICT_COLUMNS` and the geometry, in EPSG:4326 (none for a
        file of no features).

    Raises:
        TGDCError: if the file is unreadable, is not a verdict file, has a verdict or
            class outside :data:`VERDICT_CLASSES`, a ``label`` that contradicts its class,
            a time that is not ISO 8601, a geometry that is not a polygon, or (with
            *runs*) a detection of another run or an id its run does not have.
    """
    path = Path(path)
    frame = read_vector(path, "verdicts", polygons=True)
    if frame.empty:  # a page exported before any verdict (GeoJSON keeps no columns then)
        return _no_rows()
    missing = [c for c in ("class", "label", "verdict", "reviewed_at", "run") if c not in frame]
    if missing:
        raise TGDCError(
            f"{path}: not a file of review verdicts (no {', '.join(missing)} properties);"
            " export one from the page `tgdc review` writes"
        )
    if frame["verdict"].isna().any():
        raise refuse_features(
            path,
            frame.index[frame["verdict"].isna()],
            "have no verdict (labels that no review judged)",
            "give such label files with --base",
        )
    verdict = frame["verdict"].astype(str)
    unknown = frame.index[~verdict.isin(list(VERDICT_CLASSES))]
    if len(unknown):
        raise refuse_features(
            path,
            _like_first(frame, unknown, ["verdict"]),
            f"have verdict {frame.loc[unknown[0], 'verdict']!r}",
            f"give one of {', '.join(VERDICT_CLASSES)}",
        )
    allowed = verdict.map(lambda v: VERDICT_CLASSES[v])
    classes = frame["class"].astype(str)
    wrong = frame.index[[c not in a for c, a in zip(classes, allowed, strict=True)]]
    if len(wrong):
        row = wrong[0]
        raise refuse_features(
            path,
            _like_first(frame, wrong, ["class", "verdict"]),
            f"have class {frame.loc[row, 'class']!r} for verdict {verdict[row]!r}",
            f"its class is one of {', '.join(VERDICT_CLASSES[verdict[row]])}",
        )
    _check_labels(frame, path)
    times = _utc_times(frame["reviewed_at"])
    if times.isna().any():
        raise refuse_features(
            path,
            frame.index[times.isna()],
            "have no ISO 8601 reviewed_at",
            "give e.g. 2026-01-31T12:00:00Z",
        )
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.all():
        raise refuse_features(
            path, frame.index[~polygonal], "are not polygons", "draw sites as polygons"
        )
    detection = frame["verdict"] != "missed"
    if "detection_id" not in frame:
        frame["detection_id"] = None
    given = frame["detection_id"].notna()
    ids = pd.to_numeric(frame["detection_id"], errors="coerce")
    if (detection & ~given).any():
        raise refuse_features(
            path,
            frame.index[detection & ~given],
            "judge a detection but name no detection_id",
            "export the file again from its review page",
        )
    if (~detection & given).any():
        raise refuse_features(
            path,
            frame.index[~detection & given],
            "are missed sites (verdict 'missed') that name a detection_id",
            "a missed site is one no detection found: remove its detection_id, or give the"
            " detection's verdict as accepted",
        )
    whole = ids.notna() & (ids % 1 == 0)
    if (given & ~whole).any():
        bad = frame.index[given & ~whole]
        value = frame.loc[bad[0], "detection_id"]
        shown = repr(value) if isinstance(value, str) else str(value)
        raise refuse_features(
            path,
            _like_first(frame, bad, ["detection_id"]),
            f"have a detection_id that is not a detection's whole-number id ({shown})",
            "give the id of the detection in the detections file, or export the file again"
            " from its review page",
        )
    if runs is not None:
        _check_runs(path, frame.assign(detection_id=ids)[detection], runs)
    table = frame.assign(
        label=frame["label"].astype(bool),
        reviewed_at=_iso_times(times),
        detection_id=ids.astype("Int64"),
        run=frame["run"].astype(str),
    )
    for column in VERDICT_COLUMNS:
        if column not in table:
            table[column] = None
    return table[[*VERDICT_COLUMNS, "geometry"]]


def _check_runs(path: Path, verdicts: pd.DataFrame, runs: Mapping[str, gpd.GeoDataFrame]) -> None:
    """Check that verdicts on detections name a run given and one of its detections.

    Args:
        path: the verdict file.
        verdicts: its verdicts on detections (``run`` and numeric ``detection_id``).
        runs: detection tables by run id.

    Raises:
        TGDCError: for a run not given, or a detection id its run does not have.
    """
    other = verdicts.index[~verdicts["run"].astype(str).isin(list(runs))]
    if len(other):
        run = verdicts.loc[other[0], "run"]
        given = [name for name, table in runs.items() if not table.empty]
        found = f"run {', '.join(given)}" if given else "they hold no detection"
        raise refuse_features(
            path,
            other,
            f"judge detections of run {run}, not of the detections given ({found})",
            "give with --detections the detections file its review page was built from",
        )
    for run, group in verdicts.groupby(verdicts["run"].astype(str)):
        unknown = group.index[~group["detection_id"].isin(runs[run]["id"])]
        if len(unknown):
            raise refuse_features(
                path,
                unknown,
                f"name detection ids run {run} does not have"
                f" ({int(group.loc[unknown[0], 'detection_id'])})",
                "export the file again from its review page",
            )


def read_base_labels(path: str | os.PathLike[str]) -> gpd.GeoDataFrame:
    """Read a label file that verdicts add to (hand-drawn labels, an earlier merge).

    Args:
        path: a label file with ``class`` and ``label`` properties (the seed project's
            schema), any vector format and CRS.

    Returns:
        Its polygons with :data:`VERDICT_COLUMNS` (None where the file lacks one) and the
        geometry, in EPSG:4326 (none for a file of no features).

    Raises:
        TGDCError: if the file is unreadable, lacks ``class`` or ``label``, or holds
            features that are not polygons.
    """
    path = Path(path)
    frame = read_vector(path, "labels", polygons=True)
    if frame.empty:  # no labels yet (GeoJSON keeps no columns then)
        return _no_rows()
    missing = [column for column in ("class", "label") if column not in frame]
    if missing:
        raise TGDCError(
            f"{path}: has no {', '.join(missing)} properties; give a label file in the project's"
            " schema (class, label), such as one `tgdc labels merge` wrote"
        )
    polygonal = frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])
    if not polygonal.all():
        raise refuse_features(path, frame.index[~polygonal], "are not polygons", "give footprints")
    _check_labels(frame, path)
    for column in VERDICT_COLUMNS:
        if column not in frame:
            frame[column] = None
    # As a verdict file's: a merge this wrote may be read back with datetimes.
    times = _utc_times(frame["reviewed_at"])
    frame["reviewed_at"] = _iso_times(times)
    return frame[[*VERDICT_COLUMNS, "geometry"]]


def _check_labels(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Make ``label`` a boolean (stored as 0/1 or text too), true for data centers only.

    Classes other than :data:`DATACENTER_CLASS` and :data:`HARD_NEGATIVE_CLASSES` (a base
    label file's own, which training maps with its ``class_map``) are not checked.

    Raises:
        TGDCError: for a value that is not a boolean, or a label that contradicts its class.
    """
    frame["label"] = as_bool(frame["label"], path, "label")
    classes = frame["class"].astype(str)
    known = classes.isin([DATACENTER_CLASS, *HARD_NEGATIVE_CLASSES])
    contradicts = frame.index[known & (frame["label"] != (classes == DATACENTER_CLASS))]
    if len(contradicts):
        raise refuse_features(
            path,
            contradicts,
            "have a label that contradicts their class",
            f"label is true for {DATACENTER_CLASS} only",
        )


def _no_rows() -> gpd.GeoDataFrame:
    """A table of no verdicts: :data:`VERDICT_COLUMNS` and the geometry, EPSG:4326."""
    return gpd.GeoDataFrame(
        {column: pd.Series(dtype=object) for column in VERDICT_COLUMNS},
        geometry=gpd.GeoSeries([], crs="EPSG:4326"),
    )


def _utc_times(values: pd.Series) -> pd.Series:
    """ISO 8601 texts (or datetimes) as UTC times; NaT where a value is neither."""
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def _iso_times(times: pd.Series) -> pd.Series:
    """UTC times as the review page writes them (``2026-01-31T12:00:00.000Z``), NaT as None."""
    text = times.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(
        r"\.(\d{3})\d{3}Z$", r".\1Z", regex=True
    )
    return text.astype(object).where(times.notna(), None)


def _like_first(frame: pd.DataFrame, rows: pd.Index, columns: Sequence[str]) -> pd.Index:
    """The rows whose *columns* hold the values of the first: those an error names.

    Args:
        frame: the features.
        rows: the features that break a rule, in file order.
        columns: the fields whose values the error quotes (the first row's).

    Returns:
        The rows among *rows* with those values.
    """
    first = frame.loc[rows[0], list(columns)].astype(str)
    same = (frame.loc[rows, list(columns)].astype(str) == first).all(axis=1)
    return rows[same.to_numpy()]


def merge_verdicts(
    paths: Sequence[str | os.PathLike[str]],
    runs: Mapping[str, gpd.GeoDataFrame] | None = None,
    base: Sequence[str | os.PathLike[str]] = (),
) -> MergedLabels:
    """Join verdict files into one label set, keeping the newest verdict on each site.

    A site is judged twice when two verdicts' outlines overlap with an intersection over
    union of :data:`SAME_SITE_IOU` or more, measured in metres (UTM): the same detection of
    one run judged on two pages, or a warehouse found again by a later scan.
    The newer ``reviewed_at`` wins; at the same time, the file given later. Labels of
    *base* files are older than every verdict: a verdict on their site replaces them.

    Args:
        paths: the verdict files (review exports, label sets this wrote), oldest first.
        runs: detection tables by run id, to check the files against (see
            :func:`read_verdicts`).
        base: label files the verdicts add to (see :func:`read_base_labels`), e.g. the
            labels the model was trained on, or the previous round's merge.

    Returns:
        The merged labels (base labels last) and the replacements made.

    Raises:
        TGDCError: if a file is given twice (its verdicts would be counted twice); see
            also :func:`read_verdicts` and :func:`read_base_labels`.
    """
    given: dict[Path, str | os.PathLike[str]] = {}
    for path in [*paths, *base]:
        if (resolved := Path(path).resolve()) in given:
            raise TGDCError(f"{path}: given twice (as {given[resolved]} too); give each file once")
        given[resolved] = path
    frames = []
    for order, path in enumerate(paths):
        verdicts = read_verdicts(path, runs)
        frames.append(verdicts.assign(_file=str(path), _order=order, _base=False))
    for path in base:
        frames.append(read_base_labels(path).assign(_file=str(path), _order=-1, _base=True))
    table = pd.concat(frames, ignore_index=True)
    times = _utc_times(table["reviewed_at"])
    # Newest first, base labels last: the first verdict met on a site is the one kept.
    table = table.assign(_time=times).sort_values(
        ["_base", "_time", "_order"], ascending=[True, False, False], kind="stable"
    )
    table = table.reset_index(drop=True)
    kept: list[int] = []
    replaced: list[Replacement] = []
    outlines = project_by_zone(table.geometry, zones(table.geometry))
    tree = shapely.STRtree(outlines)
    owner = np.full(len(table), -1)
    judged = int((~table["_base"]).sum())
    for row in range(len(table)):
        same = _same_site(outlines, tree, row, owner, judged)
        if same >= 0:
            replaced.append(
                Replacement(
                    kept=_describe(table.iloc[same]),
                    dropped=_describe(table.iloc[row]),
                    site=_site(table.iloc[same]),
                )
            )
            owner[row] = same
            continue
        owner[row] = row
        kept.append(row)
    labels = table.iloc[kept]
    ranks = pd.Categorical(labels["verdict"], categories=list(VERDICT_CLASSES), ordered=True)
    labels = (
        labels.assign(_verdict=ranks)
        .sort_values(["_base", "_verdict", "reviewed_at"], kind="stable")
        .drop(columns=["_verdict", "_file", "_order", "_time", "_base"])
    )
    # Numbers stay numbers where base labels leave them empty (else written as text).
    labels = labels.assign(
        detection_id=pd.to_numeric(labels["detection_id"], errors="coerce").astype("Int64"),
        score=pd.to_numeric(labels["score"], errors="coerce").astype("float64"),
    )
    merged = gpd.GeoDataFrame(labels, geometry="geometry", crs="EPSG:4326")
    files = tuple(Path(p) for p in [*paths, *base])
    return MergedLabels(merged.reset_index(drop=True), replaced, files)


def labelled_sites(detections: gpd.GeoDataFrame, labels: gpd.GeoDataFrame) -> pd.Series:
    """The class a label gives each detection's site, where one does.

    A detection is on a label's site when their outlines overlap with an intersection over
    union of :data:`SAME_SITE_IOU` or more, in metres (UTM), as :func:`merge_verdicts`
    tells sites apart; of several such labels, the one overlapping most.

    Args:
        detections: (n,) detections in EPSG:4326.
        labels: labels in EPSG:4326 (``class``), e.g. from :func:`read_base_labels`.

    Returns:
        (n,) the label's class for each detection (index of *detections*; ``no class``
        where the label has none), None where no label holds its site.
    """
    found = pd.Series([None] * len(detections), index=detections.index, dtype=object)
    if detections.empty or labels.empty:
        return found
    both = gpd.GeoSeries(
        [*detections.geometry.to_numpy(), *labels.geometry.to_numpy()], crs="EPSG:4326"
    )
    outlines = project_by_zone(both, zones(both))
    known, sites = outlines[len(detections) :], outlines[: len(detections)]
    tree = shapely.STRtree(known)
    classes = [str(name) if pd.notna(name) else "no class" for name in labels["class"]]
    for row, outline in enumerate(sites):
        near = tree.query(outline)
        if not len(near):
            continue
        union = shapely.area(shapely.union(known[near], outline))
        iou = shapely.area(shapely.intersection(known[near], outline)) / np.maximum(union, 1e-9)
        if iou.max() >= SAME_SITE_IOU:
            found.iloc[row] = classes[near[int(np.argmax(iou))]]
    return found


def _same_site(
    outlines: np.ndarray, tree: shapely.STRtree, row: int, owner: np.ndarray, judged: int
) -> int:
    """The earlier (newer) verdict already kept on the site of a verdict or label, if any.

    Two verdicts on one detection have one outline (IoU 1). Base labels (the rows from
    *judged* on) are compared with verdicts only, never with each other.

    Args:
        outlines: the outlines of every row (verdicts newest first, then base labels), in
            metres (UTM).
        tree: a spatial index of *outlines*.
        row: the row.
        owner: for each earlier row, the kept row of its site.
        judged: the number of verdict rows.

    Returns:
        The kept row, or -1.
    """
    for other in sorted(int(i) for i in tree.query(outlines[row]) if i < min(row, judged)):
        union = shapely.area(shapely.union(outlines[row], outlines[other]))
        overlap = shapely.area(shapely.intersection(outlines[row], outlines[other]))
        if union > 0 and overlap / union >= SAME_SITE_IOU:
            return int(owner[other])
    return -1


def _describe(verdict: pd.Series) -> str:
    """``FILE: verdict class (reviewed_at)`` of a verdict, ``FILE: label class`` of a label."""
    if verdict["_base"] and pd.isna(verdict["reviewed_at"]):
        return f"{verdict['_file']}: label {verdict['class']}"
    return f"{verdict['_file']}: {verdict['verdict']} {verdict['class']} ({verdict['reviewed_at']})"


def _site(verdict: pd.Series) -> str:
    """The site a verdict judges: ``run RUN #ID`` or ``run RUN drawn site NAME``."""
    if verdict["verdict"] == "missed":
        return f"run {verdict['run']} drawn site {verdict['name']}"
    return f"run {verdict['run']} #{int(verdict['detection_id'])}"
