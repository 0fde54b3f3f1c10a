"""Tests of the comparison with inventories: every matching rule, and the real label files."""

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from support.data import shared_data

from torchgeo_datacenters.detections.compare import Inventory, compare_inventories, read_inventory
from torchgeo_datacenters.detections.metric import project_by_zone, zones
from torchgeo_datacenters.errors import TGDCError

UTM = "EPSG:32617"
X, Y = 500000.0, 4400000.0


def lonlat(geometries: list[shapely.Geometry]) -> np.ndarray:
    """UTM geometries given in metres from (X, Y), in EPSG:4326."""
    moved = [shapely.transform(g, lambda c: c + np.array([X, Y])) for g in geometries]
    return gpd.GeoSeries(moved, crs=UTM).to_crs(4326).to_numpy()


def detections(boxes: list[tuple[float, ...]], scores: list[float]) -> gpd.GeoDataFrame:
    polygons = gpd.GeoSeries(lonlat([shapely.box(*b) for b in boxes]), crs=4326)
    return gpd.GeoDataFrame(
        {"id": range(1, len(boxes) + 1), "score": scores}, geometry=polygons, crs=4326
    )


def inventory(
    directory: Path, label: str, geometries: list[shapely.Geometry], **fields: list
) -> Inventory:
    """An inventory file of UTM geometries (metres from X, Y), read back."""
    path = directory / f"{label}.geojson"
    gpd.GeoDataFrame(fields, geometry=lonlat(geometries), crs=4326).to_file(path)
    return read_inventory(path)


# Detections: A overlaps a building polygon; B only touches one; C holds a point; D lies
# 30 m from a point; E lies 80 m from a point; F lies outside the scanned area.
A, B, C = (0, 0, 100, 100), (200, 0, 300, 100), (400, 0, 500, 100)
D, E, F = (600, 0, 700, 100), (800, 0, 900, 100), (5000, 0, 5100, 100)
FOOTPRINT = lonlat([shapely.box(-50, -50, 1000, 500)])[0]


@pytest.fixture
def case(tmp_path: Path) -> tuple[gpd.GeoDataFrame, Inventory]:
    found = detections([A, B, C, D, E, F], [0.9, 0.8, 0.7, 0.95, 0.6, 0.99])
    sites = inventory(
        tmp_path,
        "atlas",
        [
            shapely.box(50, 50, 150, 150),  # overlaps A
            shapely.box(300, 0, 350, 100),  # touches B only
            shapely.Point(450, 50),  # in C
            shapely.Point(650, 130),  # 30 m north of D
            shapely.Point(850, 180),  # 80 m north of E
            shapely.box(0, 300, 100, 400),  # in the area, not detected
            shapely.box(5000, 50, 5100, 150),  # overlaps F, outside the area
        ],
        id=["w1", "w2", "n3", "n4", "n5", "w6", "w7"],
        name=["Alpha", None, "Gamma", "", "Epsilon", "Zeta", "Eta"],
        operator=["OpA", "OpB", None, "OpD", None, None, None],
    )
    return found, sites


def test_every_matching_rule(case: tuple[gpd.GeoDataFrame, Inventory]) -> None:
    found, sites = case
    result = compare_inventories(found, [sites], FOOTPRINT)
    # A by overlap, C by containment, D within 50 m; B only touches, E is 80 m away.
    assert result.matched["inventory_ids"].tolist() == ["w1", "n3", "n4"]
    assert result.matched["inventory_names"].tolist() == ["Alpha", "Gamma", "OpD"]
    assert result.matched["inventory"].unique().tolist() == ["atlas"]
    # F lies outside the scanned area: neither a candidate nor counted.
    assert result.unmatched["id"].tolist() == [2, 5]  # by score: B 0.8, E 0.6
    assert result.unmatched["rank"].tolist() == [1, 2]
    assert sorted(result.missed["inventory_id"]) == ["n5", "w2", "w6"]
    (scores,) = result.scores.to_dict("records")
    assert scores == {
        "inventory": "atlas",
        "sites": 6,
        "detections": 5,
        "matched_sites": 3,
        "matched_detections": 3,
        "precision": 0.6,
        "recall": 0.5,
        "f1": pytest.approx(2 * 0.6 * 0.5 / 1.1),
    }
    # A wider point distance reaches E (80 m) too.
    wider = compare_inventories(found, [sites], FOOTPRINT, point_distance=100)
    assert wider.matched["inventory_ids"].tolist() == ["w1", "n3", "n4", "n5"]


