"""Every kind of real GeoTIFF is read right by every imagery path (issue 13).

Scenes are dark ground with bright roofs (see support.inference); :func:`bright_roofs`
finds exactly the roof pixels, so areas and outlines are checked to the pixel.
"""

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from rasterio.enums import ColorInterp
from rasterio.transform import from_origin
from support.inference import BRIGHT, GSD, predictor, scene_array, utm_transform

from torchgeo_datacenters.datasets import NAIPChips
from torchgeo_datacenters.errors import TGDCError

PIXEL_M2 = GSD * GSD


def write(path: Path, array: np.ndarray, transform: Affine, crs: str = "EPSG:32617", **kw) -> Path:
    count, height, width = array.shape
    profile = {"driver": "GTiff", "width": width, "height": height, "count": count}
    with rasterio.open(
        path, "w", **profile, dtype=array.dtype, crs=crs, transform=transform, **kw
    ) as dst:
        dst.write(array)
    return path


def utm_centroid(detections: gpd.GeoDataFrame) -> shapely.Point:
    return detections.to_crs("EPSG:32617").geometry.iloc[0].centroid


# 1. Orientation ------------------------------------------------------------------------


def test_south_up_gives_the_same_polygon_and_mask_on_the_input_grid(tmp_path: Path) -> None:
    roof = (20, 30, 60, 80)  # near the north-west corner
    array = scene_array(300, 400, [roof])
    north = write(tmp_path / "north.tif", array, utm_transform())
    t = utm_transform()
    south_up = Affine(t.a, 0, t.c, 0, -t.e, t.f + t.e * 300)
    south = write(tmp_path / "south.tif", array[:, ::-1].copy(), south_up)
    found = {}
    for name, path in {"north": north, "south": south}.items():
        found[name] = predictor().predict(path, output_mask=tmp_path / f"{name}-mask.tif").gdf
    assert len(found["north"]) == len(found["south"]) == 1
    assert found["south"]["area_m2"].iloc[0] == pytest.approx(60 * 80 * PIXEL_M2)
    assert utm_centroid(found["south"]).distance(utm_centroid(found["north"])) < GSD
    with (
        rasterio.open(tmp_path / "north-mask.tif") as n,
        rasterio.open(tmp_path / "south-mask.tif") as s,
    ):
        assert s.transform == n.transform == utm_transform()
        mask = s.read(1)
        np.testing.assert_array_equal(mask, n.read(1))
    assert mask[20:80, 30:110].all() and mask.sum() == 60 * 80


# 2. Validity --------------------------------------------------------------------------


def naip_with_alpha_nir(path: Path, transform: Affine) -> Path:
    """4-band uint8 with band 4 (NIR) tagged alpha, NIR = 0 on the roof's east half."""
    array = scene_array(100, 200, [(20, 60, 60, 80)])
    array[3, 20:80, 100:140] = 0
    return write(path, array, transform, photometric="RGB", alpha="YES")


def test_alpha_tagged_nir_is_data_in_detect_batch_and_naipchips(tmp_path: Path) -> None:
    whole = naip_with_alpha_nir(tmp_path / "whole.tif", utm_transform())
    with rasterio.open(whole) as src:
        assert src.colorinterp[3] == ColorInterp.alpha
    chips = tmp_path / "chips"
    chips.mkdir()
    with rasterio.open(whole) as src:
        for i, col in enumerate((0, 100)):
            window = rasterio.windows.Window(col, 0, 100, 100)
            write(
                chips / f"chip{i}.tif",
                src.read(window=window),
                src.window_transform(window),
                photometric="RGB",
                alpha="YES",
            )
    roof_m2 = 60 * 80 * PIXEL_M2
    assert roof_m2 == pytest.approx(1728)
    single = predictor().predict(whole)
    batch = predictor().predict_batch(sorted(chips.iterdir()))
    for detections in (single, batch):
        assert len(detections) == 1
        assert detections.gdf["area_m2"].iloc[0] == pytest.approx(roof_m2)
        assert detections.stats.valid_pixels == 100 * 200
    # The training dataset reads the same pixels: NIR 0, not a 0,0,0,0 hole.
    dataset = NAIPChips(str(chips))
    x0, y1 = utm_transform() @ (0, 0)
    x1, y0 = utm_transform() @ (200, 100)
    image = dataset[x0:x1:GSD, y0:y1:GSD]["image"].numpy()
    assert (image[:3, 20:80, 60:140] == BRIGHT).all()
    assert (image[3, 20:80, 100:140] == 0).all() and (image[3, 20:80, 60:100] == BRIGHT).all()


