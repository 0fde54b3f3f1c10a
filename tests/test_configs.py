"""The YAML configs run through TorchGeo's own CLI (`torchgeo fit/test --config`)."""

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import segmentation_models_pytorch as smp
import torch
import yaml
from lightning.pytorch import LightningModule
from lightning.pytorch.cli import LightningCLI
from torchgeo.datamodules import BaseDataModule
from torchgeo.main import main as torchgeo_main
from torchgeo.tasks import BaseTask

from torchgeo_datacenters import __version__
from torchgeo_datacenters.cli import main
from torchgeo_datacenters.datamodules.normalization import band_statistics
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.synthetic import SyntheticDataset
from torchgeo_datacenters.tasks import DataCenterSegmentation

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _overrides(root: Path, scenes: SyntheticDataset) -> list[str]:
    return [
        "--data.init_args.paths",
        str(scenes.scene_paths[0].parent),
        "--data.init_args.label_path",
        str(scenes.labels_path),
        "--data.init_args.patch_size",
        "64",
        "--data.init_args.batch_size",
        "2",
        "--data.init_args.split_cell_size",
        "300",
        "--data.init_args.test_fraction",
        "0.15",
        "--trainer.default_root_dir",
        str(root),
        "--trainer.logger",
        "false",
    ]


def test_demo_config_fit_and_test_in_process(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    config = str(CONFIGS / "demo.yaml")
    common = _overrides(tmp_path, synthetic_scenes)
    torchgeo_main(["fit", "--config", config, *common, "--trainer.fast_dev_run", "1"])
    torchgeo_main(["test", "--config", config, *common, "--trainer.fast_dev_run", "1"])


def test_torchgeo_fit_ends_without_an_excepthook_error(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    """`torchgeo fit` from a terminal ends with its own output, not Python's shutdown errors.

    Lightning's argument parser keeps the run's datamodule, and the files its dataset
    holds open, until Python has torn its modules down; were they closed then, every one
    would print an empty ``Error in sys.excepthook`` block.
    """
    config = str(CONFIGS / "demo.yaml")
    common = _overrides(tmp_path, synthetic_scenes)
    short = ["--trainer.fast_dev_run", "1", "--trainer.enable_progress_bar", "false"]
    done = subprocess.run(
        [sys.executable, "-m", "torchgeo", "fit", "--config", config, *common, *short],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "`Trainer.fit` stopped" in done.stderr  # it trained, reading the scenes
    assert "Error in sys.excepthook" not in done.stderr


def test_demo_config_writes_a_self_describing_checkpoint(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    config = str(CONFIGS / "demo.yaml")
    config_text = (CONFIGS / "demo.yaml").read_text()
    args = [
        "fit",
        "--config",
        config,
        *_overrides(tmp_path, synthetic_scenes),
        "--trainer.max_epochs",
        "1",
        # Integers count batches; jsonargparse reads "1" as 1.0 (all batches).
        "--trainer.limit_train_batches",
        "2",
        "--trainer.limit_val_batches",
        "2",
        "--trainer.enable_checkpointing",
        "true",
    ]
    torchgeo_main(args)
    checkpoints = sorted((tmp_path / "checkpoints").glob("*.ckpt"))
    assert checkpoints
    task = DataCenterSegmentation.load_from_checkpoint(checkpoints[0], map_location="cpu")
    hparams = task.hparams
    assert hparams["model"] == "unet4"
    assert hparams["bands"] == ["R", "G", "B", "NIR"]
    assert hparams["gsd"] == pytest.approx(0.6)
    # The normalisation is the training imagery's own.
    files = [str(p) for p in synthetic_scenes.scene_paths]
    statistics = band_statistics(files, hparams["bands"])
    assert hparams["mean"] == statistics.mean and hparams["std"] == statistics.std
    assert hparams["value_range"] == [0.0, 255.0]
    assert hparams["patch_size"] == 64
    assert hparams["threshold"] == yaml.safe_load(config_text)["model"]["init_args"]["threshold"]
    assert hparams["class_names"] == ["background", "datacenter"]
    assert hparams["package_version"] == __version__
    probabilities = task.predict_probabilities(torch.zeros(1, 4, 32, 32))
    assert probabilities.shape == (1, 32, 32)


def test_a_checkpoint_run_on_other_imagery_normalises_as_it_trained(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    """Validating a checkpoint on one scene uses the training imagery's mean/std, not its own."""
    from lightning.pytorch import Trainer

    from torchgeo_datacenters.datamodules import DataCenterDataModule

    options = {"label_path": str(synthetic_scenes.labels_path), "patch_size": 64}
    options |= {"batch_size": 2, "split_cell_size": 300.0, "length": 4}
    trainer = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False}
    trained = DataCenterDataModule(str(synthetic_scenes.scene_paths[0].parent), **options)
    Trainer(max_epochs=1, limit_val_batches=1, default_root_dir=tmp_path, **trainer).fit(
        DataCenterSegmentation(model="unet4"), datamodule=trained
    )
    (checkpoint,) = (tmp_path / "checkpoints").glob("*.ckpt")
    one_scene = DataCenterDataModule(
        str(synthetic_scenes.scene_paths[0]), **options, val_fraction=0.5
    )
    task = DataCenterSegmentation(model="unet4")
    Trainer(limit_val_batches=1, **trainer).validate(
        task, datamodule=one_scene, ckpt_path=checkpoint, verbose=False
    )
    assert one_scene.statistics is not None and one_scene.statistics.mean != trained.mean
    assert one_scene.mean == trained.mean and one_scene.std == trained.std
    assert task.hparams["mean"] == trained.mean
    raw = torch.full((1, 4, 8, 8), 100.0)
    expected = (100.0 - torch.tensor(trained.mean)) / torch.tensor(trained.std)
    normalised = one_scene.aug({"image": raw, "mask": torch.zeros(1, 8, 8)})["image"]
    torch.testing.assert_close(normalised[0, :, 0, 0], expected)


def test_torchgeo_models_train_through_the_config(
    tmp_path: Path, synthetic_scenes: SyntheticDataset
) -> None:
    """TorchGeo's own models (here smp U-Net, ResNet18) go through the same config."""
    args = [
        "fit",
        "--config",
        str(CONFIGS / "demo.yaml"),
        *_overrides(tmp_path, synthetic_scenes),
        "--model.init_args.model",
        "unet",
        "--model.init_args.backbone",
        "resnet18",
        "--trainer.max_epochs",
        "1",
        "--trainer.limit_train_batches",
        "1",
        "--trainer.limit_val_batches",
        "1",
        "--trainer.enable_checkpointing",
        "true",
    ]
    torchgeo_main(args)
    checkpoint = sorted((tmp_path / "checkpoints").glob("*.ckpt"))[0]
    task = DataCenterSegmentation.load_from_checkpoint(checkpoint, map_location="cpu")
    assert isinstance(task.model, smp.Unet)
    assert task.predict_probabilities(torch.zeros(1, 4, 64, 64)).shape == (1, 64, 64)


def test_config_multiclass_derives_the_class_count(tmp_path: Path) -> None:
    """Through LightningCLI the task gets the config's arguments as hyperparameters."""
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=[
            "--config",
            str(CONFIGS / "demo.yaml"),
            "--model.init_args.task",
            "multiclass",
            "--model.init_args.loss",
            "ce",
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.logger",
            "false",
        ],
        run=False,
    )
    hparams = cli.model.hparams
    assert hparams["class_names"] == ["background", "datacenter", "warehouse", "retail", "other"]
    assert hparams["num_classes"] == 5
    assert cli.model.model(torch.zeros(1, 4, 32, 32)).shape == (1, 5, 32, 32)


def test_a_config_lists_several_imagery_folders(tmp_path: Path) -> None:
    """``paths`` as a YAML list (or ``--data.init_args.paths '[a, b]'``) stays a list."""
    folders = [str(tmp_path / "scenes"), str(tmp_path / "chips")]
    args = ["--config", str(CONFIGS / "demo.yaml"), "--trainer.logger", "false"]
    args += ["--trainer.default_root_dir", str(tmp_path), "--data.init_args.paths"]
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=[*args, f"[{', '.join(folders)}]"],
        run=False,
    )
    assert cli.datamodule.paths == folders


@pytest.mark.parametrize("name", ["datacenters.yaml", "demo.yaml"])
def test_configs_name_our_classes(name: str) -> None:
    config = yaml.safe_load((CONFIGS / name).read_text())
    assert config["model"]["class_path"] == "torchgeo_datacenters.tasks.DataCenterSegmentation"
    assert config["data"]["class_path"] == "torchgeo_datacenters.datamodules.DataCenterDataModule"
    monitors = [c.get("init_args", {}).get("monitor") for c in config["trainer"]["callbacks"]]
    assert "val_iou" in monitors


def test_demo_threshold_is_even_odds_under_its_pos_weight() -> None:
    """BCE with the demo's pos_weight sends an even-odds pixel to the demo's threshold."""
    init_args = yaml.safe_load((CONFIGS / "demo.yaml").read_text())["model"]["init_args"]
    criterion = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(init_args["pos_weight"]))
    logit = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([logit], lr=1.0)
    for _ in range(300):  # one pixel, labelled data center half the time
        optimizer.zero_grad()
        criterion(logit.expand(2), torch.tensor([0.0, 1.0])).backward()
        optimizer.step()
    assert torch.sigmoid(logit).item() == pytest.approx(init_args["threshold"], abs=1e-3)


@pytest.mark.parametrize("imagery", ["uint8", "low-contrast uint16"])
def test_unet4_learns_synthetic_data_centers(
    tmp_path: Path,
    synthetic_scenes: SyntheticDataset,
    low_contrast_uint16: Path,
    imagery: str,
) -> None:
    """A short CPU training run lifts validation IoU clearly above the untrained model.

    Also on 12-bit imagery using a sixteenth of its uint16 range, with no mean/std given:
    normalised by its own statistics, it learns as the uint8 scenes do.
    """
    from lightning.pytorch import Trainer, seed_everything

    from torchgeo_datacenters.datamodules import DataCenterDataModule

    seed_everything(0, workers=True)
    paths, dtype = str(synthetic_scenes.scene_paths[0].parent), "uint8"
    if imagery != "uint8":
        paths, dtype = str(low_contrast_uint16), "uint16"
    datamodule = DataCenterDataModule(
        paths=paths,
        dtype=dtype,
        label_path=str(synthetic_scenes.labels_path),
        batch_size=8,
        patch_size=64,
        length=64,
        split_cell_size=300.0,
        val_fraction=0.2,
        test_fraction=0.0,
        # A split whose validation cells hold a data center and a look-alike of the
        # session's scenes (the datamodule reports it): without one, IoU stays 0.
        seed=3,
    )
    # A constant rate: 24 steps decayed along a cosine are too few to show learning here.
    task = DataCenterSegmentation(
        model="unet4", loss="bce+dice", pos_weight=2.0, lr=0.003, lr_schedule="plateau"
    )
    options = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        "deterministic": True,
    }
    check = Trainer(**options)
    before = check.validate(task, datamodule=datamodule, verbose=False)[0]
    Trainer(max_epochs=3, limit_val_batches=4, **options).fit(task, datamodule=datamodule)
    after = check.validate(task, datamodule=datamodule, verbose=False)[0]
    assert before["val_iou"] < 0.2
    assert after["val_iou"] > before["val_iou"] + 0.25


