"""Lightning loggers that write under the trainer's ``default_root_dir``.

LightningCLI cannot override one item of the ``trainer.logger`` list from the command
line, so a config that names a logger's ``save_dir`` pins every run to that folder.
These loggers leave ``save_dir`` unset in the config and take the trainer's
``default_root_dir`` when training starts (:func:`follow_root_dir`, called by
:class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`), so one
``--trainer.default_root_dir`` moves logs and checkpoints together.

Lightning makes each logger's folder before the datamodule's setup, so a run that the
datamodule refuses (a missing label file, say) would leave an empty ``version_N`` folder
behind: a run that fails before anything is logged removes the folders it made
(:class:`RunFolder`).
"""

import os
import shutil
from pathlib import Path
from typing import Any

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger


class RunFolder:
    """The folder a root-following logger writes, removed if the run fails before a log.

    Mixed into a Lightning logger ahead of it: it notes, when the logger learns its root,
    the nearest folder that exists already; a run that ends ``failed`` with no metrics
    logged removes its version folder and the folders above it that it made and left
    empty. A run that logged anything keeps everything (its logs say how it failed).
    """

    _kept: Path | None = None
    _logged = False

    def note_root(self, root: str, name: str) -> None:
        """Note the nearest existing folder above ``root/name`` (call before any write).

        Args:
            root: the trainer's ``default_root_dir``.
            name: the logger's sub-folder.
        """
        folder = Path(root, name).absolute()
        while not folder.exists() and folder.parent != folder:
            folder = folder.parent
        self._kept = folder

    def log_metrics(self, *args: Any, **kwargs: Any) -> None:
        """Log metrics (the logger's own arguments), and note that the run logged some."""
        self._logged = True
        super().log_metrics(*args, **kwargs)  # type: ignore[misc]

    def finalize(self, status: str) -> None:
        """Finish the logger; after a run failed before logging, remove what it made.

        Args:
            status: ``success``, ``failed`` or ``finished``.
        """
        super().finalize(status)  # type: ignore[misc]
        made = getattr(self, "_experiment", None) is not None
        if status != "failed" or self._logged or not made or self._kept is None:
            return
        folder = Path(self.log_dir).absolute()  # type: ignore[attr-defined]
        if (folder / "checkpoints").exists():
            return
        shutil.rmtree(folder, ignore_errors=True)
        folder = folder.parent
        while folder != self._kept and self._kept in folder.parents:
            try:
                folder.rmdir()  # only if empty: another logger's folder may be beside it
            except OSError:
                return
            folder = folder.parent


class RootCSVLogger(RunFolder, CSVLogger):
    """:class:`~lightning.pytorch.loggers.CSVLogger` under the trainer's root directory."""

    def __init__(self, name: str = "csv", **kwargs: object) -> None:
        """Initialize a new RootCSVLogger.

        Args:
            name: sub-folder of ``default_root_dir`` for the logs.
            **kwargs: other :class:`~lightning.pytorch.loggers.CSVLogger` arguments
                (not ``save_dir``).
        """
        super().__init__(save_dir=os.getcwd(), name=name, **kwargs)  # type: ignore[arg-type]

    def follow(self, root: str) -> None:
        """Write under *root* (before anything is logged).

        Args:
            root: the trainer's ``default_root_dir``.
        """
        self._root_dir = self._save_dir = os.fspath(root)
        self.note_root(self._root_dir, self.name)


class RootTensorBoardLogger(RunFolder, TensorBoardLogger):
    """:class:`~lightning.pytorch.loggers.TensorBoardLogger` under the trainer's root directory."""

    def __init__(self, name: str = "tensorboard", **kwargs: object) -> None:
        """Initialize a new RootTensorBoardLogger.

        Args:
            name: sub-folder of ``default_root_dir`` for the logs.
            **kwargs: other :class:`~lightning.pytorch.loggers.TensorBoardLogger`
                arguments (not ``save_dir``).
        """
        super().__init__(save_dir=os.getcwd(), name=name, **kwargs)  # type: ignore[arg-type]

    def follow(self, root: str) -> None:
        """Write under *root* (before anything is logged).

        Args:
            root: the trainer's ``default_root_dir``.
        """
        self._root_dir = os.fspath(root)
        self.note_root(self._root_dir, self.name)


def follow_root_dir(trainer: Trainer) -> None:
    """Point the trainer's root-following loggers at its ``default_root_dir``.

    Args:
        trainer: the trainer, before it sets up its profiler and loggers.
    """
    for logger in trainer.loggers:
        if isinstance(logger, RootCSVLogger | RootTensorBoardLogger):
            logger.follow(trainer.default_root_dir)
