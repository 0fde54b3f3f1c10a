"""Compare detections with public inventories of data centers over the area scanned.

Which detected sites are known to OpenStreetMap or the PNNL IM3 atlas, which are not
(candidate new sites), and which known sites were not detected? :func:`compare_inventories`
answers for any number of inventories at once, over the area actually scanned (its valid
footprint, :func:`read_footprint`), never over an inventory's own extent:

* **Area.** Detections that intersect the footprint, and inventory sites that intersect it
  (polygons) or lie in it (points), are compared; everything else is left out.
* **Matching.** A polygon site matches the detections it overlaps (a positive shared
  area); a point site matches the detections it falls in or lies within
  ``point_distance`` metres of (measured in the point's UTM zone, :mod:`.metric`).
  Inventories may mix both kinds (IM3 holds building and campus polygons and points).
* **Scores**, per inventory: precision = detections matching one of its sites / detections
  in the area; recall = its sites matched by a detection / its sites in the area; F1 their
  harmonic mean. These are object counts: one large detection that covers three building
  polygons of a campus matches all three.

Inventory sites are named by the first of :data:`ID_FIELDS` the file has (else, and where
it is empty, their 1-based row number) and the first of :data:`NAME_FIELDS` filled in;
fields match in any case (KML's ``Name``, a Shapefile's ``NAME``).
"""

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import TGDCError
from ..vectors import vector_source
from .files import read_vector
from .metric import centroids, measure, project_by_zone, utm_epsg, zones

#: Default distance, in metres, within which a point site matches a detection.
DEFAULT_POINT_DISTANCE = 50.0

#: Candidate new sites listed in the summary.
CANDIDATES_SHOWN = 5

#: Fields naming a site's id in an inventory, by preference.
ID_FIELDS = ("id", "osm_id", "@id", "fid", "uid")

#: Fields naming a site in an inventory, by preference.
NAME_FIELDS = ("name", "operator")

#: Status of each site of a comparison (:func:`site_statuses`): a detection matched by an
#: inventory, a detection in none (candidate new site), an inventory site not detected.
STATUSES = ("matched", "candidate", "missed")


@dataclass(frozen=True)
class Inventory:
    """A public inventory of data-center sites.

    Attributes:
        name: its short name (by default the file's stem), used in outputs.
        sites: its sites in EPSG:4326 with ``inventory_id`` and ``inventory_name``.
    """

    name: str
    sites: gpd.GeoDataFrame


def read_inventory(path: str | os.PathLike[str], name: str | None = None) -> Inventory:
    """Read an inventory of polygons and/or points.

    Args:
        path: ``FILE`` or ``FILE:LAYER`` of any vector file.
        name: its short name (default: the layer named, else the file's stem).

    Returns:
        The inventory.

    Raises:
        TGDCError: if the file is missing, unreadable, has no CRS, or holds geometries
            other than polygons and points.
    """
    source = vector_source(path)
    sites = read_vector(source, "inventory")
    kinds = set(sites.geom_type) - {"Polygon", "MultiPolygon", "Point", "MultiPoint"}
    if kinds:
        raise TGDCError(f"{source}: holds {sorted(kinds)}; an inventory has polygons or points")
    fields = {str(column).lower(): column for column in reversed(sites.columns)}
    ids = pd.Series([str(n) for n in range(1, len(sites) + 1)], index=sites.index, dtype=object)
    id_field = next((fields[field] for field in ID_FIELDS if field in fields), None)
    if id_field is not None:
        ids = _filled(sites[id_field], ids)
    names = pd.Series([""] * len(sites), index=sites.index, dtype=object)
    for field in reversed([fields[field] for field in NAME_FIELDS if field in fields]):
        names = _filled(sites[field], names)
    sites = sites.assign(inventory_id=ids.to_numpy(), inventory_name=names.to_numpy())
    return Inventory(name or source.layer or source.path.stem, sites)


def _filled(values: pd.Series, fallback: pd.Series) -> pd.Series:
    """The values as text, *fallback* where they are missing or empty."""
    texts = pd.Series(
        ["" if pd.isna(value) else str(value) for value in values], index=values.index, dtype=object
    )
    return texts.where(texts != "", fallback)


