"""Lightning loggers that write under the trainer's ``default_root_dir``.

LightningCLI cannot override one item of the ``trainer.logger`` list from the command
line, so a config that names a logger's ``save_dir`` pins every run to that folder.
These loggers leave ``save_dir`` unset in the config and take the trainer's
``default_root_dir`` when training starts (:func:`follow_root_dir`, called by
:class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`), so one
``--trainer.default_root_dir`` moves logs and checkpoints together.
"""

import os

from lightning.pytorch import Trainer
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger


class RootCSVLogger(CSVLogger):
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


class RootTensorBoardLogger(TensorBoardLogger):
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


def follow_root_dir(trainer: Trainer) -> None:
    """Point the trainer's root-following loggers at its ``default_root_dir``.

    Args:
        trainer: the trainer, before it sets up its profiler and loggers.
    """
    for logger in trainer.loggers:
        if isinstance(logger, RootCSVLogger | RootTensorBoardLogger):
            logger.follow(trainer.default_root_dir)
