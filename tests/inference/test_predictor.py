import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import torch
from affine import Affine
from rasterio.transform import from_origin
from support.inference import (
    GSD,
    MEAN,
    STD,
    UTM,
    RandomConvNet,
    SceneDataset,
    bright_roofs,
    predictor,
    save_checkpoint,
    utm_transform,
    write_scene,
)

from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference import Predictor, ProbabilityModel

PIXEL_M2 = GSD * GSD

#: Roofs of the 300 x 400 test scene, some cut by each border and one by a corner.
ROOFS = [
    (40, 60, 50, 70),  # inside
    (150, 200, 90, 120),  # inside, across tile seams
    (-20, 300, 45, 40),  # cut by the top border
    (270, -10, 60, 50),  # cut by the left border and the bottom-left corner
    (100, 370, 30, 60),  # cut by the right border
]


def in_scene(roof: tuple[int, int, int, int], height: int = 300, width: int = 400) -> int:
    """Pixels of a roof inside the scene."""
    row, col, h, w = roof
    return max(0, min(row + h, height) - max(row, 0)) * max(0, min(col + w, width) - max(col, 0))


def files(directory: Path) -> set[str]:
    return {path.name for path in directory.iterdir()}


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_scene(tmp_path_factory.mktemp("scene") / "scene.tif", 300, 400, ROOFS)


def test_stitched_probabilities_equal_one_pass_over_the_scene(tmp_path: Path) -> None:
    raw = np.random.default_rng(3).integers(0, 256, (4, 210, 333), dtype=np.uint8)
    path = tmp_path / "noise.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=333,
        height=210,
        count=4,
        dtype="uint8",
        crs=UTM,
        transform=utm_transform(),
    ) as dst:
        dst.write(raw)
    image = torch.from_numpy((raw.astype(np.float32) - MEAN) / STD)[None]
    for radius, exact in [(8, True), (12, False)]:
        net = RandomConvNet(radius)
        with torch.inference_mode():
            whole = net(image)[0].numpy()
        model = ProbabilityModel(net, [MEAN] * 4, [STD] * 4, module=net)
        output = tmp_path / f"probabilities-{radius}.tif"
        predictor(model, tile_size=96, overlap=32).predict(path, output_probabilities=output)
        with rasterio.open(output) as src:
            stitched = src.read(1)
        # The overlap of 32 px is exact for receptive fields reaching 32 / 4 = 8 px.
        assert (np.abs(stitched - whole).max() <= 1e-5) == exact


@pytest.mark.parametrize(
    ("tile_size", "overlap", "batch_size"), [(128, 32, 3), (100, 48, 1), (64, 16, 7)]
)
def test_tiling_does_not_change_detections(
    scene: Path, tmp_path: Path, tile_size: int, overlap: int, batch_size: int
) -> None:
    reference = tmp_path / "reference.geojson"
    predictor().predict(scene, output_geojson=reference)
    other = tmp_path / "other.geojson"
    predictor(tile_size=tile_size, overlap=overlap, batch_size=batch_size).predict(
        scene, output_geojson=other
    )
    assert other.read_bytes() == reference.read_bytes()


def test_every_roof_is_found_whole_at_the_borders_too(scene: Path, tmp_path: Path) -> None:
    detections = predictor(tile_size=128).predict(scene, output_mask=tmp_path / "mask.tif")
    assert len(detections) == len(ROOFS)
    expected = sorted(in_scene(roof) * PIXEL_M2 for roof in ROOFS)
    np.testing.assert_allclose(sorted(detections.gdf["area_m2"]), expected, rtol=1e-9)
    assert (detections.gdf["score"] > 0.99).all()
    assert detections.stats.skipped_tiles == 0
    assert detections.scanned_km2 == pytest.approx(300 * 400 * PIXEL_M2 / 1e6)
    with rasterio.open(scene) as src, rasterio.open(tmp_path / "mask.tif") as mask:
        assert mask.crs == src.crs
        assert mask.transform == src.transform
        assert mask.shape == src.shape
        assert mask.dtypes == ("uint8",) and mask.nodata == 255
        assert mask.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        truth = src.read(1) > 128
        np.testing.assert_array_equal(mask.read(1), truth)