class _ScriptedValidation(LightningModule):
    """A one-weight model whose validation IoU follows a script, one value per epoch."""

    def __init__(self, scores: list[float]) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.scores = scores

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return (self.weight - batch).pow(2).mean()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val_iou", self.scores[self.current_epoch])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("name", ["datacenters.yaml", "demo.yaml"])
def test_last_checkpoint_holds_the_final_weights(tmp_path: Path, name: str) -> None:
    """last.ckpt is the last epoch even when it is not the best; best*.ckpt is the best."""
    cli = LightningCLI(
        model_class=BaseTask,
        datamodule_class=BaseDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=[
            "--config",
            str(CONFIGS / name),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.logger",
            "lightning.pytorch.loggers.CSVLogger",
            "--trainer.logger.save_dir",
            str(tmp_path),
            "--trainer.max_epochs",
            "3",
            "--trainer.accelerator",
            "cpu",
            "--trainer.devices",
            "1",
        ],
        run=False,
    )
    model = _ScriptedValidation([0.5, 0.9, 0.1])
    data = torch.utils.data.DataLoader(torch.ones(4, 1), batch_size=2)
    cli.trainer.fit(model, train_dataloaders=data, val_dataloaders=data)
    (checkpoints,) = tmp_path.rglob("checkpoints")
    last = torch.load(checkpoints / "last.ckpt", weights_only=True)
    (best_path,) = checkpoints.glob("best*.ckpt")
    best = torch.load(best_path, weights_only=True)
    assert last["epoch"] == 2 and best["epoch"] == 1
    torch.testing.assert_close(last["state_dict"]["weight"], model.weight.detach())
    assert not torch.equal(best["state_dict"]["weight"], model.weight.detach())


