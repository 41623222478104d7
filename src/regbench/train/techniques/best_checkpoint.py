from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from regbench.train.techniques.base import Technique


@dataclass(frozen=True)
class BestCheckpoint(Technique):
    """Train the full budget, then evaluate the weights of the best validation epoch (ModelCheckpoint save_best_only)."""

    name: ClassVar[str] = "best_checkpoint"
    short: ClassVar[str] = "ckpt"
    picks_best_epoch: ClassVar[bool] = True
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"

    def callbacks(self) -> list[Any]:
        import keras

        # Keras' EarlyStopping keeps the best weights in memory and restores them when training
        # ends; with a patience no budget reaches it never stops: save_best_only semantics
        # without writing a file per improvement.
        return [keras.callbacks.EarlyStopping(monitor=self.monitor, patience=2**31 - 1, restore_best_weights=True)]

    def engagement(self, callbacks: list[Any], eval_steps: list[int]) -> dict[str, Any]:
        """Triggered when the restored weights are not the last evaluation's."""
        (keeper,) = callbacks
        return {"triggered": keeper.best_epoch < len(eval_steps) - 1, "restored_step": eval_steps[keeper.best_epoch]}