def test_several_inventories_and_ids_by_row(
    case: tuple[gpd.GeoDataFrame, Inventory], tmp_path: Path
) -> None:
    found, atlas = case
    # No id field: sites are numbered by row; a campus over A and B matches both.
    campus = inventory(tmp_path, "campus", [shapely.box(50, 20, 250, 80)], name=["Campus"])
    result = compare_inventories(found, [atlas, campus], FOOTPRINT)
    rows = result.matched[result.matched["inventory"] == "campus"]
    assert rows["id"].tolist() == [1, 2] and rows["inventory_ids"].tolist() == ["1", "1"]
    assert result.unmatched["id"].tolist() == [5]
    assert result.scores["matched_detections"].tolist() == [3, 2]
    with pytest.raises(TGDCError, match="repeat; give each inventory once"):
        compare_inventories(found, [atlas, atlas], FOOTPRINT)


def test_an_inventory_with_no_site_in_the_area_is_warned_about(
    case: tuple[gpd.GeoDataFrame, Inventory], tmp_path: Path
) -> None:
    found, atlas = case
    # Its sites given lat/lon as lon/lat: none lies in the area scanned.
    swapped = atlas.sites.set_geometry(
        shapely.transform(atlas.sites.geometry, lambda c: c[:, ::-1])
    )
    path = tmp_path / "swapped.geojson"
    swapped.to_file(path)
    with pytest.warns(UserWarning, match=r"swapped: none of its 7 site\(s\) lies in the area"):
        result = compare_inventories(found, [read_inventory(path)], FOOTPRINT)
    assert result.scores["sites"].tolist() == [0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare_inventories(found, [atlas], FOOTPRINT)


def seed_area(seed: gpd.GeoDataFrame, metres: float) -> shapely.Geometry:
    """The area within *metres* of any seed polygon, as if those places were scanned."""
    epsg = zones(seed.geometry)
    grown = [
        gpd.GeoSeries(
            project_by_zone(seed.geometry[epsg == code], np.full((epsg == code).sum(), code)),
            crs=int(code),
        )
        .buffer(metres)
        .to_crs(4326)
        for code in np.unique(epsg)
    ]
    return shapely.union_all([g.union_all() for g in grown])


def test_seed_data_centers_against_im3_and_osm() -> None:
    paths = [
        shared_data("labels", name)
        for name in (
            "seed_datacenters.geojson",
            "im3_datacenter_footprints.geojson",
            "osm_us_datacenter_points.geojson",
        )
    ]
    seed = gpd.read_file(paths[0])
    found = seed[seed["label"]].reset_index(drop=True)
    im3, osm = read_inventory(paths[1], "im3"), read_inventory(paths[2], "osm")
    result = compare_inventories(found, [im3, osm], seed_area(seed, 1000))
    scores = result.scores.set_index("inventory")
    # 73 of the 79 seed data centers overlap an IM3 polygon or lie within 50 m of an IM3
    # point; 68 are near an OpenStreetMap point; 5 are in neither.
    assert scores.loc["im3", ["detections", "matched_detections"]].tolist() == [79, 73]
    assert scores.loc["osm", ["detections", "matched_detections"]].tolist() == [79, 68]
    assert len(result.unmatched) == 5
    # IM3 sites within 1 km of a seed polygon: 171, 83 of them matched; OSM: 204 and 86.
    assert scores.loc["im3", ["sites", "matched_sites"]].tolist() == [171, 83]
    assert scores.loc["osm", ["sites", "matched_sites"]].tolist() == [204, 86]
    assert len(result.missed) == (171 - 83) + (204 - 86)
    vantage = result.matched[result.matched["inventory_names"] == "Vantage VA11"]
    assert vantage["inventory_ids"].tolist() == ["722; 919"]


def test_ids_with_gaps_and_fields_in_capitals_as_other_systems_write_them(
    case: tuple[gpd.GeoDataFrame, Inventory], tmp_path: Path
) -> None:
    # A Shapefile-style inventory: NAME and ID in capitals, one site without an id (an
    # OpenStreetMap export's node with none): the gap takes the row number, the names
    # their field in any case; nothing fails on the missing value.
    found, _ = case
    sites = [shapely.box(0, 0, 100, 100), shapely.box(200, 0, 300, 100)]
    capitals = inventory(tmp_path, "caps", sites, ID=["w7", None], NAME=["North", "South"])
    assert capitals.sites[["inventory_id", "inventory_name"]].values.tolist() == [
        ["w7", "North"],
        ["2", "South"],
    ]
    result = compare_inventories(found, [capitals], FOOTPRINT)
    assert result.matched["inventory_ids"].tolist() == ["w7", "2"]
    assert result.matched["inventory_names"].tolist() == ["North", "South"]
