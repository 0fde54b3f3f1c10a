import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely
import torch

from torchgeo_datacenters.checkpoint import DataSpec
from torchgeo_datacenters.datamodules import DataCenterDataModule, ValidationSplit
from torchgeo_datacenters.datamodules.splits import MIN_VALIDATION_DATACENTERS
from torchgeo_datacenters.datasets import DataCenterLabels, write_chip_masks
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.synthetic import SyntheticDataset


def _datamodule(scenes: SyntheticDataset, **kwargs: object) -> DataCenterDataModule:
    defaults = {"batch_size": 4, "patch_size": 64, "length": 8, "split_cell_size": 300.0, "seed": 3}
    return DataCenterDataModule(
        paths=str(scenes.scene_paths[0].parent),
        label_path=str(scenes.labels_path),
        **{**defaults, **kwargs},
    )


def _patch_boxes(sampler) -> list[shapely.Polygon]:
    return [shapely.box(x.start, y.start, x.stop, y.stop) for x, y in sampler]


def test_split_has_no_overlap_between_train_val_and_test(
    synthetic_scenes: SyntheticDataset,
) -> None:
    dm = _datamodule(synthetic_scenes, length=400)
    dm.setup("fit")
    dm.setup("test")
    regions = dm.split.regions
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert regions[a].intersection(regions[b]).area == 0
    cells = dm.split.cells
    assert set(cells["split"]) == {"train", "val", "test"}
    # Data centers are spread so that val and test both have some.
    assert cells.groupby("split")["has_datacenter"].any().all()
    train = shapely.union_all(_patch_boxes(dm.train_sampler))
    val = _patch_boxes(dm.val_sampler)
    test = _patch_boxes(dm.test_sampler)
    assert val and test
    for box in val + test:
        assert box.intersection(train).area == 0
    assert shapely.union_all(val).intersection(shapely.union_all(test)).area == 0


def test_split_is_seeded(synthetic_scenes: SyntheticDataset) -> None:
    splits = []
    for seed in (3, 3, 4):
        dm = _datamodule(synthetic_scenes, seed=seed)
        dm.setup("fit")
        splits.append(list(dm.split.cells["split"]))
    assert splits[0] == splits[1]
    assert splits[0] != splits[2]


def test_batches_are_normalised_and_augmented_together(synthetic_scenes: SyntheticDataset) -> None:
    dm = _datamodule(synthetic_scenes, mean=[100.0] * 4, std=[50.0] * 4)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (4, 4, 64, 64)
    assert batch["mask"].shape == (4, 64, 64)
    raw = batch["image"].clone()
    # Validation: exactly (pixel - mean) / std.
    val_batch = dm.aug({"image": raw.clone(), "mask": batch["mask"].clone()})
    torch.testing.assert_close(val_batch["image"], (raw - 100) / 50)
    # Training augmentation keeps masks binary and moves them with the image: a flip
    # or rotation of image and mask together keeps bright roof pixels under the mask.
    torch.manual_seed(0)
    train = dm.train_aug({"image": raw.clone(), "mask": batch["mask"].clone()})
    assert set(train["mask"].unique().tolist()) <= {0, 1}
    assert train["mask"].sum() == batch["mask"].sum()
    mask = batch["mask"].bool()
    if mask.any():
        inside = raw[:, 0][mask].mean()
        assert train["image"][:, 0][train["mask"].bool()].mean() * 50 + 100 == pytest.approx(
            float(inside), rel=0.2
        )


def test_metadata_for_the_checkpoint(synthetic_scenes: SyntheticDataset) -> None:
    dm = _datamodule(synthetic_scenes, multiclass=True)
    assert dm.bands == ["R", "G", "B", "NIR"]
    assert dm.gsd == 0.6 and dm.patch_size == 64
    # mean, std and value_range come from the imagery, at setup.
    assert dm.mean is None and dm.std is None and dm.value_range is None
    dm.setup("fit")
    pixels = np.concatenate(
        [rasterio.open(p).read().reshape(4, -1) for p in synthetic_scenes.scene_paths], axis=1
    )
    # Statistics of every 8th pixel: within 2% of those of all pixels.
    np.testing.assert_allclose(dm.mean, pixels.mean(axis=1), rtol=0.02)
    np.testing.assert_allclose(dm.std, pixels.std(axis=1), rtol=0.02)
    assert dm.value_range == [0.0, 255.0]
    assert dm.class_names == ["background", "datacenter", "warehouse", "retail", "other"]
    assert dm.data_spec == DataSpec(
        bands=("R", "G", "B", "NIR"),
        dtype="uint8",
        value_range=(0.0, 255.0),
        gsd=0.6,
        mean=tuple(dm.mean),
        std=tuple(dm.std),
        patch_size=64,
    )


