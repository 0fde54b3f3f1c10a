import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from rasterio.transform import from_origin
from support.data import shared_data, write_raster

from torchgeo_datacenters.datasets import DataCenterLabels, NAIPChips
from torchgeo_datacenters.errors import TGDCError

UTM = "EPSG:32618"
ORIGIN = (300000.0, 4320000.0)  # northern Virginia, UTM zone 18N
GSD = 0.6


def _write_labels(path: Path, features: list[dict], crs: str = "OGC:CRS84") -> Path:
    frame = gpd.GeoDataFrame(
        [{k: v for k, v in f.items() if k != "geometry"} for f in features],
        geometry=[f["geometry"] for f in features],
        crs=crs,
    )
    frame.to_file(path)
    return path


def _to_lonlat(polygon: shapely.Polygon) -> shapely.Polygon:
    to_ll = Transformer.from_crs(UTM, "OGC:CRS84", always_xy=True)
    return shapely.transform(polygon, lambda xy: np.column_stack(to_ll.transform(*xy.T)))


@pytest.fixture
def scene(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (4, 300, 400), dtype=np.uint8)
    return write_raster(tmp_path / "scene.tif", image, UTM, from_origin(*ORIGIN, GSD, GSD))


def _quad(cx: float, cy: float, r: float, angle: float) -> shapely.Polygon:
    a = np.deg2rad(angle + np.array([0, 95, 180, 270]))
    return shapely.Polygon(np.column_stack([cx + r * np.cos(a), cy + r * np.sin(a)]))


def test_mask_is_one_exactly_on_pixel_centres_inside_polygons(tmp_path: Path, scene: Path) -> None:
    x0, y0 = ORIGIN
    dc = _quad(x0 + 90, y0 - 70, 40, 17)
    neg = _quad(x0 + 170, y0 - 110, 30, 33)
    labels_path = _write_labels(
        tmp_path / "labels.geojson",
        [
            {
                "fid": 1,
                "class": "datacenter",
                "name": "a",
                "label": True,
                "geometry": _to_lonlat(dc),
            },
            {
                "fid": 2,
                "class": "warehouse",
                "name": "b",
                "label": False,
                "geometry": _to_lonlat(neg),
            },
        ],
    )
    images = NAIPChips(scene)
    labels = DataCenterLabels(labels_path, buffer_m=2.5)
    assert labels.crs.is_geographic
    dataset = images & labels
    assert labels.crs == images.crs
    query = (
        slice(x0 + 6.0, x0 + 6.0 + 256 * GSD, GSD),
        slice(y0 - 200.0, y0 - 200 + 256 * GSD, GSD),
    )
    sample = dataset[query]
    assert sample["image"].shape == (4, 256, 256)
    assert sample["mask"].shape == (256, 256)
    # Expected: pixel centres inside the buffered data-center polygon (warehouse: background).
    buffered_utm = gpd.GeoSeries([_to_lonlat(dc)], crs="OGC:CRS84").to_crs(UTM).buffer(2.5).iloc[0]
    cols, rows = np.meshgrid(np.arange(256), np.arange(256))
    xs = x0 + 6.0 + (cols + 0.5) * GSD
    ys = y0 - 200 + 256 * GSD - (rows + 0.5) * GSD
    expected = shapely.contains_xy(buffered_utm, xs, ys)
    assert expected.sum() > 1000
    np.testing.assert_array_equal(sample["mask"].numpy(), expected.astype(np.int64))


def test_multiclass_gives_each_negative_class_its_index(tmp_path: Path, scene: Path) -> None:
    x0, y0 = ORIGIN
    features = [
        {
            "fid": i,
            "class": c,
            "name": c,
            "label": c == "datacenter",
            "geometry": _to_lonlat(_quad(x0 + 40 + 55 * i, y0 - 60, 20, 10)),
        }
        for i, c in enumerate(["datacenter", "warehouse", "retail", "other"])
    ]
    labels = DataCenterLabels(_write_labels(tmp_path / "l.gpkg", features), multiclass=True)
    assert labels.class_names == ["background", "datacenter", "warehouse", "retail", "other"]
    labels.crs = NAIPChips(scene).crs
    mask = labels.rasterize(from_origin(*ORIGIN, GSD, GSD), (300, 400))
    assert set(np.unique(mask)) == {0, 1, 2, 3, 4}
    for i in range(4):
        cx = round((40 + 55 * i) / GSD)
        assert mask[round(60 / GSD), cx] == i + 1