def test_scene_smaller_than_a_tile_and_not_square(tmp_path: Path) -> None:
    path = write_scene(tmp_path / "small.tif", 50, 90, [(10, 20, 20, 30), (35, 80, 15, 10)])
    detections = predictor(tile_size=256).predict(path)
    assert sorted(detections.gdf["area_m2"]) == pytest.approx([150 * PIXEL_M2, 600 * PIXEL_M2])


def polygon_truth(rings: list[list[tuple[int, int]]], transform: Affine) -> shapely.Polygon:
    """A polygon from (col, row) pixel-corner rings."""
    world = [[transform @ corner for corner in ring] for ring in rings]
    return shapely.Polygon(world[0], world[1:])


#: Known buildings as (col, row) pixel-corner rings: a roof with a courtyard, an L.
COURTYARD = [
    [(150, 60), (240, 60), (240, 140), (150, 140)],
    [(180, 80), (210, 80), (210, 110), (180, 110)],
]
L_SHAPE = [[(40, 180), (70, 180), (70, 200), (120, 200), (120, 230), (40, 230)]]


@pytest.mark.parametrize("crs", [UTM, "EPSG:4326"])
def test_centroids_and_areas_of_known_buildings(tmp_path: Path, crs: str) -> None:
    # EPSG:4326 pixels of about 0.6 m near 39.75 N, 81 W.
    transform = utm_transform() if crs == UTM else from_origin(-81.0, 39.75, 7.0e-6, 5.4e-6)
    path = write_scene(tmp_path / "known.tif", 260, 240, crs=crs, transform=transform)
    with rasterio.open(path, "r+") as dst:
        array = dst.read()
        array[:, 60:140, 150:240] = 220
        array[:, 80:110, 180:210] = 30
        array[:, 180:230, 40:70] = 220
        array[:, 200:230, 70:120] = 220
        dst.write(array)
    detections = predictor(tile_size=128, overlap=32).predict(path).gdf
    truths = gpd.GeoSeries(
        [polygon_truth(COURTYARD, transform), polygon_truth(L_SHAPE, transform)], crs=crs
    )
    metric = truths.estimate_utm_crs()
    found = detections.to_crs(metric)
    assert len(found) == 2
    for truth in truths.to_crs(metric):
        (index,) = np.flatnonzero(found.intersects(truth))
        detection = detections.iloc[index]
        assert detection["area_m2"] == pytest.approx(truth.area, rel=0.02)
        centroid = gpd.GeoSeries(
            [shapely.Point(detection["centroid_lon"], detection["centroid_lat"])], crs=4326
        ).to_crs(metric)
        assert centroid.distance(truth.centroid).iloc[0] < 0.6
    holed = detections.iloc[np.argmax(detections["area_m2"])].geometry
    assert len(holed.interiors) == 1


def test_nodata_is_masked_and_never_detected(tmp_path: Path) -> None:
    path = write_scene(
        tmp_path / "nodata.tif",
        200,
        200,
        [(50, 40, 40, 80)],
        nodata=0,
        nodata_region=(slice(None), slice(0, 80)),
    )
    calls = []

    def fn(images: torch.Tensor) -> torch.Tensor:
        calls.append(images.shape[0])
        return model.module(images)

    model = bright_roofs()
    counting = ProbabilityModel(fn, model.mean, model.std)
    detections = predictor(counting, tile_size=64, overlap=16).predict(
        path, output_mask=tmp_path / "mask.tif", output_probabilities=tmp_path / "p.tif"
    )
    (area,) = detections.gdf["area_m2"]
    assert area == pytest.approx(40 * 40 * PIXEL_M2)
    # Tiles lying wholly in the nodata columns are never run through the model.
    assert detections.stats.skipped_tiles > 0
    assert sum(calls) == detections.stats.tiles - detections.stats.skipped_tiles
    with rasterio.open(tmp_path / "mask.tif") as mask, rasterio.open(tmp_path / "p.tif") as p:
        assert (mask.read(1)[:, :80] == 255).all() and (mask.read(1)[:, 80:] != 255).all()
        assert np.isnan(p.nodata) and np.isnan(p.read(1)[:, :80]).all()


