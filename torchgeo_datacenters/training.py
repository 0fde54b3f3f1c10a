"""Train a model through LightningCLI, as ``torchgeo fit --config`` would.

``tgdc demo`` and the benchmarks train with :func:`train` on a configuration read by
:func:`demo_config` (``configs/demo.yaml`` with its paths pointed into an output directory).
"""

import shutil
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from torchgeo.datamodules import BaseDataModule
from torchgeo.tasks import BaseTask

from .errors import TGDCError
from .utils import atomic_output


def config_path(name: str) -> Path:
    """Return the path of one of the project's LightningCLI configs.

    The configs live in the repository's ``configs/`` directory; a wheel carries them as
    package data in ``torchgeo_datacenters/configs/`` (see ``pyproject.toml``).

    Args:
        name: the config's file name, e.g. ``demo.yaml``.

    Returns:
        The packaged copy where the package is installed from a wheel, else the file in the
        source checkout.
    """
    packaged = resources.files(__package__).joinpath("configs", name)
    if packaged.is_file():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / "configs" / name


#: The demo's LightningCLI config.
DEMO_CONFIG = config_path("demo.yaml")


#: The checkpoint ``tgdc demo`` detects with: ``last`` (the final weights, ``last.ckpt``).
#: The learning rate decays to 0 at the last step, so the final weights are the settled
#: ones, while the demo's validation split (0-1 data centers) is too small to rank epochs
#: (see README, "Training", and benchmarks/README.md, "Training stability").
DEMO_CHECKPOINT = "last"


def train(config: dict[str, Any], output_dir: Path, checkpoint: str = DEMO_CHECKPOINT) -> Path:
    """Fit the model as ``torchgeo fit --config`` would, and keep one of its checkpoints.

    Args:
        config: the LightningCLI configuration (``configs/demo.yaml`` with paths set).
        output_dir: the demo's output directory.
        checkpoint: ``last`` (the final weights: the checkpoint callback without a
            monitor) or ``best`` (the best validation IoU: the one with a monitor).

    Returns:
        The checkpoint copied to ``output_dir / 'model.ckpt'``.

    Raises:
        TGDCError: if training wrote no such checkpoint.
    """
    with warnings.catch_warnings():
        # LightningCLI warns when args are given while sys.argv holds tgdc's own.
        warnings.filterwarnings(
            "ignore", message=".*args parameter is intended", category=UserWarning
        )
        cli = LightningCLI(
            model_class=BaseTask,
            datamodule_class=BaseDataModule,
            seed_everything_default=0,
            subclass_mode_model=True,
            subclass_mode_data=True,
            save_config_kwargs={"overwrite": True},
            args=config,
            run=False,
        )
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    paths = {
        "best" if callback.monitor else "last": callback.best_model_path
        for callback in cli.trainer.checkpoint_callbacks
        if isinstance(callback, ModelCheckpoint)
    }
    if not paths.get(checkpoint):
        raise TGDCError(
            f"training wrote no {checkpoint} checkpoint; check the ModelCheckpoint callbacks"
            " in the config"
        )
    copy = output_dir / "model.ckpt"
    with atomic_output(copy) as tmp:
        shutil.copyfile(paths[checkpoint], tmp)
    return copy


def demo_config(
    output_dir: Path, *, epochs: int | None = None, model: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Read ``configs/demo.yaml`` and point its paths into *output_dir*.

    Args:
        output_dir: the demo's output directory.
        epochs: override of ``trainer.max_epochs``.
        model: overrides of the task's ``init_args`` (e.g. another architecture).

    Returns:
        The configuration.

    Raises:
        TGDCError: if the config file is missing.
    """
    if not DEMO_CONFIG.exists():
        raise TGDCError(
            f"{DEMO_CONFIG}: demo config missing; reinstall torchgeo-datacenters (its wheel"
            " carries configs/demo.yaml)"
        )
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    training = output_dir / "training"
    config["trainer"]["default_root_dir"] = str(training)
    if epochs is not None:
        config["trainer"]["max_epochs"] = epochs
    config["model"]["init_args"].update(model or {})
    config["data"]["init_args"]["paths"] = str(output_dir / "data")
    config["data"]["init_args"]["label_path"] = str(output_dir / "data" / "labels.geojson")
    return config
