"""A technique set's hooks combined, in one place: what the set asks of the model (kernel
penalties, width, layers, a replacement body) and of training (label smoothing, optimizer
arguments, class weights, callbacks, the monitored metric, fine-tuning phases). The runner,
the model builder and pretraining read this, never the techniques one by one.

How hooks combine: techniques run in alphabetical order of their names; kernel penalties and
label smoothing add up, width multipliers and class weights multiply, optimizer arguments merge.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # hooks are read from techniques, never built here
    from regbench.train.techniques import Technique


@dataclass(frozen=True)
class SetHooks:
    """The combined hooks of `techniques` (sorted by name; empty: the baseline)."""

    techniques: tuple[Technique, ...]

    @classmethod
    def of(cls, techniques: Iterable[Technique]) -> SetHooks:
        return cls(tuple(sorted(techniques, key=lambda t: t.name)))

    # -- the model ------------------------------------------------------------------------------
    @property
    def kernel_penalty(self) -> tuple[float, float]:
        """(l1, l2) factors on every conv/dense kernel: summed over the set."""
        return (
            sum(t.kernel_penalty()[0] for t in self.techniques),
            sum(t.kernel_penalty()[1] for t in self.techniques),
        )

    @property
    def width(self) -> float:
        """Factor on every hidden layer's units or filters: multiplied over the set."""
        return math.prod(t.width_multiplier() for t in self.techniques)

    def width_only(self) -> SetHooks:
        """The techniques that change the width and nothing else of the set: the architecture a
        pretrained backbone must match, layer for layer."""
        return SetHooks(tuple(t for t in self.techniques if t.width_multiplier() != 1.0))

    def input_layers(self, dataset: Any, seed: int) -> list[Any]:
        """Layers on the model's input, active in training only (augmentation)."""
        return [layer for t in self.techniques for layer in t.input_layers(dataset, seed)]

    def between(self, block: str) -> list[Any]:
        """Layers between a hidden `block`'s linear layer and its activation (batch norm)."""
        return [layer for t in self.techniques for layer in t.between(block)]

    def after(self, block: str) -> list[Any]:
        """Layers after a hidden `block`'s activation (dropout)."""
        return [layer for t in self.techniques for layer in t.after(block)]

    def body(self) -> Any:
        """A technique's replacement for the architecture's body (an ImageNet network), or None."""
        return next((b for t in self.techniques if (b := t.body()) is not None), None)

    # -- training -------------------------------------------------------------------------------
    @property
    def label_smoothing(self) -> float:
        return sum(t.label_smoothing() for t in self.techniques)

    @property
    def optimizer_kwargs(self) -> dict[str, Any]:
        return {k: v for t in self.techniques for k, v in t.optimizer_kwargs().items()}

    def class_weights(self, y_train: Any, num_classes: int) -> dict[int, float] | None:
        """The product of the set's class weights, or None when no technique weights classes."""
        found = [w for t in self.techniques if (w := t.class_weight(y_train, num_classes)) is not None]
        if not found:
            return None
        return {c: math.prod(w[c] for w in found) for c in range(num_classes)}

    def callbacks(self) -> dict[str, list[Any]]:
        """Fresh callbacks of each technique, by name (a new set for every training phase)."""
        return {t.name: t.callbacks() for t in self.techniques}

    @property
    def monitor(self) -> str:
        """The metric the run's best evaluation is judged by: a technique's that picks the best
        epoch (early stopping, best checkpoint), else val_loss."""
        return next((t.monitor for t in self.techniques if t.picks_best_epoch), "val_loss")

    def fine_tune_phases(self) -> list[tuple[int, float]]:
        """(epochs, learning-rate factor) of each phase after the first, with every layer trainable."""
        return [plan for t in self.techniques if (plan := t.fine_tune())]
