"""Tests of the label-aware SiteSampler, through the datamodule that builds it."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
import yaml
from rasterio.transform import from_origin

from torchgeo_datacenters.datamodules import DataCenterDataModule
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.samplers import SiteSampler
from torchgeo_datacenters.synthetic import SyntheticDataset

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

CRS = "EPSG:32618"
X0, Y0, SIZE_PX, GSD = 500_000.0, 4_400_000.0, 800, 0.6
SITES = {
    "datacenter": [shapely.box(X0 + 30, Y0 - 60, X0 + 60, Y0 - 30)],
    "warehouse": [
        shapely.box(X0 + 420, Y0 - 450, X0 + 450, Y0 - 420),
        shapely.box(X0 + 200, Y0 - 300, X0 + 225, Y0 - 280),
    ],
}


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 480 m scene: one data center, two warehouses (over 420 m) and a validation area."""
    root = tmp_path_factory.mktemp("sites")
    (root / "images").mkdir()
    data = np.random.default_rng(0).integers(0, 255, (4, SIZE_PX, SIZE_PX), dtype=np.uint8)
    profile = {"driver": "GTiff", "width": SIZE_PX, "height": SIZE_PX, "count": 4}
    profile |= {"dtype": "uint8", "crs": CRS, "transform": from_origin(X0, Y0, GSD, GSD)}
    with rasterio.open(root / "images" / "scene.tif", "w", **profile) as dst:
        dst.write(data)
    names = [name for name, shapes in SITES.items() for _ in shapes]
    shapes = [shape for group in SITES.values() for shape in group]
    gpd.GeoDataFrame({"class": names}, geometry=shapes, crs=CRS).to_file(root / "labels.geojson")
    val = shapely.box(X0 + 300, Y0 - 150, X0 + 450, Y0 - 30)
    gpd.GeoDataFrame(geometry=[val], crs=CRS).to_file(root / "val.geojson")
    return root


def _datamodule(scene: Path, **kwargs: object) -> DataCenterDataModule:
    dm = DataCenterDataModule(
        paths=str(scene / "images"),
        label_path=str(scene / "labels.geojson"),
        val_area=str(scene / "val.geojson"),
        batch_size=4,
        patch_size=64,
        length=600,
        **kwargs,
    )
    dm.setup("fit")
    return dm


def _boxes(dm: DataCenterDataModule) -> list[shapely.Polygon]:
    return [shapely.box(x.start, y.start, x.stop, y.stop) for x, y in dm.train_sampler]


def _share(boxes: list[shapely.Polygon], name: str) -> float:
    sites = shapely.union_all(SITES[name])
    return float(np.mean([box.intersects(sites) for box in boxes]))


def test_class_shares_follow_the_config(scene: Path) -> None:
    dm = _datamodule(scene, site_share=0.75, class_weights={"datacenter": 2, "warehouse": 1})
    boxes = _boxes(dm)
    assert len(boxes) == 600
    # 0.75 * 2/3 around the data center, 0.75 * 1/3 around the warehouses; random
    # patches (a quarter) hit a 30 m site in about 3% of draws.
    assert _share(boxes, "datacenter") == pytest.approx(0.5, abs=0.05)
    assert _share(boxes, "warehouse") == pytest.approx(0.25, abs=0.05)
    # Both warehouses get patches.
    for warehouse in SITES["warehouse"]:
        assert sum(box.intersects(warehouse) for box in boxes) > 40


def test_patches_stay_inside_the_training_area(scene: Path) -> None:
    dm = _datamodule(scene, site_share=0.9)
    allowed = dm.regions["train"].buffer(1e-6)
    boxes = _boxes(dm)
    assert all(allowed.contains(box) for box in boxes)
    # The training area keeps a patch width from the validation area.
    val = dm.regions["val"]
    assert min(box.distance(val) for box in boxes) >= 64 * GSD - 1e-6
    # Patches are on the imagery's pixel grid, a patch wide.
    for box in boxes[:50]:
        minx, miny, maxx, maxy = box.bounds
        assert (minx - X0) / GSD == pytest.approx(round((minx - X0) / GSD), abs=1e-6)
        assert (Y0 - miny) / GSD == pytest.approx(round((Y0 - miny) / GSD), abs=1e-6)
        assert (maxx - minx, maxy - miny) == pytest.approx((64 * GSD, 64 * GSD))


def test_same_seed_same_patches(scene: Path) -> None:
    first = _boxes(_datamodule(scene, seed=5))
    again = _boxes(_datamodule(scene, seed=5))
    other = _boxes(_datamodule(scene, seed=6))
    assert [b.bounds for b in first] == [b.bounds for b in again]
    assert [b.bounds for b in first] != [b.bounds for b in other]


def test_default_weights_cover_every_labelled_class(scene: Path) -> None:
    boxes = _boxes(_datamodule(scene))
    # site_share 0.5 split equally over data centers and warehouses.
    assert _share(boxes, "datacenter") == pytest.approx(0.25, abs=0.05)
    assert _share(boxes, "warehouse") == pytest.approx(0.25, abs=0.05)


def test_weighting_only_absent_classes_is_an_error(scene: Path) -> None:
    with pytest.raises(TGDCError, match="class_weights"):
        _datamodule(scene, class_weights={"retail": 1.0})


def test_demo_config_draws_patches_on_hard_negatives(synthetic_scenes: SyntheticDataset) -> None:
    config = yaml.safe_load((CONFIGS / "demo.yaml").read_text())["data"]["init_args"]
    config |= {
        "paths": str(synthetic_scenes.scene_paths[0].parent),
        "label_path": str(synthetic_scenes.labels_path),
        "split_cell_size": 300.0,
        "patch_size": 64,
        "length": 300,
    }
    dm = DataCenterDataModule(**config)
    dm.setup("fit")
    assert isinstance(dm.train_sampler, SiteSampler)
    assert dm.train_sampler.site_share == config["site_share"] > 0
    features = gpd.read_file(synthetic_scenes.labels_path).to_crs(dm.train_dataset.crs)
    negatives = features.geometry[features["class"] != "datacenter"].union_all()
    boxes = _boxes(dm)
    hits = np.mean([box.intersects(negatives) for box in boxes])
    # Every labelled class present gets an equal part of the site patches.
    shares = dict(zip(dm.train_sampler.classes, dm.train_sampler.class_shares, strict=True))
    expected = config["site_share"] * (1 - shares["datacenter"])
    assert hits >= expected - 0.05
