from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import CRS
from rasterio.transform import from_origin
from support.inference import UTM, predictor, scene_array, utm_transform

from torchgeo_datacenters.grid import Grid
from torchgeo_datacenters.outputs import FORMATS

GRID = Grid(crs=CRS(UTM), transform=utm_transform(), width=70, height=50)


def test_rasters_are_cogs_on_the_scene_grid(tmp_path: Path) -> None:
    probabilities = np.random.default_rng(0).random((50, 70), dtype=np.float32)
    probabilities[:, :5] = np.nan
    with (
        FORMATS["mask"].open(tmp_path / "m.tif", GRID) as mask,
        FORMATS["probabilities"].open(tmp_path / "p.tif", GRID) as prob,
    ):
        for row in (0, 17, 34):
            band = probabilities[row : row + 17]
            mask.write(row, (band > 0.5).astype(np.uint8))
            prob.write(row, band)
    for name, dtype in (("m.tif", "uint8"), ("p.tif", "float32")):
        with rasterio.open(tmp_path / name) as src:
            assert src.crs == UTM and src.transform == GRID.transform
            assert src.shape == (50, 70) and src.dtypes == (dtype,)
            assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    with rasterio.open(tmp_path / "p.tif") as src:
        np.testing.assert_array_equal(src.read(1), probabilities)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tif", "p.tif"]


def test_a_failed_raster_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), FORMATS["mask"].open(tmp_path / "m.tif", GRID) as mask:
        mask.write(0, np.zeros((10, 70), np.uint8))
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []


def test_cogs_have_overviews_and_the_mask_a_colour_table(tmp_path: Path) -> None:
    from torchgeo_datacenters.outputs.rasters import mask_writer, probability_writer
    from torchgeo_datacenters.outputs.styles import MASK_COLOURS

    # Larger than one 512 px COG tile: GDAL builds overviews down to one tile.
    grid = Grid(crs=CRS(UTM), transform=utm_transform(), width=1100, height=600)
    mask = np.zeros((600, 1100), np.uint8)
    mask[100:300, 200:700] = 1
    with (
        mask_writer(tmp_path / "m.tif", grid) as m,
        probability_writer(tmp_path / "p.tif", grid) as p,
    ):
        m.write(0, mask)
        p.write(0, mask.astype(np.float32))
    with rasterio.open(tmp_path / "m.tif") as src:
        assert src.overviews(1) == [2, 4]
        assert src.colorinterp[0] == rasterio.enums.ColorInterp.palette
        colours = src.colormap(1)
        assert {value: colours[value] for value in MASK_COLOURS} == MASK_COLOURS
        # Nearest-neighbour overviews keep the mask's values.
        assert set(np.unique(src.read(1, out_shape=(150, 275)))) == {0, 1}
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.overviews(1) == [2, 4]
        half = src.read(1, out_shape=(300, 550))
        assert half[100, 200] == 1.0 and half[0, 0] == 0.0


#: CRSs as other systems write them into GeoTIFFs: a State Plane (US survey feet) scene
#: with NAVD88 heights in US survey feet, with the GeoTIFF keys GDAL chooses (AUTO) and
#: with GeoTIFF 1.0 keys only; one with no EPSG code (a PROJ string, as older tools write);
#: plain UTM; and compounds of other kinds: UTM NAD83(2011) with NAVD88 heights in metres
#: (USGS 3DEP and lidar-derived products) and Web Mercator with EGM96 heights (web tiles
#: exported by GIS); their 1.5 m pixels are resampled and warped back.
SCENE_CRSS = {
    "state plane ftUS + NAVD88 ftUS": ("EPSG:2264+6360", "AUTO"),
    "UTM NAD83(2011) + NAVD88 m": ("EPSG:6339+5703", "AUTO"),
    "Web Mercator + EGM96": ("EPSG:3857+5773", "AUTO"),
    "the same, GeoTIFF 1.0 keys": ("EPSG:2264+6360", "1.0"),
    "no EPSG code": (
        "+proj=lcc +lat_0=33.75 +lon_0=-79 +lat_1=36.2 +lat_2=34.3 +x_0=609601.22"
        " +datum=NAD83 +units=us-ft +no_defs",
        "1.0",
    ),
    "UTM": ("EPSG:26916", "1.0"),
}


@pytest.mark.parametrize("name", SCENE_CRSS)
def test_outputs_keep_the_input_crs_exactly(name: str, tmp_path: Path) -> None:
    crs, version = SCENE_CRSS[name]
    scene = tmp_path / "scene.tif"
    array = scene_array(64, 64, [(20, 20, 24, 24)])
    transform = from_origin(2_000_000, 700_000, 1.5, 1.5)  # 1.5 ftUS pixels (0.46 m)
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 4, "dtype": "uint8"}
    with rasterio.open(
        scene, "w", **profile, crs=crs, transform=transform, GEOTIFF_VERSION=version
    ) as dst:
        dst.write(array)
    outputs = {"output_mask": tmp_path / "m.tif", "output_probabilities": tmp_path / "p.tif"}
    predictor().predict(scene, **outputs)
    with rasterio.open(scene) as src:
        wanted = src.crs.to_wkt()
    for output in outputs.values():
        with rasterio.open(output) as src:
            assert src.crs.to_wkt() == wanted
    if name.startswith("state plane"):
        assert 'VERT_CS["NAVD88 height (ftUS)"' in wanted and 'UNIT["metre"' not in wanted
