from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from regbench.train.techniques.base import FLOAT32_LIMIT, MAX_PATIENCE, Technique, at_most, require


@dataclass(frozen=True)
class ReduceLROnPlateau(Technique):
    """Multiply the learning rate by `factor` when the monitored metric stalls (Keras ReduceLROnPlateau; article A)."""

    name: ClassVar[str] = "reduce_lr_on_plateau"
    short: ClassVar[str] = "rlrop"
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    factor: float = 0.1
    patience: int = 7  # evaluations without improvement before reducing (article A: 7 epochs)
    min_delta: float = 1e-4
    min_lr: float = 1e-6

    def check(self) -> None:
        require(0.0 < self.factor < 1.0, "factor", "0 < factor < 1")
        require(1 <= self.patience <= MAX_PATIENCE, "patience", f"1 <= patience <= {MAX_PATIENCE}")
        for key in ("min_delta", "min_lr"):
            require(getattr(self, key) >= 0.0, key, f"{key} >= 0")
            at_most(getattr(self, key), FLOAT32_LIMIT, key, f"{key} >= 0")

    def callbacks(self) -> list[Any]:
        import keras

        class CountingReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
            """Keras' callback, remembering the evaluations (0-based) after which it reduced."""

            def on_epoch_end(self, epoch, logs=None):
                before = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                super().on_epoch_end(epoch, logs)
                if float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)) < before:
                    self.reduced_after.append(epoch)

        reducer = CountingReduceLROnPlateau(
            monitor=self.monitor,
            factor=self.factor,
            patience=self.patience,
            min_delta=self.min_delta,
            min_lr=self.min_lr,
        )
        reducer.reduced_after = []
        return [reducer]

    def engagement(self, callbacks: list[Any], eval_steps: list[int]) -> dict[str, Any]:
        """Triggered when the rate was reduced at least once; how often, and the first step."""
        (reducer,) = callbacks
        first = eval_steps[reducer.reduced_after[0]] if reducer.reduced_after else None
        return {
            "triggered": bool(reducer.reduced_after),
            "reductions": len(reducer.reduced_after),
            "first_at_step": first,
        }
