from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from regbench.train.techniques.base import FLOAT32_LIMIT, Technique, at_most, require


@dataclass(frozen=True)
class L2(Technique):
    """Add factor * sum(w^2) of every kernel to the loss (Krogh & Hertz, 1991, NeurIPS)."""

    name: ClassVar[str] = "l2"
    short: ClassVar[str] = "l2"
    factor: float = 1e-3

    def check(self) -> None:
        require(self.factor >= 0.0, "factor", "factor >= 0")
        at_most(self.factor, FLOAT32_LIMIT, "factor", "factor >= 0")

    def kernel_penalty(self) -> tuple[float, float]:
        return (0.0, self.factor)
