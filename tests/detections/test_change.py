"""Tests of change between vintages: synthetic sites that appear, grow, vanish or stay."""

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine
from rasterio.features import rasterize, shapes

from torchgeo_datacenters.detections.change import (
    Vintage,
    read_vintage,
    summarize,
    track_changes,
)
from torchgeo_datacenters.errors import TGDCError

UTM = "EPSG:32617"
X, Y = 500000.0, 4400000.0
DATES = {2014: "2014-06-01", 2018: "2018-07-16", 2020: "2020-08-31", 2022: "2022-07-01"}


def vintage(boxes: list[tuple[float, float, float, float]], year: int, score=0.9) -> Vintage:
    """Detections of UTM boxes (x0, y0, x1, y1 in metres from X, Y), as the predictor
    writes them: EPSG:4326 polygons with their area in m² and acquisition date."""
    polygons = gpd.GeoSeries([shapely.box(X + a, Y + b, X + c, Y + d) for a, b, c, d in boxes])
    return vintage_of(polygons.set_crs(UTM), year, score)


def vintage_of(polygons: gpd.GeoSeries, year: int, score: float = 0.9) -> Vintage:
    table = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(polygons) + 1),
            "area_m2": polygons.area.to_numpy(),
            "score": score,
            "acquired": DATES[year],
        },
        geometry=polygons.to_crs("EPSG:4326").to_numpy(),
        crs="EPSG:4326",
    )
    return Vintage(table, name=f"v{year}")


# One data center appears in 2020, one doubles from 2018 to 2020, one is demolished after
# 2020, one is unchanged, and one weak detection is seen in 2022 only.
APPEARS = (0, 0, 150, 100)
GROWS, GROWN = (400, 0, 500, 100), (400, 0, 600, 100)
DEMOLISHED = (0, 400, 120, 500)
UNCHANGED = (400, 400, 520, 480)
WEAK = (800, 800, 840, 840)


def three_years() -> list[Vintage]:
    weak = vintage([WEAK], 2022, score=0.55)
    v2022 = vintage([APPEARS, GROWN, UNCHANGED], 2022)
    v2022 = Vintage(
        gpd.GeoDataFrame(
            gpd.pd.concat([v2022.detections, weak.detections], ignore_index=True), crs=4326
        ),
        name="v2022",
    )
    # Given out of order: the dates decide.
    return [
        v2022,
        vintage([GROWS, DEMOLISHED, UNCHANGED], 2018),
        vintage([APPEARS, GROWN, DEMOLISHED, UNCHANGED], 2020),
    ]


def site_at(sites: gpd.GeoDataFrame, box: tuple[float, float, float, float]) -> gpd.GeoSeries:
    box = shapely.box(X + box[0], Y + box[1], X + box[2], Y + box[3])
    point = gpd.GeoSeries([box.centroid], crs=UTM).to_crs(4326).iloc[0]
    (index,) = np.flatnonzero(sites.intersects(point))
    return sites.iloc[index]


def test_appears_doubles_is_demolished_and_stays() -> None:
    sites = track_changes(three_years())
    assert len(sites) == 5
    assert sites["site"].tolist() == [1, 2, 3, 4, 5]
    assert sites.crs == "EPSG:4326"
    new = site_at(sites, APPEARS)
    assert (new.status, new.first_seen, new.last_seen) == ("new", "2020-08-31", "2022-07-01")
    assert new.area_m2_2018 == 0 and new.area_m2_2020 == pytest.approx(15_000, rel=1e-3)
    assert new.growth_m2 == pytest.approx(15_000, rel=1e-3) and np.isnan(new.growth)
    grown = site_at(sites, GROWN)
    assert grown.status == "expanded" and grown.first_seen == "2018-07-16"
    assert grown.area_m2_2018 == pytest.approx(10_000, rel=1e-3)
    assert grown.area_m2_2022 == pytest.approx(20_000, rel=1e-3)
    assert grown.growth == pytest.approx(1.0, rel=1e-3)
    # The polygon is the latest vintage's: the doubled building.
    assert gpd.GeoSeries([grown.geometry], crs=4326).to_crs(UTM).area.iloc[0] == pytest.approx(
        20_000, rel=1e-6
    )
    gone = site_at(sites, DEMOLISHED)
    assert (gone.status, gone.last_seen, gone.area_m2_2022) == ("gone", "2020-08-31", 0)
    assert gone.area_m2 == pytest.approx(12_000, rel=1e-3)
    same = site_at(sites, UNCHANGED)
    assert (same.status, same.years_seen, same.growth_m2) == ("unchanged", 3, 0)
    weak = site_at(sites, WEAK)
    assert (weak.status, weak.score) == ("uncertain", 0.55)
    assert summarize(sites) == (
        "5 site(s) over 2018, 2020, 2022: 1 new, 1 expanded, 1 unchanged, 0 shrunk, 1 gone,"
        " 1 uncertain"
    )
    # A strong single-vintage site is new, not uncertain.
    assert site_at(track_changes(three_years(), min_score=0.5), WEAK).status == "new"