@pytest.mark.parametrize("declared", [True, False])
def test_nan_pixels_are_invalid_and_never_reach_the_model(tmp_path: Path, declared: bool) -> None:
    array = scene_array(100, 200, [(20, 60, 60, 80)], dtype="float32")
    rng = np.random.default_rng(0)
    holes = rng.choice(100 * 200, size=20, replace=False)  # 0.1% of the pixels
    array[1].flat[holes] = np.nan
    kw = {"nodata": np.nan} if declared else {}
    path = write(tmp_path / "nan.tif", array, utm_transform(), **kw)
    result = predictor(input_scale=1.0).predict(path, output_probabilities=tmp_path / "p.tif")
    assert len(result) == 1
    assert result.stats.valid_pixels == 100 * 200 - 20
    assert result.scanned_km2 == pytest.approx((100 * 200 - 20) * PIXEL_M2 / 1e6)
    with rasterio.open(tmp_path / "p.tif") as src:
        probabilities = src.read(1)
    nan = np.isnan(probabilities)
    assert set(np.flatnonzero(nan)) == set(holes)


def test_mask_bands_and_real_alpha_mark_invalid_pixels(tmp_path: Path) -> None:
    array = scene_array(60, 80, [(10, 10, 20, 30)])
    with (
        rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True),
        rasterio.open(
            tmp_path / "masked.tif",
            "w",
            driver="GTiff",
            width=80,
            height=60,
            count=4,
            dtype="uint8",
            crs="EPSG:32617",
            transform=utm_transform(),
        ) as dst,
    ):
        dst.write(array)
        mask = np.full((60, 80), 255, np.uint8)
        mask[:, 40:] = 0
        dst.write_mask(mask)
    alpha = np.concatenate([array, (mask > 0)[None].astype(np.uint8) * 255])
    write(tmp_path / "alpha.tif", alpha, utm_transform())
    with rasterio.open(tmp_path / "alpha.tif", "r+") as dst:
        dst.colorinterp = [*[ColorInterp.gray] * 4, ColorInterp.alpha]
    for name in ("masked.tif", "alpha.tif"):
        result = predictor().predict(tmp_path / name)
        assert result.stats.valid_pixels == 60 * 40
        assert result.gdf["area_m2"].iloc[0] == pytest.approx(20 * 30 * PIXEL_M2)


@pytest.mark.parametrize("names", [("a.tif", "b.tif"), ("b.tif", "a.tif")])
def test_each_mosaic_file_keeps_its_own_validity_in_any_order(
    tmp_path: Path, names: tuple[str, str]
) -> None:
    # Two overlapping chips: the first has nodata where the second has the roof.
    first = scene_array(100, 120, [(30, 80, 40, 40)])
    first[:, :, 60:] = 0
    second = scene_array(100, 120, [(30, 20, 40, 40)])
    write(tmp_path / names[0], first, utm_transform(), nodata=0)
    shifted = utm_transform() @ Affine.translation(60, 0)
    write(tmp_path / names[1], second, shifted, nodata=0)
    result = predictor().predict_batch(sorted(tmp_path.glob("*.tif")))
    assert len(result) == 1
    assert result.gdf["area_m2"].iloc[0] == pytest.approx(40 * 40 * PIXEL_M2)
    assert result.stats.valid_pixels == 100 * 180


