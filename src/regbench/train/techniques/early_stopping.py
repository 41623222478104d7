from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from regbench.train.techniques.base import FLOAT32_LIMIT, MAX_PATIENCE, Technique, at_most, require


@dataclass(frozen=True)
class EarlyStopping(Technique):
    """Stop when the monitored validation metric stops improving (Prechelt, 1998, Neural Networks)."""

    name: ClassVar[str] = "early_stopping"
    short: ClassVar[str] = "es"
    picks_best_epoch: ClassVar[bool] = True
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    patience: int = 10  # evaluations (epochs, or eval_every steps) without improvement before stopping
    min_delta: float = 0.0  # smallest change that counts as an improvement
    restore_best_weights: bool = True

    def check(self) -> None:
        require(1 <= self.patience <= MAX_PATIENCE, "patience", f"1 <= patience <= {MAX_PATIENCE}")
        require(self.min_delta >= 0.0, "min_delta", "min_delta >= 0")
        at_most(self.min_delta, FLOAT32_LIMIT, "min_delta", "min_delta >= 0")

    def callbacks(self) -> list[Any]:
        import keras

        return [
            keras.callbacks.EarlyStopping(
                monitor=self.monitor,
                patience=self.patience,
                min_delta=self.min_delta,
                restore_best_weights=self.restore_best_weights,
            )
        ]

    def engagement(self, callbacks: list[Any], eval_steps: list[int]) -> dict[str, Any]:
        """Triggered when it stopped before the budget ran out; the step it stopped at and the
        step whose weights it restored."""
        (stopper,) = callbacks
        stopped = stopper.stopped_epoch > 0
        return {
            "triggered": stopped,
            "stopped_at_step": eval_steps[stopper.stopped_epoch] if stopped else None,
            "restored_step": eval_steps[stopper.best_epoch] if self.restore_best_weights else None,
        }