def test_all_nodata_scene_runs_and_says_so(tmp_path: Path) -> None:
    path = write_scene(
        tmp_path / "empty.tif", 100, 150, nodata=0, nodata_region=(slice(None), slice(None))
    )

    def never(images: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the model ran on nodata")

    model = ProbabilityModel(never, [MEAN] * 4, [STD] * 4)
    output = tmp_path / "out.geojson"
    with pytest.warns(UserWarning, match="every pixel is nodata"):
        detections = predictor(model, tile_size=64).predict(path, output_geojson=output)
    assert len(detections) == 0
    assert "nothing was scanned" in detections.summary()
    assert json.loads(output.read_text()) == {"type": "FeatureCollection", "features": []}


def test_two_runs_write_identical_files(scene: Path, tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        kinds = {"geojson": f"{run}.geojson", "csv": f"{run}.csv"}
        predictor(merge_distance=15.0, simplify=0.5).predict(
            scene, **{f"output_{kind}": tmp_path / name for kind, name in kinds.items()}
        )
        outputs.append([(tmp_path / name).read_bytes() for name in kinds.values()])
    assert outputs[0] == outputs[1]


def test_a_raster_dataset_gives_the_same_detections(scene: Path) -> None:
    from_path = predictor().predict(scene).gdf
    from_dataset = predictor().predict(SceneDataset(str(scene))).gdf
    assert from_dataset.drop(columns="geometry").equals(from_path.drop(columns="geometry"))
    assert from_dataset.geom_equals(from_path).all()


def test_workers_give_the_same_detections(scene: Path) -> None:
    alone = predictor(tile_size=128).predict(scene).gdf
    workers = predictor(tile_size=128, batch_size=2, num_workers=2).predict(scene).gdf
    assert workers.drop(columns="geometry").equals(alone.drop(columns="geometry"))


def test_batch_merges_roofs_across_neighbouring_chips(scene: Path, tmp_path: Path) -> None:
    chips = tmp_path / "chips"
    chips.mkdir()
    with rasterio.open(scene) as src:
        for row in range(0, 300, 100):
            for col in range(0, 400, 160):
                window = rasterio.windows.Window(col, row, min(160, 400 - col), 100)
                profile = {**src.profile, "width": window.width, "height": window.height}
                profile["transform"] = src.window_transform(window)
                with rasterio.open(chips / f"chip_{row}_{col}.tif", "w", **profile) as dst:
                    dst.write(src.read(window=window))
    far = write_scene(
        chips / "far.tif",
        50,
        50,
        [(10, 10, 20, 20)],
        transform=utm_transform() @ Affine.translation(5000, 0),
    )
    whole = predictor(tile_size=128).predict(scene).gdf
    output = tmp_path / "all.geojson"
    batch = predictor(tile_size=128).predict_batch(
        sorted(chips.glob("*.tif")), output_geojson=output
    )
    assert len(batch) == len(whole) + 1
    assert batch.stats.skipped_tiles == 0
    assert sorted(batch.gdf["area_m2"]) == pytest.approx(
        sorted([*whole["area_m2"], 400 * PIXEL_M2])
    )
    assert far.name in set(batch.gdf["source"])
    # The roof across four chips is one detection, named after the chip holding its centre.
    big = batch.gdf.iloc[np.argmax(batch.gdf["area_m2"])]
    assert big["area_m2"] == pytest.approx(90 * 120 * PIXEL_M2)
    assert big["source"] == "chip_100_160.tif"
    assert len(json.loads(output.read_text())["features"]) == len(batch)


def final_bar(stderr: str) -> str:
    """The last state of the tqdm bar written to *stderr*."""
    return stderr.replace("\r", "\n").strip().splitlines()[-1]


def test_progress_counts_tiles_out_of_the_run(
    scene: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One bar over the run's tiles: done out of all, percentage and time left.
    one = predictor(tile_size=128, progress=True).predict(scene)
    bar = final_bar(capsys.readouterr().err)
    assert one.stats.tiles == 12  # 3 x 4 tiles of 128 px on the 300 x 400 scene
    assert bar.startswith("tiles: 100%") and " 12/12 [" in bar and "<" in bar
    assert "tile/s" in bar
    # batch-detect: one bar over every mosaic's tiles.
    chips = [
        write_scene(tmp_path / "a.tif", 100, 100, [(10, 10, 20, 20)]),
        write_scene(
            tmp_path / "b.tif", 100, 100, transform=utm_transform() @ Affine.translation(5000, 0)
        ),
    ]
    batch = predictor(tile_size=64, overlap=16, progress=True).predict_batch(chips)
    bar = final_bar(capsys.readouterr().err)
    total = batch.stats.tiles
    assert total == 2 * 4  # 2 x 2 tiles of 64 px on each 100 px chip
    assert bar.startswith("tiles: 100%") and f" {total}/{total} [" in bar


def test_bad_inputs_leave_no_output(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    text = inputs / "text.tif"
    text.write_text("hello")
    cases = {
        inputs / "missing.tif": "does not exist",
        text: "not a readable raster",
        write_scene(inputs / "rgb.tif", 40, 40, bands=3): "has 3 band",
        write_scene(inputs / "nocrs.tif", 40, 40, crs=None): "no CRS",
    }
    out = tmp_path / "out"
    out.mkdir()
    outputs = {
        "output_geojson": out / "d.geojson",
        "output_csv": out / "d.csv",
        "output_mask": out / "m.tif",
        "output_probabilities": out / "p.tif",
    }
    for path, message in cases.items():
        with pytest.raises(TGDCError, match=message):
            predictor().predict(path, **outputs)
        assert files(out) == set()


def test_a_failing_model_leaves_no_output(scene: Path, tmp_path: Path) -> None:
    def broken(images: torch.Tensor) -> torch.Tensor:
        return images[:, 0, :10]

    model = ProbabilityModel(broken, [MEAN] * 4, [STD] * 4, name="broken")
    with pytest.raises(TGDCError, match="broken: returned probabilities of shape"):
        predictor(model).predict(
            scene, output_mask=tmp_path / "m.tif", output_geojson=tmp_path / "d.geojson"
        )
    assert files(tmp_path) == set()


def test_existing_outputs_are_kept_unless_overwrite(scene: Path, tmp_path: Path) -> None:
    existing = tmp_path / "d.geojson"
    existing.write_text("keep me")
    with pytest.raises(TGDCError, match="already exists"):
        predictor().predict(scene, output_geojson=existing, output_mask=tmp_path / "m.tif")
    assert existing.read_text() == "keep me" and files(tmp_path) == {"d.geojson"}
    predictor().predict(scene, output_geojson=existing, overwrite=True)
    assert len(json.loads(existing.read_text())["features"]) == len(ROOFS)


def test_checkpoint(tmp_path: Path) -> None:
    checkpoint = save_checkpoint(tmp_path / "model.ckpt", logit=5.0)
    path = write_scene(
        tmp_path / "s.tif", 64, 150, nodata=0, nodata_region=(slice(None), slice(0, 30))
    )
    options = {
        "device": "cpu",
        "tile_size": 64,
        "overlap": 16,
        "progress": False,
        "precision": "fp32",  # exact scores on any CPU (auto runs bf16 where it can)
    }
    detections = Predictor(checkpoint, **options).predict(path)
    # The model says sigmoid(5) = 0.993 everywhere: one detection, every valid pixel.
    (detection,) = detections.gdf.itertuples()
    assert detection.area_m2 == pytest.approx(64 * 120 * PIXEL_M2)
    assert detection.score == pytest.approx(torch.sigmoid(torch.tensor(5.0)).item(), abs=1e-4)
    above = Predictor(checkpoint, threshold=0.995, **options)
    assert len(above.predict(path)) == 0
    with pytest.raises(TGDCError, match=r"rgb\.tif: has 3 band\(s\) but the checkpoint expects 4"):
        above.predict(write_scene(tmp_path / "rgb.tif", 40, 40, bands=3))


def test_bad_options(scene: Path) -> None:
    with pytest.raises(TGDCError, match="overlap"):
        predictor(tile_size=64, overlap=64)
    with pytest.raises(TGDCError, match="batch_size"):
        predictor(batch_size=0)
    with pytest.raises(TGDCError, match="min_area"):
        predictor(min_area=-1.0)
    with pytest.raises(TGDCError, match="threshold"):
        predictor(threshold=1.5)
    with pytest.raises(TGDCError, match="device"):
        Predictor(bright_roofs(), device="tpu")