# 3. Pixel type and value range ---------------------------------------------------------


@pytest.mark.parametrize(("dtype", "factor"), [("float32", 1 / 255), ("uint16", 257)])
def test_other_data_types_are_refused_or_rescaled_by_a_visible_rule(
    tmp_path: Path, dtype: str, factor: float
) -> None:
    array = scene_array(60, 80, [(10, 10, 20, 30)]).astype("float64") * factor
    path = write(tmp_path / f"{dtype}.tif", array.astype(dtype), utm_transform())
    with pytest.raises(TGDCError, match=rf"pixels are {dtype} .*--input-scale auto"):
        predictor().predict(path)
    for rule in ("auto", 1 / factor):
        result = predictor(input_scale=rule).predict(path)
        assert len(result) == 1
        assert result.gdf["area_m2"].iloc[0] == pytest.approx(20 * 30 * PIXEL_M2)
    with pytest.raises(TGDCError, match="input_scale"):
        predictor(input_scale="double")


# 4. Pixel size --------------------------------------------------------------------------


def same_ground(
    folder: Path, gsds: Sequence[float], size: tuple[float, float], roof: tuple[float, ...]
) -> dict[float, Path]:
    """Scenes of the same ground at each pixel size, in metres: *size* (height, width) and
    *roof* (row, col, height, width) in metres too."""
    paths = {}
    for gsd in gsds:
        height, width = (round(metres / gsd) for metres in size)
        pixels = tuple(round(metres / gsd) for metres in roof)
        paths[gsd] = write(
            folder / f"{gsd}.tif", scene_array(height, width, [pixels]), utm_transform(gsd)
        )
    return paths


def test_another_pixel_size_is_resampled_onto_the_checkpoints(tmp_path: Path) -> None:
    # The same ground (a 48 x 36 m roof) at 0.6 m and at 1.0 m.
    paths = same_ground(tmp_path, (0.6, 1.0), (90, 120), (30, 24, 36, 48))
    fine = predictor().predict(paths[0.6]).gdf
    with pytest.warns(UserWarning, match=r"1\.00 m pixels are resampled .* 0\.6 m"):
        coarse = predictor().predict(paths[1.0], output_mask=tmp_path / "mask.tif").gdf
    assert len(fine) == len(coarse) == 1
    assert coarse["area_m2"].iloc[0] == pytest.approx(fine["area_m2"].iloc[0], rel=0.03)
    a, b = (gdf.to_crs("EPSG:32617").geometry.iloc[0] for gdf in (fine, coarse))
    assert a.hausdorff_distance(b) <= 2.0
    with rasterio.open(tmp_path / "mask.tif") as src, rasterio.open(paths[1.0]) as image:
        assert (src.transform, src.shape) == (image.transform, image.shape)
        assert src.read(1)[30:66, 24:72].all()
    with pytest.raises(TGDCError, match=r"1\.00 m .* trained on 0\.6 m.*gdalwarp -tr"):
        predictor(resample="no").predict(paths[1.0])


def test_imagery_too_coarse_for_the_checkpoint_is_refused_with_what_to_give(
    tmp_path: Path,
) -> None:
    # The same ground (a 72 x 54 m roof) at 1.8 m, 3x the checkpoint's 0.6 m (resampled), and
    # at 2.4 m, 4x (refused: the benchmark's checkpoints found 0-9% of data centers there).
    paths = same_ground(tmp_path, (1.8, 2.4), (180, 216), (54, 54, 54, 72))
    with pytest.warns(UserWarning, match=r"1\.80 m pixels are resampled"):
        assert len(predictor().predict(paths[1.8]).gdf) == 1
    with pytest.raises(TGDCError) as refused:
        predictor().predict(paths[2.4])
    assert str(refused.value) == (
        f"{paths[2.4]}: pixels are 2.40 m on the ground, 4.0x the 0.6 m the checkpoint was"
        " trained on: too coarse to show a data center (resampling cannot add the detail the"
        " model looks for); give imagery of 1.8 m pixels or finer (NAIP: 0.6 m from 2016, 1 m"
        " before), or train a checkpoint on imagery of this pixel size (set"
        " data.init_args.gsd)"
    )