def _band_subset(root: Path, scenes: SyntheticDataset, indexes: list[int]) -> Path:
    """The synthetic scenes with only the given bands (1-based), as another sensor's."""
    import rasterio

    root.mkdir()
    for scene in scenes.scene_paths:
        with rasterio.open(scene) as src:
            profile, pixels = src.profile, src.read(indexes)
        profile.update(count=len(indexes))
        with rasterio.open(root / scene.name, "w", **profile) as dst:
            dst.write(pixels)
    return root


@pytest.mark.parametrize(("bands", "indexes"), [(["PAN"], [1]), (["R", "G", "B"], [1, 2, 3])])
def test_other_band_sets_train_and_detect(
    tmp_path: Path, synthetic_scenes: SyntheticDataset, bands: list[str], indexes: list[int]
) -> None:
    """One ``data.bands`` setting reaches the dataset, normalisation, model and predictor."""
    from torchgeo_datacenters.inference import Predictor

    imagery = _band_subset(tmp_path / "imagery", synthetic_scenes, indexes)
    overrides = _overrides(tmp_path / "run", synthetic_scenes)
    overrides[overrides.index("--data.init_args.paths") + 1] = str(imagery)
    torchgeo_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "demo.yaml"),
            *overrides,
            "--data.init_args.bands",
            str(bands),
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "2",
            "--trainer.limit_val_batches",
            "1",
        ]
    )
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    hparams = torch.load(checkpoint, weights_only=True)["hyper_parameters"]
    assert hparams["in_channels"] == len(bands) and hparams["bands"] == bands
    assert hparams["dtype"] == "uint8" and hparams["value_range"] == [0.0, 255.0]
    assert hparams["gsd"] == pytest.approx(0.6)
    own = band_statistics([str(p) for p in sorted(imagery.glob("*.tif"))], bands)
    assert hparams["mean"] == own.mean and hparams["std"] == own.std
    predictor = Predictor(checkpoint, device="cpu", num_workers=0)
    scene = imagery / synthetic_scenes.scene_paths[0].name
    predictor.predict(scene, output_mask=tmp_path / "mask.tif")
    import rasterio

    with rasterio.open(tmp_path / "mask.tif") as mask, rasterio.open(scene) as src:
        assert mask.shape == src.shape and mask.transform == src.transform


