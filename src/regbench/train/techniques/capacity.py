from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from regbench.train.techniques.base import Technique, require


@dataclass(frozen=True)
class Capacity(Technique):
    """Multiply every hidden layer's width (units, filters) by `width`: "use a simpler model" (article B)."""

    name: ClassVar[str] = "capacity"
    short: ClassVar[str] = "cap"
    width: float = 0.25

    def check(self) -> None:
        require(0.0 < self.width <= 4.0, "width", "0 < width <= 4")

    def width_multiplier(self) -> float:
        return self.width