# 5. True metres --------------------------------------------------------------------------


def test_web_mercator_areas_and_min_area_are_ground_metres(tmp_path: Path) -> None:
    # 0.6 m Web Mercator pixels around 39.42 N: 0.46 m on the ground.
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(-77.0, 39.42)
    transform = from_origin(x - 150, y + 120, 0.6, 0.6)
    array = scene_array(400, 500, [(125, 100, 150, 200)])
    path = write(tmp_path / "mercator.tif", array, transform, crs="EPSG:3857")
    ground = 150 * 200 * PIXEL_M2 * math.cos(math.radians(39.42)) ** 2
    assert ground == pytest.approx(6447, rel=0.002)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        found = predictor().predict(path).gdf
        assert found["area_m2"].iloc[0] == pytest.approx(ground, rel=0.02)
        assert predictor(min_area=10000).predict(path).gdf.empty


# 6. Scenes of any size ------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 20])
def test_tiny_scenes_are_predicted(tmp_path: Path, size: int) -> None:
    path = write(
        tmp_path / "tiny.tif", scene_array(size, size, [(0, 0, size, size)]), utm_transform()
    )
    result = predictor().predict(path, output_mask=tmp_path / "mask.tif")
    assert result.stats.valid_pixels == size * size
    assert result.gdf["area_m2"].sum() == pytest.approx(size * size * PIXEL_M2)
    with rasterio.open(tmp_path / "mask.tif") as src:
        assert src.read(1).tolist() == np.ones((size, size), int).tolist()


def test_absurd_tile_size_is_refused_before_allocation() -> None:
    with pytest.raises(TGDCError, match=r"tile_size: 100000 must be .* 1 to 4096"):
        predictor(tile_size=100000)


# 7. Broken files ------------------------------------------------------------------------


def test_truncated_geotiff_names_gdals_reason(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 255, (4, 512, 512), dtype=np.uint8)
    whole = write(tmp_path / "whole.tif", array, utm_transform(), tiled=True, compress="deflate")
    data = whole.read_bytes()
    broken = tmp_path / "broken.tif"
    broken.write_bytes(data[: len(data) // 2])
    for workers in (0, 1):
        with pytest.raises(TGDCError) as error:
            predictor(num_workers=workers, batch_size=1, tile_size=128).predict(
                broken, output_mask=tmp_path / "mask.tif"
            )
        message = str(error.value)
        assert "\n" not in message and message.startswith(f"{broken}: cannot read the pixels")
        assert "TIFFReadEncodedTile" in message and "previous exception" not in message
        assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.tif", "whole.tif"]


# 8. Chips in different CRSs -------------------------------------------------------------


def test_batch_merges_a_roof_across_a_utm_zone_line(tmp_path: Path) -> None:
    # Zone 17 ends and zone 18 begins at 78 W; one chip on each side, the roof across.
    chips = []
    for zone, side in ((17, "west"), (18, "east")):
        crs = f"EPSG:326{zone}"
        x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(-78.0, 39.0)
        left = x - 100 * GSD if side == "west" else x
        roof = (10, 50, 80, 50) if side == "west" else (10, 0, 80, 50)
        chips.append(
            write(
                tmp_path / f"{side}.tif",
                scene_array(100, 100, [roof]),
                from_origin(left, y + 30, GSD, GSD),
                crs=crs,
            )
        )
    result = predictor(merge_distance=10.0).predict_batch(chips)
    assert len(result) == 1
    assert result.gdf["area_m2"].iloc[0] == pytest.approx(2880, rel=0.05)
