from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from regbench.train.techniques.base import Technique, require


@dataclass(frozen=True)
class WeightDecay(Technique):
    """Decoupled weight decay in the optimizer step, AdamW/SGDW style (Loshchilov & Hutter, 2019, ICLR)."""

    name: ClassVar[str] = "weight_decay"
    short: ClassVar[str] = "wd"
    # Each step, w -= learning_rate * factor * w, outside the gradient: unlike the L2 penalty it is
    # not rescaled by Adam's per-weight step sizes. Keras applies it to every trainable variable.
    factor: float = 1e-2

    def check(self) -> None:
        require(0.0 <= self.factor < 1.0, "factor", "0 <= factor < 1")

    def optimizer_kwargs(self) -> dict[str, Any]:
        return {"weight_decay": self.factor}