def test_default_root_dir_moves_everything_a_run_writes(
    tmp_path: Path, synthetic_scenes: SyntheticDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One --trainer.default_root_dir holds the logs and checkpoints; nothing lands elsewhere."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    root = tmp_path / "run"
    overrides = _overrides(root, synthetic_scenes)
    del overrides[overrides.index("--trainer.logger") : overrides.index("--trainer.logger") + 2]
    torchgeo_main(
        [
            "fit",
            "--config",
            str(CONFIGS / "demo.yaml"),
            *overrides,
            "--trainer.max_epochs",
            "1",
            "--trainer.limit_train_batches",
            "1",
            "--trainer.limit_val_batches",
            "1",
        ]
    )
    assert list(cwd.iterdir()) == []
    assert (root / "csv" / "version_0" / "metrics.csv").is_file()
    assert list((root / "tensorboard" / "version_0").glob("events.out.tfevents.*"))
    checkpoints = root / "csv" / "version_0" / "checkpoints"
    assert (checkpoints / "last.ckpt").is_file() and list(checkpoints.glob("best*.ckpt"))


def test_a_run_refused_before_it_logs_leaves_no_folder_behind(
    tmp_path: Path, synthetic_scenes: SyntheticDataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lightning makes the loggers' folders before the datamodule's checks refuse the run."""
    monkeypatch.chdir(tmp_path)
    overrides = _overrides(tmp_path, synthetic_scenes)
    del overrides[overrides.index("--trainer.logger") : overrides.index("--trainer.logger") + 2]
    labels = overrides.index("--data.init_args.label_path") + 1
    overrides[labels] = str(tmp_path / "missing.geojson")
    root = overrides.index("--trainer.default_root_dir") + 1

    def refused(folder: Path) -> None:
        overrides[root] = str(folder)
        args = ["fit", "--config", str(CONFIGS / "demo.yaml"), *overrides]
        with pytest.raises(TGDCError, match=r"missing\.geojson: label file does not exist"):
            torchgeo_main(args)

    # A root that did not exist goes, with the folders above it that the run made.
    refused(tmp_path / "new" / "run")
    assert not (tmp_path / "new").exists()
    # A root that existed stays, with what it held; only the run's own folders go.
    kept = tmp_path / "runs"
    (kept / "csv" / "version_0" / "checkpoints").mkdir(parents=True)
    (kept / "notes.txt").write_text("earlier runs")
    refused(kept)
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*")) == [
        "csv",
        "csv/version_0",
        "csv/version_0/checkpoints",
        "notes.txt",
    ]


def test_retraining_starts_from_a_checkpoint_on_merged_review_labels(
    tmp_path: Path, synthetic_scenes: SyntheticDataset, capsys: pytest.CaptureFixture
) -> None:
    """The README's retrain route: a checkpoint plus merged verdicts to a new checkpoint."""
    config = str(CONFIGS / "demo.yaml")
    short = ["--trainer.max_epochs", "1", "--trainer.enable_checkpointing", "true"]
    # Integers count batches; jsonargparse reads "1" as 1.0 (all batches).
    short += ["--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "2"]
    first = tmp_path / "first"
    torchgeo_main(["fit", "--config", config, *_overrides(first, synthetic_scenes), *short])
    (previous,) = (first / "checkpoints").glob("last*.ckpt")

    # Every SYNTHETIC label judged on a review page of run 0123456789ab, then merged.
    labels = synthetic_scenes.labels
    verdicts = gpd.GeoDataFrame(
        {
            "class": labels["class"],
            "label": labels["label"],
            "verdict": np.where(labels["label"], "accepted", "rejected"),
            "detection_id": np.arange(1, len(labels) + 1),
            "reviewed_at": "2026-01-01T12:00:00.000Z",
            "run": "0123456789ab",
        },
        geometry=labels.geometry,
        crs=labels.crs,
    )
    verdicts.to_file(tmp_path / "review.geojson")
    merged = tmp_path / "merged.geojson"
    assert main(["labels", "merge", str(tmp_path / "review.geojson"), "--output", str(merged)]) == 0

    # Fine-tuning at learning rate 0 keeps the starting weights: they are the checkpoint's.
    second = tmp_path / "second"
    overrides = _overrides(second, synthetic_scenes)
    overrides[overrides.index("--data.init_args.label_path") + 1] = str(merged)
    start = ["--model.init_args.weights", str(previous), "--model.init_args.lr", "0"]
    torchgeo_main(["fit", "--config", config, *overrides, *short, *start])
    (retrained,) = (second / "checkpoints").glob("last*.ckpt")
    before = torch.load(previous, weights_only=True)["state_dict"]
    saved = torch.load(retrained, weights_only=True)
    # The raw weights exactly; their moving average (state_dict) to rounding.
    after, average = saved["current_model_state"], saved["state_dict"]
    convolutions = [k for k in before if k.endswith("weight") and before[k].ndim == 4]
    assert convolutions and all(torch.equal(before[k], after[k]) for k in convolutions)
    for k in convolutions:
        torch.testing.assert_close(average[k], before[k])

    # The checkpoint says what it was trained from and on, and loads without the first.
    capsys.readouterr()
    assert main(["describe", str(retrained)]) == 0
    text = capsys.readouterr().out
    assert f"weights:    trained from {previous}\n" in text
    assert f"labels:     {merged}\n" in text
    assert "reviews:    1 round(s): runs 0123456789ab\n" in text
    previous.unlink()
    task = DataCenterSegmentation.load_from_checkpoint(retrained, map_location="cpu")
    assert task.weights is None and task.hparams["review_runs"] == ["0123456789ab"]