@dataclass
class Comparison:
    """Detections compared with inventories over the scanned area."""

    #: Detections matched, one row per detection and inventory matching it, with
    #: ``inventory``, ``inventory_ids`` and ``inventory_names`` (each joined by "; ").
    matched: gpd.GeoDataFrame
    #: Detections in no inventory (candidate new sites), best first: ``rank`` 1..n by
    #: score, then area.
    unmatched: gpd.GeoDataFrame
    #: Inventory sites in the area that no detection matches: ``inventory``,
    #: ``inventory_id``, ``inventory_name``.
    missed: gpd.GeoDataFrame
    #: One row per inventory: ``inventory``, ``sites`` (in the area), ``detections`` (in
    #: the area), ``matched_sites``, ``matched_detections``, ``precision``, ``recall``,
    #: ``f1``.
    scores: pd.DataFrame

    def summary(self) -> str:
        """A one-screen summary: the scores per inventory and the best candidates.

        Returns:
            Lines of text.
        """
        lines = [
            f"{'inventory':<28} {'sites':>6} {'found':>6} {'detections':>10} {'known':>6}"
            f" {'precision':>9} {'recall':>6} {'F1':>6}"
        ]
        for row in self.scores.itertuples():
            lines.append(
                f"{str(row.inventory)[:28]:<28} {row.sites:>6} {row.matched_sites:>6}"
                f" {row.detections:>10} {row.matched_detections:>6} {row.precision:>9.3f}"
                f" {row.recall:>6.3f} {row.f1:>6.3f}"
            )
        lines.append(
            "(sites: in the area; found: of them, matched by a detection; known: detections"
            " matching a site)"
        )
        lines.append(f"{len(self.unmatched)} detection(s) in no inventory (candidate new sites)")
        for row in self.unmatched.head(CANDIDATES_SHOWN).itertuples():
            score = "no score" if np.isnan(row.score) else f"score {row.score:.3f}"
            lines.append(
                f"  #{row.rank}: {row.centroid_lat:.5f}, {row.centroid_lon:.5f}"
                f"  {row.area_m2:,.0f} m²  {score}"
            )
        lines.append(f"{len(self.missed)} inventory site(s) in the area not detected")
        return "\n".join(lines)


def _overlap_pairs(detections: np.ndarray, polygons: np.ndarray) -> tuple[np.ndarray, ...]:
    """Pairs of a detection and a polygon that share a positive area.

    Args:
        detections: detection polygons (EPSG:4326).
        polygons: site polygons (EPSG:4326).

    Returns:
        Indices into *detections* and into *polygons*.
    """
    sites, found = shapely.STRtree(detections).query(polygons, predicate="intersects")
    shared = shapely.area(shapely.intersection(detections[found], polygons[sites])) > 0
    return found[shared], sites[shared]


def _point_pairs(
    detections: gpd.GeoSeries, points: gpd.GeoSeries, distance: float
) -> tuple[np.ndarray, ...]:
    """Pairs of a detection and a point within *distance* metres (or inside it).

    Args:
        detections: detection polygons (EPSG:4326).
        points: site points (EPSG:4326).
        distance: metres, measured in the UTM zone of each point.

    Returns:
        Indices into *detections* and into *points*.
    """
    points = points.reset_index(drop=True)
    epsg = utm_epsg(points.x.to_numpy(), points.y.to_numpy())
    found, sites = [], []
    for code in np.unique(epsg):
        rows = np.flatnonzero(epsg == code)
        projected = project_by_zone(detections, np.full(len(detections), code))
        near_points, near = shapely.STRtree(projected).query(
            points.iloc[rows].to_crs(int(code)).to_numpy(), predicate="dwithin", distance=distance
        )
        found.append(near)
        sites.append(rows[near_points])
    return np.concatenate(found), np.concatenate(sites)


def _joined(values: pd.Series) -> str:
    """Distinct non-empty texts joined by "; "."""
    return "; ".join(dict.fromkeys(value for value in values.astype(str) if value))


