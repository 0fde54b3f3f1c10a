"""Lightning callbacks for training :class:`~torchgeo_datacenters.tasks.DataCenterSegmentation`."""

from typing import Any

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch import callbacks as lightning_callbacks
from lightning.pytorch.trainer.states import TrainerFn


class EMAWeightAveraging(lightning_callbacks.EMAWeightAveraging):
    """Lightning's exponential moving average of the weights, begun once the network is built.

    The average (parameters and BatchNorm statistics) is what validation scores and what
    every checkpoint holds in ``state_dict``; the raw weights go to ``current_model_state``
    so a resumed fit continues both. With ``decay`` d each step keeps d of the average,
    which so spans about 1 / (1 - d) steps (20 at 0.95).

    :class:`~torchgeo_datacenters.tasks.DataCenterSegmentation` sizes its network to the
    datamodule's bands in its own ``setup``, which Lightning calls after the callbacks';
    Lightning's callback copies the network in its ``setup`` and would average a network
    of the config's default bands. This one copies it when fitting starts, or when a
    checkpoint is restored into the fit, whichever comes first.
    """

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Forget an earlier fit's average and its step count (the callback may be reused).

        The average itself is begun later: the network may still be rebuilt by the task's
        ``setup``. A resumed fit restores the step count from the checkpoint after this.

        Args:
            trainer: the trainer.
            pl_module: the task.
            stage: 'fit', 'validate', 'test' or 'predict'.
        """
        if stage == "fit":
            self._average_model = None
            self._latest_update_step = 0
            self._latest_update_epoch = -1

    def _begin(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Copy the network into the average, once per fit."""
        if self._average_model is None:
            super().setup(trainer, pl_module, "fit")

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Restore the average and the raw weights of a resumed fit.

        Validating, testing or predicting from a checkpoint reads its ``state_dict``, the
        average, and needs nothing more (Lightning's callback warns there).

        Args:
            trainer: the trainer.
            pl_module: the task.
            checkpoint: the checkpoint being read.
        """
        if trainer.state.fn != TrainerFn.FITTING:
            return
        self._begin(trainer, pl_module)
        super().on_load_checkpoint(trainer, pl_module, checkpoint)

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Copy the network, now the task has built it for the data.

        Args:
            trainer: the trainer.
            pl_module: the task.
        """
        self._begin(trainer, pl_module)