def test_seed_labels_by_label_field() -> None:
    labels = DataCenterLabels(
        shared_data("labels", "seed_datacenters.geojson"), use_label_field=True
    )
    assert (labels.features["value"] == 1).sum() == 79
    assert len(labels.features) == 190


def test_seed_labels_by_class_with_class_map() -> None:
    labels = DataCenterLabels(
        shared_data("labels", "seed_datacenters.geojson"), class_map={"datacemter": "datacenter"}
    )
    assert (labels.features["value"] == 1).sum() == 79


def test_seed_labels_by_class_without_map_names_the_misspelling() -> None:
    with pytest.raises(TGDCError, match="datacemter"):
        DataCenterLabels(shared_data("labels", "seed_datacenters.geojson"))


def test_buffer_is_in_metres_whatever_the_crs(tmp_path: Path) -> None:
    square = shapely.box(-77.49, 39.0, -77.488, 39.0015)
    feature = {"fid": 1, "class": "datacenter", "name": "x", "label": True, "geometry": square}
    plain = DataCenterLabels(_write_labels(tmp_path / "a.geojson", [feature]))
    buffered = DataCenterLabels(_write_labels(tmp_path / "b.geojson", [feature]), buffer_m=7.5)
    utm = plain.features.estimate_utm_crs()
    a = plain.features.to_crs(utm).geometry.iloc[0]
    b = buffered.features.to_crs(utm).geometry.iloc[0]
    # A 7.5 m buffer adds perimeter * 7.5 plus the rounded corners (pi * 7.5^2).
    expected = a.area + a.length * 7.5 + np.pi * 7.5**2
    assert b.area == pytest.approx(expected, rel=0.01)


def test_invalid_geometry_is_repaired_with_a_warning(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(-77.49, 39.0), (-77.48, 39.01), (-77.48, 39.0), (-77.49, 39.01)])
    feature = {"fid": 7, "class": "datacenter", "name": "bowtie", "label": True, "geometry": bowtie}
    with pytest.warns(UserWarning, match="fid=7"):
        labels = DataCenterLabels(_write_labels(tmp_path / "a.geojson", [feature]))
    assert labels.features.geometry.is_valid.all()
    assert labels.features.geometry.iloc[0].area == pytest.approx(shapely.make_valid(bowtie).area)


def _raw_geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _feature(geometry: dict | None, **props: object) -> dict:
    base = {"fid": 1, "class": "datacenter", "name": "x", "label": True}
    return {"type": "Feature", "properties": {**base, **props}, "geometry": geometry}


SQUARE = {
    "type": "Polygon",
    "coordinates": [[[-77.49, 39.0], [-77.48, 39.0], [-77.48, 39.01], [-77.49, 39.0]]],
}


@pytest.mark.parametrize(
    ("features", "kwargs", "message"),
    [
        ([], {}, "no features"),
        ([_feature(None)], {}, "missing or empty geometry"),
        ([_feature({"type": "Point", "coordinates": [-77.4, 39.0]})], {}, "Point"),
        (
            [_feature(SQUARE, **{"class": "warehouse", "label": False})],
            {},
            "no data-center polygons",
        ),
        ([_feature(SQUARE, **{"class": "hospital"})], {}, "hospital"),
        ([_feature(SQUARE)], {"class_field": "kind"}, "has no 'kind' field"),
        (
            [_feature(SQUARE)],
            {"use_label_field": True, "label_field": "is_dc"},
            "has no 'is_dc' field",
        ),
        ([_feature(SQUARE, label="maybe")], {"use_label_field": True}, "non-boolean"),
    ],
)
def test_bad_label_files_are_clear_errors(
    tmp_path: Path, features: list[dict], kwargs: dict, message: str
) -> None:
    path = _raw_geojson(tmp_path / "bad.geojson", features)
    with pytest.raises(TGDCError, match=message) as info:
        DataCenterLabels(path, **kwargs)
    assert str(path) in str(info.value)


