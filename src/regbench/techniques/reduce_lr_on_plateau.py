from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from regbench.techniques.base import Technique, require


@dataclass(frozen=True)
class ReduceLROnPlateau(Technique):
    """Multiply the learning rate by `factor` when the monitored metric stalls (Keras ReduceLROnPlateau; article A)."""

    name: ClassVar[str] = "reduce_lr_on_plateau"
    monitor: Literal["val_loss", "val_accuracy"] = "val_loss"
    factor: float = 0.1
    patience: int = 7  # epochs without improvement before reducing (article A: 7)
    min_delta: float = 1e-4
    min_lr: float = 1e-6

    def check(self) -> None:
        require(0.0 < self.factor < 1.0, "factor", "0 < factor < 1")
        require(self.patience >= 1, "patience", "patience >= 1")
        require(self.min_delta >= 0.0, "min_delta", "min_delta >= 0")
        require(self.min_lr >= 0.0, "min_lr", "min_lr >= 0")

    def callbacks(self) -> list[Any]:
        import keras

        return [
            keras.callbacks.ReduceLROnPlateau(
                monitor=self.monitor,
                factor=self.factor,
                patience=self.patience,
                min_delta=self.min_delta,
                min_lr=self.min_lr,
            )
        ]
