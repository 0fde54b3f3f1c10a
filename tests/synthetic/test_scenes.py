"""Tests of the SYNTHETIC scene generator."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy.ndimage import binary_dilation, binary_erosion

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.synthetic import (
    DEFAULT_ORIGIN,
    SCENE_GAP,
    generate_scene,
    generate_scenes,
    scene_origin,
)
from torchgeo_datacenters.synthetic.buildings import BUILDINGS, LOOKALIKE_BUILDINGS, roof_size

CRS = "EPSG:32617"
PIXEL_AREA = 0.6 * 0.6


def read_scene(path: Path) -> tuple[np.ndarray, rasterio.Affine]:
    with rasterio.open(path) as src:
        return src.read(), src.transform


def roof_mask(polygon: shapely.Geometry, shape: tuple[int, int], transform) -> np.ndarray:
    return rasterize([(polygon, 1)], out_shape=shape, transform=transform, dtype="uint8") > 0


def test_same_seed_gives_byte_identical_scene(tmp_path: Path) -> None:
    labels_a = generate_scene(tmp_path / "a.tif", size=256, seed=3)
    labels_b = generate_scene(tmp_path / "b.tif", size=256, seed=3, scene_name="a.tif")
    generate_scene(tmp_path / "c.tif", size=256, seed=4)
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    assert labels_a.to_json() == labels_b.to_json()
    image_a, _ = read_scene(tmp_path / "a.tif")
    image_c, _ = read_scene(tmp_path / "c.tif")
    assert (image_a != image_c).mean() > 0.5


def test_generate_scenes_is_deterministic(tmp_path: Path) -> None:
    for name, seed in (("one", 1), ("two", 1), ("other", 2)):
        generate_scenes(tmp_path / name, size=256, count=2, seed=seed, progress=False)
    names = ["scene_000.tif", "scene_001.tif", "labels.geojson"]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
        assert (tmp_path / "one" / name).read_bytes() != (tmp_path / "other" / name).read_bytes()
    # scenes of one set differ from each other
    assert (tmp_path / "one" / names[0]).read_bytes() != (tmp_path / "one" / names[1]).read_bytes()


def test_scene_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "scene.tif"
    origin = (412345.0, 4312345.0)
    generate_scene(path, size=(300, 520), seed=0, origin=origin, crs="EPSG:32618")
    with rasterio.open(path) as src:
        assert (src.count, src.height, src.width) == (4, 300, 520)
        assert src.dtypes == ("uint8",) * 4
        assert src.crs.to_epsg() == 32618
        assert src.transform == from_origin(*origin, 0.6, 0.6)
        assert src.block_shapes == [(256, 256)] * 4
        assert src.profile["tiled"]
        assert src.compression.name == "deflate"
        assert src.nodata is None
        assert src.descriptions == ("R", "G", "B", "NIR")
        assert src.tags()["SYNTHETIC"] == "yes"
        assert "SYNTHETIC" in src.tags()["TIFFTAG_IMAGEDESCRIPTION"]
        image = src.read()
    # the full uint8 range is used sensibly: no band is constant or saturated
    for band in image:
        assert 20 < band.mean() < 235
        assert band.std() > 10


def test_labels_schema_and_crs(tmp_path: Path) -> None:
    labels = generate_scene(tmp_path / "s.tif", size=512, seed=7)
    assert list(labels.columns) == ["fid", "class", "name", "label", "scene", "geometry"]
    assert labels.crs.equals("OGC:CRS84")
    assert labels["fid"].tolist() == list(range(1, len(labels) + 1))
    assert set(labels["class"]) == {"datacenter", "warehouse", "retail", "other"}
    assert (labels["label"] == (labels["class"] == "datacenter")).all()
    assert labels["label"].dtype == bool
    assert (labels["scene"] == "s.tif").all()
    assert labels["name"].is_unique
    # lon/lat of UTM zone 17N near 39.7 N
    minx, miny, maxx, maxy = labels.total_bounds
    assert -81.1 < minx < maxx < -80.9
    assert 39.6 < miny < maxy < 39.8
    scene = shapely.box(500000.0, 4400000.0 - 512 * 0.6, 500000.0 + 512 * 0.6, 4400000.0)
    assert labels.to_crs(CRS).within(scene.buffer(1e-6)).all()


@pytest.mark.parametrize("seed", range(6))
def test_small_scene_holds_every_kind(tmp_path: Path, seed: int) -> None:
    labels = generate_scene(tmp_path / "s.tif", size=256, seed=seed)
    counts = labels["class"].value_counts()
    for kind in ("datacenter", "warehouse", "retail", "other"):
        assert counts.get(kind, 0) >= 1, kind


@pytest.mark.parametrize("size", [64, 100, (64, 200)])
def test_tiny_scene_holds_a_datacenter(tmp_path: Path, size: int | tuple[int, int]) -> None:
    labels = generate_scene(tmp_path / "s.tif", size=size, seed=1)
    assert labels["label"].sum() >= 1


def test_label_polygons_coincide_with_roof_pixels(tmp_path: Path) -> None:
    path = tmp_path / "s.tif"
    labels = generate_scene(path, size=768, seed=11).to_crs(CRS)
    image, transform = read_scene(path)
    shape = image.shape[1:]
    taken = np.zeros(shape, bool)
    for _, row in labels.iterrows():
        mask = roof_mask(row.geometry, shape, transform)
        # polygon area and roof pixel count agree (random roofs lie on the pixel grid)
        assert mask.sum() * PIXEL_AREA == pytest.approx(row.geometry.area, rel=0.02)
        assert not (mask & taken).any(), "roofs overlap"
        taken |= mask
        if row["class"] != "datacenter":
            continue
        # the roof edge is bright membrane; the pixels just outside it are not roof
        inner = mask & ~binary_erosion(mask)
        outer = binary_dilation(mask) & ~mask
        blue = image[2]
        assert (blue[inner] > 180).mean() > 0.95
        assert (blue[outer] > 180).mean() < 0.05


def test_datacenter_roofs_carry_rows_of_cooling_units(tmp_path: Path) -> None:
    path = tmp_path / "s.tif"
    labels = generate_scene(path, size=512, seed=5, n_negatives=3).to_crs(CRS)
    image, transform = read_scene(path)
    for _, row in labels.iterrows():
        mask = binary_erosion(roof_mask(row.geometry, image.shape[1:], transform), iterations=6)
        dark = (image[2][mask] < 130).mean()
        if row["class"] == "datacenter":
            assert dark > 0.3  # dense dark units
        elif row["class"] == "warehouse":
            assert dark < 0.1  # plain light roof


def test_explicit_datacenter_footprint(tmp_path: Path) -> None:
    origin = DEFAULT_ORIGIN
    # a rotated roof, not aligned to the pixel grid, about 130 x 80 m
    roof = shapely.affinity.rotate(
        shapely.box(origin[0] + 100.3, origin[1] - 250.7, origin[0] + 230.1, origin[1] - 170.2),
        20,
    )
    path = tmp_path / "s.tif"
    labels = generate_scene(path, size=512, seed=2, datacenters=[roof])
    datacenters = labels[labels["label"]].to_crs(CRS)
    assert len(datacenters) == 1
    polygon = datacenters.geometry.iloc[0]
    assert polygon.symmetric_difference(roof).area < 1e-3
    image, transform = read_scene(path)
    mask = roof_mask(roof, image.shape[1:], transform)
    assert mask.sum() * PIXEL_AREA == pytest.approx(roof.area, rel=0.02)
    inner = mask & ~binary_erosion(mask)
    outer = binary_dilation(mask) & ~mask
    assert (image[2][inner] > 180).mean() > 0.95
    assert (image[2][outer] > 180).mean() < 0.05
    # other buildings keep clear of it
    others = labels[~labels["label"]].to_crs(CRS)
    assert not others.intersects(roof).any()


def test_explicit_datacenter_across_the_scene_edge(tmp_path: Path) -> None:
    x0, y0 = DEFAULT_ORIGIN
    right = x0 + 256 * 0.6
    roof = shapely.box(right - 40.0, y0 - 120.0, right + 60.0, y0 - 30.0)
    labels = generate_scene(tmp_path / "s.tif", size=256, seed=0, datacenters=[roof])
    polygon = labels[labels["label"]].to_crs(CRS).geometry.iloc[0]
    assert polygon.bounds[2] == pytest.approx(right, abs=1e-3)
    assert polygon.area == pytest.approx(40.0 * 90.0, rel=1e-6)


def test_explicit_datacenters_errors(tmp_path: Path) -> None:
    x0, y0 = DEFAULT_ORIGIN
    roof = shapely.box(x0 + 10, y0 - 60, x0 + 60, y0 - 10)
    with pytest.raises(TGDCError, match="n_datacenters"):
        generate_scene(tmp_path / "s.tif", size=256, datacenters=[roof], n_datacenters=2)
    far = shapely.box(0, 0, 10, 10)
    with pytest.raises(TGDCError, match=r"datacenters\[1\].*misses the scene"):
        generate_scene(tmp_path / "s.tif", size=256, datacenters=[roof, far])
    with pytest.raises(TGDCError, match=r"datacenters\[0\]"):
        generate_scene(tmp_path / "s.tif", size=256, datacenters=[shapely.Point(x0, y0)])
    assert not (tmp_path / "s.tif").exists()


def test_no_datacenters_on_request(tmp_path: Path) -> None:
    labels = generate_scene(tmp_path / "s.tif", size=256, seed=0, n_datacenters=0)
    assert not labels["label"].any()
    assert len(labels) >= 3


@pytest.mark.parametrize(
    ("landscape", "ndvi", "share"),
    [("farmland", 0.1, 0.7), ("forest", 0.3, 0.6), ("mixed", 0.1, 0.4)],
)
def test_landscapes_without_buildings(
    tmp_path: Path, landscape: str, ndvi: float, share: float
) -> None:
    # Empty land for the screening benchmark's county: no labelled building, mostly
    # vegetation (NIR well above red), houses only in mixed land (suburbs).
    path = tmp_path / "s.tif"
    labels = generate_scene(
        path, size=512, seed=3, n_datacenters=0, n_negatives=0, landscape=landscape
    )
    assert labels.empty
    with rasterio.open(path) as src:
        red, nir = src.read(1).astype(float), src.read(4).astype(float)
    assert ((nir - red) / (nir + red) > ndvi).mean() >= share


def test_datacenter_sizes_follow_the_seed_labels() -> None:
    rng = np.random.default_rng(0)
    areas = np.array(
        [np.prod(roof_size(rng, "datacenter", 0.6, 8192)) * PIXEL_AREA for _ in range(2000)]
    )
    # seed label file: median about 18,800 m², range 2,800 to 125,000 m²
    assert np.median(areas) == pytest.approx(18_800, rel=0.1)
    assert areas.min() >= 2_700
    assert areas.max() <= 126_000
    # in a 512 px scene a data center is 100 to 250 px wide at most
    small = [max(roof_size(rng, "datacenter", 0.6, 512)) for _ in range(200)]
    assert max(small) <= 0.4 * 512 + 1


def test_lookalike_warehouses_are_as_large_and_bright_as_datacenters(tmp_path: Path) -> None:
    # Roof areas: the data centers' median (about 18,800 m²), not the warehouses' own.
    rng = np.random.default_rng(0)
    for specs, median in ((LOOKALIKE_BUILDINGS, 18_800), (BUILDINGS, 36_000)):
        areas = [
            np.prod(roof_size(rng, "warehouse", 0.6, 8192, buildings=specs)) * PIXEL_AREA
            for _ in range(2000)
        ]
        assert np.median(areas) == pytest.approx(median, rel=0.1)
    # Roof pixels in drawn scenes: a data-center roof colour (R, G, B, NIR), within the
    # colour's jitter (3%), the scene's band cast (4%) and its illumination (0.03 per unit of
    # two unit-spread fields): 10% of the brightest colour.
    colours = BUILDINGS["datacenter"].roof_colours
    distances = []
    for seed in (5, 6):
        path = tmp_path / f"{seed}.tif"
        labels = generate_scene(path, size=512, seed=seed, lookalike_warehouses=True)
        image, transform = read_scene(path)
        utm = labels.to_crs(CRS)
        for polygon in utm.geometry[utm["class"] == "warehouse"]:
            roof = binary_erosion(roof_mask(polygon, image.shape[1:], transform), iterations=3)
            colour = np.median(image[:, roof], axis=1)
            distances.append(np.abs(colours - colour).max(axis=1).min())
    assert len(distances) >= 2
    assert max(distances) <= 0.1 * colours.max()


def test_cold_storage_warehouses_carry_condensers_over_one_end(tmp_path: Path) -> None:
    # Rows of dark units over 30 to 60% of the roof's long side from one end; the other
    # end plain, as a warehouse's roof; data centers unchanged.
    ends = []
    for seed in (5, 6, 7):
        path = tmp_path / f"{seed}.tif"
        labels = generate_scene(path, size=768, seed=seed, cold_storage=True).to_crs(CRS)
        image, transform = read_scene(path)
        for _, row in labels.iterrows():
            mask = binary_erosion(roof_mask(row.geometry, image.shape[1:], transform), iterations=6)
            dark = image[2] < 130
            if row["class"] == "datacenter":
                assert dark[mask].mean() > 0.3
            if row["class"] != "warehouse":
                continue
            rows, cols = np.nonzero(mask)
            along = cols if np.ptp(cols) >= np.ptp(rows) else rows
            low, high = along.min(), along.max()
            third = (high - low) * 0.3
            near = dark[rows, cols][along <= low + third].mean()
            far = dark[rows, cols][along >= high - third].mean()
            ends.append((max(near, far), min(near, far)))
    assert len(ends) >= 3
    for units, plain in ends:
        assert units > 0.3
        assert plain < 0.1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 32}, "size"),
        ({"size": (256,)}, "size"),
        ({"size": 10_000}, "size"),
        ({"size": 256.0}, "size"),
        ({"seed": -1}, "seed"),
        ({"crs": "EPSG:4326"}, "projected"),
        ({"crs": "not a crs"}, "crs"),
        ({"gsd": 0.0}, "gsd"),
        ({"n_negatives": -1}, "n_negatives"),
        ({"landscape": "desert"}, "landscape: 'desert' is not one of mixed, farmland, forest"),
    ],
)
def test_generate_scene_rejects_bad_input(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(TGDCError, match=match):
        generate_scene(tmp_path / "s.tif", **kwargs)


def test_generate_scene_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "s.tif"
    generate_scene(path, size=128, seed=0)
    before = path.read_bytes()
    with pytest.raises(TGDCError, match="already exists"):
        generate_scene(path, size=128, seed=1)
    assert path.read_bytes() == before
    generate_scene(path, size=128, seed=1, overwrite=True)
    assert path.read_bytes() != before
    assert [p.name for p in tmp_path.iterdir()] == ["s.tif"]  # no temporary files left


def test_generate_scenes_layout_and_labels(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    dataset = generate_scenes(out, size=256, count=3, seed=0, progress=False)
    assert [p.name for p in dataset.scene_paths] == [f"scene_00{i}.tif" for i in range(3)]
    assert dataset.labels_path == out / "labels.geojson"
    labels = dataset.labels
    assert labels["fid"].tolist() == list(range(1, len(labels) + 1))
    on_disk = gpd.read_file(dataset.labels_path)
    assert on_disk.crs.equals("OGC:CRS84")
    assert list(on_disk.columns) == ["fid", "class", "name", "label", "scene", "geometry"]
    assert on_disk["fid"].tolist() == labels["fid"].tolist()
    assert on_disk["label"].tolist() == labels["label"].tolist()
    footprints = []
    for i, path in enumerate(dataset.scene_paths):
        with rasterio.open(path) as src:
            bounds = shapely.box(*src.bounds)
            assert (src.transform.c, src.transform.f) == scene_origin(i, 256)
        footprints.append(bounds)
        mine = labels[labels["scene"] == path.name].to_crs(CRS)
        assert mine["label"].sum() >= 1
        assert set(mine["class"]) == {"datacenter", "warehouse", "retail", "other"}
        assert mine.within(bounds.buffer(1e-6)).all()
    for i, a in enumerate(footprints):
        for b in footprints[i + 1 :]:
            assert a.distance(b) >= SCENE_GAP


def test_generate_scenes_checks_outputs_first(tmp_path: Path) -> None:
    (tmp_path / "labels.geojson").write_text("{}")
    with pytest.raises(TGDCError, match=r"labels\.geojson: already exists"):
        generate_scenes(tmp_path, size=128, count=2, progress=False)
    assert not (tmp_path / "scene_000.tif").exists()
    with pytest.raises(TGDCError, match="count"):
        generate_scenes(tmp_path, size=128, count=0, progress=False)
    (tmp_path / "file").write_text("")
    with pytest.raises(TGDCError, match="is a file"):
        generate_scenes(tmp_path / "file", size=128, count=1, progress=False)