def test_missing_file_and_missing_crs(tmp_path: Path) -> None:
    with pytest.raises(TGDCError, match="does not exist"):
        DataCenterLabels(tmp_path / "nope.geojson")
    frame = gpd.GeoDataFrame(
        {"fid": [1], "class": ["datacenter"], "name": ["x"], "label": [True]},
        geometry=[shapely.box(0, 0, 10, 10)],
    )
    frame.to_file(tmp_path / "nocrs.shp")
    with pytest.raises(TGDCError, match="has no CRS"):
        DataCenterLabels(tmp_path / "nocrs.shp")


def test_mixed_points_and_polygons_train_on_the_polygons(tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [-77.4, 39.0]}
    path = _raw_geojson(
        tmp_path / "mixed.geojson",
        [_feature(SQUARE), _feature(point, fid=2), _feature(point, fid=3)],
    )
    with pytest.warns(UserWarning, match="skipped 2 Point feature") as record:
        labels = DataCenterLabels(path)
    assert len(record) == 1
    assert list(labels.features["value"]) == [1]


def test_points_only_file_points_to_download_sites(tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [-77.4, 39.0]}
    path = _raw_geojson(tmp_path / "points.geojson", [_feature(point)])
    with pytest.raises(TGDCError, match=r"tgdc download --sites \S*points\.geojson"):
        DataCenterLabels(path)


def test_plain_footprints_without_classes(tmp_path: Path) -> None:
    path = _raw_geojson(
        tmp_path / "plain.geojson",
        [{"type": "Feature", "properties": {"name": "a"}, "geometry": SQUARE}],
    )
    with pytest.raises(TGDCError, match="class_field=None to take every polygon"):
        DataCenterLabels(path)
    assert list(DataCenterLabels(path, class_field=None).features["value"]) == [1]


def test_im3_atlas_as_it_is() -> None:
    """The PNNL IM3 atlas (OpenStreetMap contributors, PNNL IM3): polygons train, Points skip."""
    path = shared_data("labels", "im3_datacenter_footprints.geojson")
    with pytest.warns(UserWarning, match="skipped 84 Point feature"):
        labels = DataCenterLabels(path, class_field=None)
    features = labels.features
    assert len(features) == 1149 and (features["value"] == 1).all()


def test_im3_points_plan_download_chips(tmp_path: Path) -> None:
    from torchgeo_datacenters.stac.chips import plan_site_chips, read_sites

    sites = read_sites(shared_data("labels", "im3_datacenter_footprints.geojson"))
    # Its Puerto Rico site lies in NAIP's coverage (issue 25, item 5): every site is planned.
    plans = plan_site_chips(sites, tmp_path, chip_size=64)
    centres = sites.geometry.representative_point()
    assert len(sites[(centres.y < 19) & (centres.x > -68)]) == 1
    assert len(plans) == len(sites)
    planned = {plan[0].site for plan in plans}
    points = sites.index[sites.geometry.geom_type == "Point"].astype(str)
    assert len(points) == 84 and len(planned & set(points)) == 84


def test_sites_outside_naip_are_refused_or_skipped(tmp_path: Path) -> None:
    from torchgeo_datacenters.stac.chips import plan_site_chips, read_sites

    sites = read_sites(shared_data("labels", "im3_datacenter_footprints.geojson"))
    anchorage = sites.iloc[:1].assign(geometry=[shapely.Point(-149.9, 61.2)])
    anchorage.index = ["anchorage"]
    both = pd.concat([sites, anchorage])
    with pytest.raises(TGDCError, match="skip such sites with --skip-outside"):
        plan_site_chips(both, tmp_path, chip_size=64)
    with pytest.warns(UserWarning, match=r"skipped 1 site\(s\) outside NAIP coverage"):
        plans = plan_site_chips(both, tmp_path, chip_size=64, skip_outside=True)
    assert len(plans) == len(sites)