def test_data_spec_waits_for_the_normalisation(synthetic_scenes: SyntheticDataset) -> None:
    with pytest.raises(TGDCError, match="data_spec: the normalisation is not known before setup"):
        assert _datamodule(synthetic_scenes).data_spec is None


def test_setup_opens_each_imagery_file_once_for_its_checks_and_statistics(
    synthetic_scenes: SyntheticDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bands, data type, pixel size and the statistics' sample come from one open per file.

    TorchGeo's index opens every file once more, to read its footprint.
    """
    opened: list[str] = []
    original = rasterio.open

    def counting_open(path: object, *args: object, **kwargs: object) -> object:
        opened.append(str(path))
        return original(path, *args, **kwargs)

    monkeypatch.setattr(rasterio, "open", counting_open)
    dm = _datamodule(synthetic_scenes)
    dm.setup("fit")
    files = sorted(str(path) for path in synthetic_scenes.scene_paths)
    assert sorted(opened) == sorted(files * 2)
    assert dm.statistics is not None and dm.data_spec.mean == tuple(dm.statistics.mean)
    # A second stage keeps the statistics: one open per file, for the index, and the
    # checks.
    opened.clear()
    dm.setup("test")
    assert sorted(opened) == sorted(files * 2)


def test_predict_uses_imagery_alone(synthetic_scenes: SyntheticDataset) -> None:
    dm = _datamodule(synthetic_scenes)
    dm.setup("predict")
    batch = next(iter(dm.predict_dataloader()))
    assert "mask" not in batch and batch["image"].shape[1:] == (4, 64, 64)


def test_prechipped_mode(tmp_path: Path, synthetic_scenes: SyntheticDataset) -> None:
    masks = tmp_path / "masks"
    chips_dir = synthetic_scenes.scene_paths[0].parent
    write_chip_masks(
        chips_dir,
        DataCenterLabels(synthetic_scenes.labels_path),
        masks,
        pattern="scene_*.tif",
        progress=False,
    )
    dm = DataCenterDataModule(
        paths=str(chips_dir),
        masks_dir=str(masks),
        batch_size=2,
        patch_size=512,
        filename_glob="scene_*.tif",
        split_cell_size=300.0,
    )
    dm.setup("fit")
    total = len(dm.train_sampler) + len(dm.val_sampler)
    dm.setup("test")
    assert total + len(dm.test_sampler) == len(synthetic_scenes.scene_paths)
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape[1:] == (4, 512, 512) and batch["mask"].shape[1:] == (512, 512)
    assert batch["mask"].max() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label_path": None}, "exactly one"),
        ({"patch_size": 0}, "must be positive"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "must be in"),
        ({"mean": [1.0, 2.0]}, "mean/std"),
    ],
)
def test_invalid_options(synthetic_scenes: SyntheticDataset, kwargs: dict, message: str) -> None:
    base = {
        "paths": str(synthetic_scenes.scene_paths[0].parent),
        "label_path": str(synthetic_scenes.labels_path),
    }
    with pytest.raises(TGDCError, match=message):
        DataCenterDataModule(**{**base, **kwargs})


def test_labels_elsewhere_are_a_clear_error(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    import geopandas as gpd

    far = gpd.GeoDataFrame(
        {"fid": [1], "class": ["datacenter"], "name": ["x"], "label": [True]},
        geometry=[shapely.box(-100.0, 30.0, -99.99, 30.01)],
        crs="OGC:CRS84",
    )
    far.to_file(tmp_path / "far.geojson")
    dm = DataCenterDataModule(
        paths=str(synthetic_scenes.scene_paths[0].parent), label_path=str(tmp_path / "far.geojson")
    )
    with pytest.raises(TGDCError, match="do not overlap"):
        dm.setup("fit")


def _uint16_scenes(
    tmp_path: Path, scenes: SyntheticDataset, scale: int = 16, offset: int = 0
) -> Path:
    """The synthetic scenes as uint16: value x *scale* + *offset* (default 12-bit, 0-4080)."""
    import rasterio

    for scene in scenes.scene_paths:
        with rasterio.open(scene) as src:
            profile, pixels = src.profile, src.read().astype("uint16") * scale + offset
        profile.update(dtype="uint16")
        with rasterio.open(tmp_path / scene.name, "w", **profile) as dst:
            dst.write(pixels)
    return tmp_path


def test_every_stage_normalises_uint16_alike_and_augmentation_never_clips(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    from types import SimpleNamespace

    dm = DataCenterDataModule(
        paths=str(_uint16_scenes(tmp_path, synthetic_scenes)),
        label_path=str(synthetic_scenes.labels_path),
        batch_size=8,
        patch_size=64,
        length=8,
        split_cell_size=300.0,
        dtype="uint16",
        mean=[0.0] * 4,
        std=[4095.0] * 4,
    )
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    raw = batch["image"].clone()
    assert raw.max() > 255
    expected = raw / 4095
    stages = ("training", "validating", "testing", "predicting")
    outputs = {}
    torch.manual_seed(0)
    for stage in stages:
        dm.trainer = SimpleNamespace(sanity_checking=False, **{s: s == stage for s in stages})
        outputs[stage] = dm.on_after_batch_transfer(
            {"image": raw.clone(), "mask": batch["mask"].clone()}, 0
        )["image"]
    for stage in stages[1:]:
        torch.testing.assert_close(outputs[stage], expected)
    # Training: flips and rotations keep each patch's values, brightness and contrast
    # map them affinely; clipping would flatten the bright end.
    for trained, normalised in zip(outputs["training"], expected, strict=True):
        x, y = normalised.flatten().sort().values, trained.flatten().sort().values
        design = torch.stack([x, torch.ones_like(x)], dim=1)
        fit = torch.linalg.lstsq(design, y[:, None]).solution
        torch.testing.assert_close(design @ fit, y[:, None], atol=1e-4, rtol=0)
        assert fit[0] > 0.8


def test_small_area_split_advice_works(tmp_path: Path, synthetic_scenes: SyntheticDataset) -> None:
    """One 307 m scene: the automatic split cannot work, and its advice (val_area) does."""
    import geopandas as gpd
    import rasterio

    scene = synthetic_scenes.scene_paths[0]
    options = {
        "paths": str(scene),
        "label_path": str(synthetic_scenes.labels_path),
        "batch_size": 2,
        "patch_size": 64,
        "length": 16,
        "split_cell_size": 300.0,
    }
    with pytest.raises(TGDCError, match="give the val area as a polygon file with val_area"):
        DataCenterDataModule(**options).setup("fit")
    with rasterio.open(scene) as src:
        _, bottom, right, top = src.bounds
        crs = src.crs
    val_box = shapely.box(right - 100, bottom, right, top)
    gpd.GeoDataFrame(geometry=[val_box], crs=crs).to_file(tmp_path / "val.geojson")
    dm = DataCenterDataModule(**options, val_area=str(tmp_path / "val.geojson"))
    dm.setup("fit")
    val = _patch_boxes(dm.val_sampler)
    train = _patch_boxes(dm.train_sampler)
    assert val and train
    assert all(box.intersection(val_box).area == 0 for box in train)
    # torchgeo's grid sampler lays whole patches over the area's edge; the training
    # patches keep a patch width (64 px x 0.6 m) away, so they never meet a val patch.
    assert all(box.intersects(val_box) for box in val)
    assert all(val_box.buffer(64 * 0.6 + 1e-6).contains(box) for box in val)
    assert shapely.union_all(train).intersection(shapely.union_all(val)).area == 0
    with pytest.raises(TGDCError, match="test_area"):
        dm.setup("test")


def test_split_seed_is_separate_from_the_sampling_seed(
    synthetic_scenes: SyntheticDataset,
) -> None:
    runs = []
    for seed in (3, 4):
        dm = _datamodule(synthetic_scenes, seed=seed, split_seed=7)
        dm.setup("fit")
        runs.append((list(dm.split.cells["split"]), _patch_boxes(dm.train_sampler)))
    assert runs[0][0] == runs[1][0]
    assert runs[0][1] != runs[1][1]


def test_fit_reports_the_validation_split_and_warns_when_it_cannot_rank(
    synthetic_scenes: SyntheticDataset, capsys: pytest.CaptureFixture[str]
) -> None:
    dm = _datamodule(synthetic_scenes)
    with pytest.warns(UserWarning, match="raise data.init_args.val_fraction") as caught:
        dm.setup("fit")
    split = dm.validation_split
    assert split is not None and split.patches == len(dm.val_sampler) > 0
    # The sites counted are those of the labels inside the validation region.
    labels = DataCenterLabels(synthetic_scenes.labels_path, res=0.6)
    labels.crs = dm.train_dataset.crs
    inside = labels.features.geometry.representative_point().within(dm.regions["val"])
    assert split.datacenters == int((labels.features["site_class"][inside] == "datacenter").sum())
    assert sum(split.sites.values()) == int(inside.sum())
    assert split.datacenters < MIN_VALIDATION_DATACENTERS
    (message,) = [str(w.message) for w in caught if "rank epochs" in str(w.message)]
    assert "\n" not in message
    assert f"holds {split.datacenters} labelled data center(s)" in message
    # The option named enlarges the split: more validation cells, more sites.
    larger = _datamodule(synthetic_scenes, val_fraction=0.5, test_fraction=0.0)
    with pytest.warns(UserWarning):
        larger.setup("fit")
    assert larger.validation_split is not None
    assert larger.validation_split.patches > split.patches
    assert sum(larger.validation_split.sites.values()) > sum(split.sites.values())


def test_a_split_that_can_rank_gives_no_warning() -> None:
    split = ValidationSplit(40, {"datacenter": MIN_VALIDATION_DATACENTERS, "warehouse": 3})
    assert split.can_rank
    assert (
        split.describe()
        == "validation split: 40 patches, 10 labelled data center(s) and 3 warehouse"
    )
    assert not ValidationSplit(40, {"datacenter": MIN_VALIDATION_DATACENTERS - 1}).can_rank


@pytest.mark.parametrize(("datacenters", "share"), [(0, "100%"), (1, "100%"), (3, "33%")])
def test_a_split_too_small_to_rank_says_how_much_one_site_moves_iou(
    datacenters: int, share: str
) -> None:
    line = ValidationSplit(40, {"datacenter": datacenters}).too_few("give a val_area")
    assert line == (
        f"the validation split holds {datacenters} labelled data center(s), fewer than the 10"
        f" needed to rank epochs (one site moves validation IoU by about {share}), so"
        " best.ckpt is picked by chance: detect with last.ckpt, or give a val_area"
    )


def test_no_room_for_a_training_patch_is_said_so(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    """A 100 m strip left to train, less a 77 m margin: said so, not a sampler's error."""
    import geopandas as gpd
    import rasterio

    scene = synthetic_scenes.scene_paths[0]
    with rasterio.open(scene) as src:
        left, bottom, right, top = src.bounds
        crs = src.crs
    area = tmp_path / "val.geojson"
    gpd.GeoDataFrame(geometry=[shapely.box(left + 100, bottom, right, top)], crs=crs).to_file(area)
    options = {"paths": str(scene), "label_path": str(synthetic_scenes.labels_path), "length": 4}
    dm = DataCenterDataModule(**options, patch_size=128, val_area=str(area))
    with pytest.raises(
        TGDCError, match=r"no room for a train patch \(128 px = 76.8 m\); give smaller"
    ):
        dm.setup("fit")
    # Its advice works: a smaller validation area leaves room to train.
    gpd.GeoDataFrame(geometry=[shapely.box(left + 200, bottom, right, top)], crs=crs).to_file(area)
    with pytest.warns(UserWarning, match="give a larger data.init_args.val_area"):
        DataCenterDataModule(**options, patch_size=128, val_area=str(area), site_share=0.0).setup(
            "fit"
        )


def test_imagery_of_another_pixel_size_is_resampled_with_a_message(
    synthetic_scenes: SyntheticDataset,
) -> None:
    """0.6 m scenes with gsd 0.5: one line per file says so; patches are at 0.5 m."""
    dm = _datamodule(synthetic_scenes, gsd=0.5)
    with pytest.warns(UserWarning, match=r"pixel size 0.6 m differs from gsd 0.5 m") as caught:
        images, _ = dm._datasets()
    lines = [str(w.message) for w in caught if "differs from gsd" in str(w.message)]
    assert len(lines) == len(synthetic_scenes.scene_paths)
    assert all("\n" not in line and "set data.init_args.gsd to 0.6" in line for line in lines)
    assert images.res == (0.5, 0.5)


def test_low_contrast_uint16_is_normalised_by_its_own_statistics(
    synthetic_scenes: SyntheticDataset, low_contrast_uint16: Path
) -> None:
    """With no mean/std given, 12-bit low-contrast imagery reaches the model with unit spread."""
    options = {"label_path": str(synthetic_scenes.labels_path), "dtype": "uint16"}
    dm = DataCenterDataModule(str(low_contrast_uint16), **options, patch_size=64, batch_size=8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.setup("fit")
    assert not [w for w in caught if "nearly constant" in str(w.message)]
    assert all(1000 < m < 2020 for m in dm.mean) and all(0 < s < 255 for s in dm.std)
    # The value range --input-scale auto maps onto: the imagery's own, not uint16's.
    low, high = dm.value_range
    assert 1000 <= low < high <= 2020
    batch = next(iter(dm.val_dataloader()))
    normalised = dm.aug({"image": batch["image"].float(), "mask": batch["mask"]})["image"]
    valid = batch["image"] > 0  # patches over the scenes' edges hold nodata
    assert 0.5 < float(normalised[valid].std()) < 2.0
    # Brightness jitter is a share of that spread: no shift beyond one standard deviation.
    torch.manual_seed(0)
    shifts = [
        float(
            (dm.train_aug({"image": batch["image"].float(), "mask": batch["mask"]})["image"]).mean()
            - normalised.mean()
        )
        for _ in range(20)
    ]
    assert max(abs(x) for x in shifts) <= 1.2 and max(abs(x) for x in shifts) > 0.05


def test_nearly_constant_normalised_imagery_is_warned_with_working_advice(
    synthetic_scenes: SyntheticDataset, low_contrast_uint16: Path
) -> None:
    """A given mean/std that flattens the imagery is warned about in one line."""
    options = {"label_path": str(synthetic_scenes.labels_path), "dtype": "uint16"}
    dm = DataCenterDataModule(
        str(low_contrast_uint16), **options, mean=[0.0] * 4, std=[65535.0] * 4
    )
    with pytest.warns(UserWarning, match="the normalised imagery is nearly constant") as caught:
        dm.setup("fit")
    (line,) = [str(w.message) for w in caught if "nearly constant" in str(w.message)]
    assert "\n" not in line and "leave data.init_args.mean and std unset" in line
    mean = json.loads(re.findall(r"mean (\[[^\]]+\])\,", line)[-1])
    assert all(1000 < m < 2020 for m in mean)
    # The advice works: left unset, there is no warning (the test above).


def test_a_constant_band_is_refused_in_one_line(tmp_path: Path) -> None:
    from rasterio.transform import from_origin

    path = tmp_path / "flat.tif"
    pixels = np.random.default_rng(0).integers(0, 255, (4, 64, 64)).astype("uint8")
    pixels[3] = 7
    profile = {"driver": "GTiff", "width": 64, "height": 64, "count": 4, "dtype": "uint8"}
    with rasterio.open(
        path, "w", **profile, crs="EPSG:32618", transform=from_origin(300000, 4300000, 0.6, 0.6)
    ) as dst:
        dst.write(pixels)
    dm = DataCenterDataModule(str(tmp_path), label_path="unused.geojson")
    with pytest.raises(TGDCError, match=r"band NIR of the training imagery is constant \(7\)"):
        dm.fit_normalization([str(path)])


def test_real_naip_tiles_are_spread_enough() -> None:
    naip = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "naip"
    files = sorted(str(p) for p in naip.glob("*.tif"))
    if not files:
        pytest.skip("../shared/data/naip (real NAIP tiles) is absent")
    dm = DataCenterDataModule(files, label_path="unused.geojson", mean=[0.0] * 4, std=[255.0] * 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dm.fit_normalization(files)
    assert not [w for w in caught if "nearly constant" in str(w.message)]
    # By default the tiles are normalised by their own statistics: unit spread.
    own = DataCenterDataModule(files, label_path="unused.geojson")
    own.fit_normalization(files)
    assert own.statistics is not None and own.value_range == [0.0, 255.0]
    assert own.std == own.statistics.std and all(20 < s < 80 for s in own.std)
