from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from lightning.pytorch import LightningDataModule, Trainer, seed_everything
from torch import Tensor
from torch.utils.data import DataLoader

import torchgeo_datacenters
from torchgeo_datacenters.checkpoint import DataSpec, ModelContract
from torchgeo_datacenters.errors import TGDCError
from torchgeo_datacenters.inference.model import read_checkpoint_facts
from torchgeo_datacenters.models import UNet4
from torchgeo_datacenters.tasks import DataCenterSegmentation

PIXEL_METRICS = ("dice", "iou", "precision", "recall")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # These small models run 3-4x faster on one thread than on two when other test
    # processes share the two cores (OpenMP threads wait on each other).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def synthetic_batch(count: int, size: int, seed: int, classes: int = 2) -> dict[str, Tensor]:
    """Noisy 4-band images with one rectangle each; the rectangle's class is its mask."""
    generator = torch.Generator().manual_seed(seed)
    image = torch.randn(count, 4, size, size, generator=generator)
    mask = torch.zeros(count, size, size, dtype=torch.long)
    for i in range(count):
        row, col, height, width = torch.randint(0, size // 2, (4,), generator=generator).tolist()
        label = 1 + i % (classes - 1)
        mask[i, row : row + height + 4, col : col + width + 4] = label
        # Data centers: bright red, dark NIR; hard negatives: another visible band bright.
        image[i, (label - 1) % 3, mask[i] == label] += 1.5
        image[i, 3, mask[i] == label] -= 1.5 if label == 1 else 0.0
    return {"image": image, "mask": mask}


class TinyDataModule(LightningDataModule):
    """In-memory train/val/test batches that describe their data as a task reads it."""

    def __init__(self, size: int = 64, count: int = 4, classes: int = 2, batch_size: int = 2):
        super().__init__()
        self.data_spec = DataSpec(
            bands=("R", "G", "B", "NIR"),
            gsd=0.6,
            mean=(110.0, 115.0, 100.0, 130.0),
            std=(40.0, 38.0, 35.0, 50.0),
            patch_size=size,
        )
        self.class_names = ["background", "datacenter"]
        self.label_files = ["labels.geojson"]
        self.review_runs: list[str] = []
        self.batch_size = batch_size
        self.splits = {
            split: synthetic_batch(count, size, seed, classes)
            for seed, split in enumerate(("train", "val", "test"))
        }

    def normalize_as(self, spec: DataSpec) -> None:
        self.data_spec = replace(self.data_spec, mean=spec.mean, std=spec.std)

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        data = self.splits[split]
        samples = [{key: value[i] for key, value in data.items()} for i in range(len(data["mask"]))]
        generator = torch.Generator().manual_seed(0)
        return DataLoader(samples, batch_size=self.batch_size, shuffle=shuffle, generator=generator)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")


def make_trainer(tmp_path: Path, **kwargs: object) -> Trainer:
    options: dict = {
        "accelerator": "cpu",
        "default_root_dir": tmp_path,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return Trainer(**(options | kwargs))


@pytest.mark.parametrize(
    ("model", "backbone", "model_class"),
    [("unet4", "resnet18", UNet4), ("unet", "resnet18", None), ("deeplabv3+", "resnet18", None)],
)
def test_builds_models(model: str, backbone: str, model_class: type | None) -> None:
    task = DataCenterSegmentation(model=model, backbone=backbone, weights=None)
    if model_class is not None:
        assert isinstance(task.model, model_class)
    with torch.no_grad():
        probabilities = task.eval().predict_probabilities(torch.randn(2, 4, 64, 64))
    assert probabilities.shape == (2, 64, 64)
    assert ((probabilities >= 0) & (probabilities <= 1)).all()


@pytest.mark.parametrize(
    ("task", "loss"),
    [
        ("binary", "bce"),
        ("binary", "dice"),
        ("binary", "bce+dice"),
        ("binary", "focal"),
        ("multiclass", "ce"),
        ("multiclass", "dice"),
    ],
)
@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")
def test_losses_are_finite_and_differentiable(task: str, loss: str) -> None:
    torch.manual_seed(0)
    kwargs: dict = {"pos_weight": 5.0} if loss == "bce" else {}
    if loss == "ce":
        kwargs["class_weights"] = [0.2, 3.0, 1.0, 1.0, 1.0]
    model = DataCenterSegmentation(task=task, loss=loss, **kwargs)
    model.model = UNet4(num_classes=model.model.num_classes, base_channels=8)
    batch = synthetic_batch(2, 32, seed=0, classes=5 if task == "multiclass" else 2)
    value = model.training_step(batch, 0)
    assert value.ndim == 0 and torch.isfinite(value)
    value.backward()
    assert model.model.head.weight.grad is not None


def test_multiclass_probability_is_the_datacenter_share() -> None:
    torch.manual_seed(0)
    task = DataCenterSegmentation(task="multiclass", loss="ce").eval()
    assert task.hparams["num_classes"] == 5 and task.datacenter_index == 1
    image = torch.randn(1, 4, 24, 24)
    with torch.no_grad():
        expected = task(image).softmax(dim=1)[:, 1]
        assert torch.allclose(task.predict_probabilities(image), expected)


def test_fit_and_test_log_exactly_the_named_metrics(tmp_path: Path) -> None:
    seed_everything(0)
    task = DataCenterSegmentation()
    trainer = make_trainer(tmp_path, fast_dev_run=True)
    trainer.fit(task, TinyDataModule())
    stages = {"train": ("loss_step", "loss_epoch"), "val": ("loss",)}
    expected = {f"{stage}_{name}" for stage in stages for name in PIXEL_METRICS + stages[stage]}
    assert set(trainer.logged_metrics) == expected
    results = trainer.test(task, TinyDataModule(), verbose=False)[0]
    objects = {f"test_object_{name}" for name in ("precision", "recall", "f1")}
    assert set(results) == {f"test_{name}" for name in (*PIXEL_METRICS, "loss")} | objects
    assert all(0 <= value <= 1 for key, value in results.items() if key != "test_loss")


def test_multiclass_fit_logs_datacenter_metrics(tmp_path: Path) -> None:
    task = DataCenterSegmentation(task="multiclass", loss="ce", class_weights=[1, 4, 1, 1, 1])
    task.model = UNet4(num_classes=5, base_channels=8)
    datamodule = TinyDataModule(size=32, classes=5)
    datamodule.class_names = list(task.hparams["class_names"])
    trainer = make_trainer(tmp_path, fast_dev_run=True)
    trainer.fit(task, datamodule)
    assert {"val_iou", "val_dice", "train_recall"} <= set(trainer.logged_metrics)


def test_checkpoint_describes_the_data(tmp_path: Path) -> None:
    seed_everything(0)
    task = DataCenterSegmentation(threshold=0.4, pos_weight=3.0, package_version="0.0.0")
    datamodule = TinyDataModule(size=32)
    trainer = make_trainer(tmp_path, max_epochs=1, limit_train_batches=1, limit_val_batches=1)
    trainer.fit(task, datamodule)
    path = tmp_path / "task.ckpt"
    trainer.save_checkpoint(path)

    checkpoint = torch.load(path, weights_only=False)
    assert checkpoint["hyper_parameters"]["bands"] == ["R", "G", "B", "NIR"]
    loaded = DataCenterSegmentation.load_from_checkpoint(path, weights_only=True).eval()
    hparams = loaded.hparams
    assert DataSpec.from_hparams(hparams) == datamodule.data_spec
    assert ModelContract.from_hparams(hparams).data == datamodule.data_spec
    assert hparams["label_files"] == ["labels.geojson"]
    # Inference reads the same spec back from the file, without building the model.
    assert read_checkpoint_facts(path).contract.data == datamodule.data_spec
    assert hparams["threshold"] == 0.4 and hparams["pos_weight"] == 3.0
    assert hparams["class_names"] == ["background", "datacenter"]
    assert hparams["package_version"] == torchgeo_datacenters.__version__
    assert hparams["model"] == "unet4" and hparams["in_channels"] == 4
    image = torch.randn(1, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(
            loaded.predict_probabilities(image), task.eval().predict_probabilities(image)
        )


def test_datamodule_must_agree_with_given_values(tmp_path: Path) -> None:
    task = DataCenterSegmentation(mean=[0.0, 0.0, 0.0, 0.0])
    with pytest.raises(TGDCError, match=r"mean: the task has \[0.0, 0.0, 0.0, 0.0\]"):
        make_trainer(tmp_path, fast_dev_run=True).fit(task, TinyDataModule(size=32))
    task = DataCenterSegmentation()
    datamodule = TinyDataModule(size=32)
    datamodule.class_names = ["background", "datacenter", "warehouse", "retail", "other"]
    with pytest.raises(TGDCError, match="class_names"):
        make_trainer(tmp_path, fast_dev_run=True).fit(task, datamodule)


def test_band_count_is_checked() -> None:
    task = DataCenterSegmentation(bands=["R", "G", "B", "NIR"])
    with pytest.raises(TGDCError, match=r"scene.tif: has 3 band\(s\) but the model takes 4 \(R, G"):
        task.check_band_count(3, "scene.tif")
    with pytest.raises(TGDCError, match="3 band"):
        task.predict_probabilities(torch.zeros(1, 3, 16, 16))
    task.check_band_count(4)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "ce"}, "does not fit task='binary'"),
        ({"task": "multiclass", "loss": "bce"}, "does not fit task='multiclass'"),
        ({"weights": True}, "UNet4 trains from scratch"),
        ({"model": "resnet"}, "is not one of"),
        ({"class_names": ["land", "building"]}, "lacks 'datacenter'"),
        ({"task": "multiclass", "loss": "ce", "class_weights": [1.0, 2.0]}, "2 weights for 5"),
        ({"loss": "bce", "ignore_index": 255}, "not supported with loss='bce'"),
        ({"threshold": 1.0}, "threshold"),
        ({"in_channels": 4, "bands": ["R", "G", "B"]}, "3 value"),
        ({"bands": ["R", "G", "B"], "mean": [0.0] * 4}, "mean: 4 value"),
        ({"pos_weight": -1.0}, "pos_weight"),
        ({"lr_schedule": "step"}, "lr_schedule: 'step' is not 'cosine' or 'plateau'"),
        ({"warmup": 1.0}, r"warmup \(1.0\): give the share of steps"),
    ],
)
def test_invalid_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(TGDCError, match=message):
        DataCenterSegmentation(**kwargs)


