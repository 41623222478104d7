from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from regbench.train.techniques.base import Technique, require


@dataclass(frozen=True)
class Dropout(Technique):
    """Zero random activations while training (Srivastava et al., 2014, JMLR 15)."""

    name: ClassVar[str] = "dropout"
    short: ClassVar[str] = "do"
    rate: float = 0.5
    # "dense": after hidden dense blocks only (articles B and D); "all": after conv blocks too (C).
    placement: Literal["dense", "all"] = "dense"

    def check(self) -> None:
        require(0.0 <= self.rate < 1.0, "rate", "0 <= rate < 1")

    def after(self, block: str) -> list[Any]:
        if block != "dense" and self.placement != "all":
            return []
        from keras import layers

        return [layers.Dropout(self.rate)]
