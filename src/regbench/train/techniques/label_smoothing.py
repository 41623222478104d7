from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from regbench.train.techniques.base import Technique, require


@dataclass(frozen=True)
class LabelSmoothing(Technique):
    """Train on targets mixed with the uniform distribution by `factor` (Szegedy et al., 2016, CVPR)."""

    name: ClassVar[str] = "label_smoothing"
    short: ClassVar[str] = "ls"
    factor: float = 0.1

    def check(self) -> None:
        require(0.0 <= self.factor < 1.0, "factor", "0 <= factor < 1")

    def label_smoothing(self) -> float:
        return self.factor