def test_model_learns(tmp_path: Path) -> None:
    seed_everything(0)
    datamodule = TinyDataModule(size=32, count=16, batch_size=8)
    task = DataCenterSegmentation(lr=1e-3, pos_weight=2.0)
    trainer = make_trainer(tmp_path, max_epochs=8, deterministic=True, num_sanity_val_steps=0)
    before = trainer.validate(task, datamodule, verbose=False)[0]["val_iou"]
    trainer.fit(task, datamodule)
    # The default schedule decays the learning rate to 0 at the last of the 16 steps.
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    after = trainer.validate(task, datamodule, verbose=False)[0]["val_iou"]
    print(f"val_iou untrained {before:.3f} -> trained {after:.3f}")
    assert before < 0.05  # measured 0.001
    assert after > 0.6  # measured 0.718


def test_unet4_starts_from_an_earlier_checkpoint(tmp_path: Path) -> None:
    from support.inference import save_checkpoint

    previous = save_checkpoint(tmp_path / "previous.ckpt", logit=None)
    task = DataCenterSegmentation(weights=str(previous))
    weights = torch.load(previous, weights_only=True)["state_dict"]
    assert all(torch.equal(weights[f"model.{k}"], v) for k, v in task.model.state_dict().items())
    # Not a checkpoint, or one of other classes: one line saying so.
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    with pytest.raises(TGDCError, match=r"weights: .*notes.txt: not a readable checkpoint"):
        DataCenterSegmentation(weights=str(tmp_path / "notes.txt"))
    with pytest.raises(TGDCError, match=r"its network takes 4 band\(s\), classes"):
        DataCenterSegmentation(weights=str(previous), task="multiclass", loss="ce")
    with pytest.raises(TGDCError, match=r"base_channels 32, this task 4, .* and 16; start"):
        DataCenterSegmentation(weights=str(previous), base_channels=16)


def test_plateau_schedule_is_kept_on_request(tmp_path: Path) -> None:
    task = DataCenterSegmentation(lr_schedule="plateau", patience=3)
    trainer = make_trainer(tmp_path, max_epochs=1, num_sanity_val_steps=0)
    trainer.fit(task, TinyDataModule(size=32, count=2))
    (config,) = trainer.lr_scheduler_configs
    assert isinstance(config.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    assert config.monitor == "val_iou" and config.scheduler.patience == 3


def test_cosine_schedule_needs_an_end(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, max_epochs=-1, max_time="00:00:00:05")
    with pytest.raises(TGDCError, match="set trainer max_epochs or max_steps"):
        trainer.fit(DataCenterSegmentation(), TinyDataModule(size=32, count=2))
