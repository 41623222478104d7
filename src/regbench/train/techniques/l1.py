from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from regbench.train.techniques.base import FLOAT32_LIMIT, Technique, at_most, require


@dataclass(frozen=True)
class L1(Technique):
    """Add factor * sum(|w|) of every kernel to the loss, driving weights to zero (Tibshirani, 1996, JRSS B)."""

    name: ClassVar[str] = "l1"
    short: ClassVar[str] = "l1"
    factor: float = 1e-4

    def check(self) -> None:
        require(self.factor >= 0.0, "factor", "factor >= 0")
        at_most(self.factor, FLOAT32_LIMIT, "factor", "factor >= 0")

    def kernel_penalty(self) -> tuple[float, float]:
        return (self.factor, 0.0)


@dataclass(frozen=True)
class L1L2(Technique):
    """Add l1 * sum(|w|) + l2 * sum(w^2) of every kernel to the loss (elastic net: Zou & Hastie, 2005, JRSS B)."""

    name: ClassVar[str] = "l1_l2"
    short: ClassVar[str] = "l1l2"
    l1: float = 1e-4
    l2: float = 1e-3

    def check(self) -> None:
        for key in ("l1", "l2"):
            require(getattr(self, key) >= 0.0, key, f"{key} >= 0")
            at_most(getattr(self, key), FLOAT32_LIMIT, key, f"{key} >= 0")

    def kernel_penalty(self) -> tuple[float, float]:
        return (self.l1, self.l2)