def compare_inventories(
    detections: gpd.GeoDataFrame,
    inventories: Sequence[Inventory],
    footprint: BaseGeometry,
    *,
    point_distance: float = DEFAULT_POINT_DISTANCE,
) -> Comparison:
    """Compare detections with inventories over the scanned area (see the module).

    Args:
        detections: detections in EPSG:4326 (``score`` and ``area_m2`` optional).
        inventories: the inventories.
        footprint: the area scanned, in EPSG:4326 (see
            :func:`~torchgeo_datacenters.detections.footprint.read_footprint`).
        point_distance: metres within which a point site matches a detection.

    Returns:
        The matched and unmatched detections, the missed sites and the scores.

    Raises:
        TGDCError: if no inventory is given, two share a name, *point_distance* is
            negative, or the detections are not in EPSG:4326.
    """
    if not inventories:
        raise TGDCError("inventories: give at least one inventory file")
    names = [inventory.name for inventory in inventories]
    if len(set(names)) != len(names):
        raise TGDCError(f"inventories: names {names} repeat; give each inventory once")
    if not point_distance >= 0:
        raise TGDCError(f"point_distance: {point_distance} must be 0 or more metres")
    if detections.crs is None or not detections.crs.equals("EPSG:4326"):
        raise TGDCError(f"detections: CRS is {detections.crs}, not EPSG:4326; reproject first")
    detections = detections[detections.intersects(footprint)].reset_index(drop=True)
    if "area_m2" not in detections:
        detections["area_m2"] = measure(detections.geometry)[0]
    if "score" not in detections:
        detections["score"] = np.nan
    if not {"centroid_lon", "centroid_lat"} <= set(detections):
        lonlat = centroids(detections.geometry)
        detections["centroid_lon"], detections["centroid_lat"] = lonlat[:, 0], lonlat[:, 1]
    geometries = detections.geometry.to_numpy()
    matched_any = np.zeros(len(detections), bool)
    matched, missed, scores = [], [], []
    for inventory in inventories:
        sites = inventory.sites[inventory.sites.intersects(footprint)].reset_index(drop=True)
        if sites.empty and not inventory.sites.empty:
            warnings.warn(
                f"{inventory.name}: none of its {len(inventory.sites)} site(s) lies in the area"
                " scanned, so it scores nothing; check that it covers this place (longitude"
                " and latitude swapped, or a wrong CRS, puts it elsewhere)",
                stacklevel=2,
            )
        points = sites.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
        polygon_rows = np.flatnonzero(~points)
        found, site = _overlap_pairs(geometries, sites.geometry.to_numpy()[polygon_rows])
        pairs = [(found, polygon_rows[site])]
        if points.any() and len(detections):
            point_rows = np.flatnonzero(points)
            # A MultiPoint site is placed at its centroid.
            points = shapely.centroid(sites.geometry.to_numpy()[point_rows])
            found, site = _point_pairs(
                detections.geometry, gpd.GeoSeries(points, crs="EPSG:4326"), point_distance
            )
            pairs.append((found, point_rows[site]))
        found = np.concatenate([pair[0] for pair in pairs])
        site = np.concatenate([pair[1] for pair in pairs])
        matched_any[found] = True
        hits = pd.DataFrame({"detection": found, "site": site}).sort_values(["detection", "site"])
        labels = sites[["inventory_id", "inventory_name"]].iloc[hits["site"]]
        grouped = labels.set_axis(hits["detection"].to_numpy()).groupby(level=0)
        rows = detections.loc[grouped.groups.keys()].copy() if len(hits) else detections.iloc[:0]
        rows.insert(0, "inventory", inventory.name)
        rows["inventory_ids"] = grouped["inventory_id"].agg(_joined)
        rows["inventory_names"] = grouped["inventory_name"].agg(_joined)
        matched.append(rows)
        unfound = sites.drop(index=np.unique(site))
        missed.append(
            gpd.GeoDataFrame(
                {
                    "inventory": inventory.name,
                    "inventory_id": unfound["inventory_id"],
                    "inventory_name": unfound["inventory_name"],
                },
                geometry=unfound.geometry,
                crs="EPSG:4326",
            )
        )
        found_detections, found_sites = len(np.unique(found)), len(np.unique(site))
        precision = found_detections / len(detections) if len(detections) else 0.0
        recall = found_sites / len(sites) if len(sites) else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores.append(
            {
                "inventory": inventory.name,
                "sites": len(sites),
                "detections": len(detections),
                "matched_sites": found_sites,
                "matched_detections": found_detections,
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    unmatched = detections[~matched_any].sort_values(
        ["score", "area_m2"], ascending=False, kind="stable", na_position="last"
    )
    unmatched.insert(0, "rank", np.arange(1, len(unmatched) + 1))
    return Comparison(
        matched=gpd.GeoDataFrame(pd.concat(matched, ignore_index=True), crs="EPSG:4326"),
        unmatched=unmatched.reset_index(drop=True),
        missed=gpd.GeoDataFrame(pd.concat(missed, ignore_index=True), crs="EPSG:4326"),
        scores=pd.DataFrame(scores),
    )


def site_statuses(
    comparison: Comparison, *, point_distance: float = DEFAULT_POINT_DISTANCE
) -> gpd.GeoDataFrame:
    """Every site of a comparison once, with its status (for the map report).

    Args:
        comparison: the result of :func:`compare_inventories`.
        point_distance: the matching distance used, in metres: a missed point site is
            drawn as a disc of this radius (where a detection would have matched it).

    Returns:
        In EPSG:4326: the detections matched by any inventory (``status`` ``matched``,
        once each), the candidates (``candidate``, best first) and the missed inventory
        sites (``missed``; ``area_m2`` empty for point sites), with ``inventory``,
        ``inventory_name``, ``area_m2``, ``score`` and ``detection_id`` (the detections'
        ``id``) where known.
    """
    matched = comparison.matched
    matched = matched[~matched.geometry.to_wkb().duplicated()].drop(
        columns=["inventory_ids", "inventory_names"]
    )
    missed = comparison.missed.copy()
    points = missed.geom_type.isin(["Point", "MultiPoint"]).to_numpy()
    missed["area_m2"] = np.where(points, np.nan, measure(missed.geometry)[0] if len(missed) else 0)
    if points.any():
        sites = missed.geometry[points]
        epsg = zones(sites)
        discs = shapely.buffer(project_by_zone(sites, epsg), max(point_distance, 1.0))
        back = np.empty(len(sites), dtype=object)
        for code in np.unique(epsg):
            rows = np.flatnonzero(epsg == code)
            back[rows] = gpd.GeoSeries(discs[rows], crs=int(code)).to_crs(4326).to_numpy()
        missed.loc[points, "geometry"] = back
    tables = [
        table.assign(status=status)
        for table, status in zip((matched, comparison.unmatched, missed), STATUSES, strict=True)
    ]
    sites = pd.concat(tables, ignore_index=True).rename(columns={"id": "detection_id"})
    return gpd.GeoDataFrame(sites, crs="EPSG:4326")