def test_a_split_and_merged_building_stays_one_site() -> None:
    # One hall in 2018, two halves with a gap in 2020 (both overlap the hall), then a hall
    # that shrank by 30% in 2022.
    sites = track_changes(
        [
            vintage([(0, 0, 200, 100)], 2018),
            vintage([(0, 0, 95, 100), (105, 0, 200, 100)], 2020),
            vintage([(0, 0, 140, 100)], 2022),
        ]
    )
    (site,) = sites.itertuples()
    assert site.status == "shrunk"
    assert site.area_m2_2020 == pytest.approx(19_000, rel=1e-3)
    assert site.growth == pytest.approx(-0.3, rel=1e-3)


def test_touching_is_not_overlap() -> None:
    sites = track_changes([vintage([(0, 0, 100, 100)], 2018), vintage([(100, 0, 200, 100)], 2020)])
    assert sorted(sites["status"]) == ["gone", "new"]


def traced_area(polygon: shapely.Polygon, pixel: float) -> gpd.GeoSeries:
    """The polygon as a predictor traces it from a raster of *pixel* metre cells, every
    pixel the roof reaches counted (mixed pixels along the outline look like roof)."""
    left, bottom, right, top = polygon.bounds
    transform = Affine(pixel, 0, left - 3 * pixel, 0, -pixel, top + 3 * pixel)
    shape = (int((top - bottom) / pixel) + 6, int((right - left) / pixel) + 6)
    mask = rasterize([polygon], out_shape=shape, transform=transform, all_touched=True)
    (traced,) = [shapely.geometry.shape(g) for g, v in shapes(mask, transform=transform) if v]
    return gpd.GeoSeries([traced], crs=UTM)


def test_a_resolution_change_is_not_growth() -> None:
    # A rotated hall of 18,000 m², seen at NAIP's 1 m (2014) and 0.6 m (2020).
    hall = shapely.affinity.rotate(shapely.box(X, Y, X + 180, Y + 100), 23, origin="centroid")
    coarse, fine = traced_area(hall, 1.0), traced_area(hall, 0.6)
    # The coarser raster's outline band is wider: 0.8% more area.
    assert coarse.area.iloc[0] / fine.area.iloc[0] == pytest.approx(1.0082, abs=1e-4)
    vintages = [vintage_of(coarse, 2014), vintage_of(fine, 2020)]
    (site,) = track_changes(vintages, min_growth=0).itertuples()
    assert site.status == "unchanged"
    # Without the pixel band, the same difference would read as a change.
    (site,) = track_changes(vintages, min_growth=0, pixel_size=0).itertuples()
    assert site.status in ("expanded", "shrunk")


def test_dates_from_the_file_name_argument(tmp_path: Path) -> None:
    table = vintage([UNCHANGED], 2018).detections.drop(columns="acquired")
    table.to_file(tmp_path / "a.geojson")
    with pytest.raises(TGDCError, match=r"a.geojson: 1 detection\(s\) have no acquisition date"):
        track_changes([read_vintage(tmp_path / "a.geojson"), vintage([UNCHANGED], 2020)])
    dated = read_vintage(f"{tmp_path / 'a.geojson'}@2016-05-04")
    assert dated.date == dt.date(2016, 5, 4)
    (site,) = track_changes([dated, vintage([UNCHANGED], 2020)]).itertuples()
    assert (site.first_seen, site.status) == ("2016-05-04", "unchanged")
    with pytest.raises(TGDCError, match=r"'2016-13-04' is not a date"):
        read_vintage(f"{tmp_path / 'a.geojson'}@2016-13-04")


def test_an_empty_vintage_with_a_date_means_everything_is_gone() -> None:
    empty = vintage([], 2022)
    sites = track_changes(
        [vintage([UNCHANGED], 2020), Vintage(empty.detections, dt.date(2022, 7, 1))]
    )
    assert sites["status"].tolist() == ["gone"]
    assert "area_m2_2022" in sites


def test_one_year_is_refused() -> None:
    with pytest.raises(TGDCError, match=r"give detections of two or more NAIP years"):
        track_changes([vintage([UNCHANGED], 2020), vintage([APPEARS], 2020)])
