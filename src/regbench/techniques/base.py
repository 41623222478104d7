"""A technique is a frozen dataclass of its parameters plus hooks that default to doing nothing.

Hook order is fixed: techniques in a set are applied in alphabetical order of their names, and
inside a block the model calls `between` (after the conv/dense layer, before its activation), then
`after` (after the activation). Kernel penalties and label smoothing are summed over a set, width
multipliers multiplied, optimizer arguments merged, class weights multiplied; callbacks run in
the same alphabetical order. Keras is imported inside hooks so that reading and expanding a grid
never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

DATA_KINDS = frozenset({"image", "sequence", "tabular"})


class ParamError(ValueError):
    """A parameter outside its range, e.g. `ParamError("rate", "0 <= rate < 1")`."""

    def __init__(self, key: str, allowed: str) -> None:
        super().__init__(f"{key}: allowed: {allowed}")
        self.key = key
        self.allowed = allowed


def require(ok: bool, key: str, allowed: str) -> None:
    """Raise ParamError(key, allowed) unless `ok`."""
    if not ok:
        raise ParamError(key, allowed)


@dataclass(frozen=True)
class Technique:
    """The baseline: no hook changes anything. Subclasses override the hooks they need."""

    name: ClassVar[str] = "baseline"
    # At most one technique of a group per set (e.g. two augmentation policies contradict).
    group: ClassVar[str | None] = None
    # Data kinds the technique makes sense for.
    kinds: ClassVar[frozenset[str]] = DATA_KINDS
    # True when the run's best epoch is judged by this technique's `monitor` (not val_loss).
    picks_best_epoch: ClassVar[bool] = False

    def check(self) -> None:
        """Raise ParamError for an out-of-range parameter."""

    def skip_reason(self, data_kind: str, model: str) -> str | None:
        """Why the technique does not apply to this data kind and model, or None if it does."""
        if data_kind not in self.kinds:
            return f"needs {' or '.join(sorted(self.kinds))} data; this dataset is {data_kind}"
        return None

    def params(self) -> dict[str, Any]:
        # Shallow (parameters are scalars or tuples): asdict's deep copy made grid expansion slow.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    # -- model hooks --------------------------------------------------------------------------
    def input_layers(self, dataset: Any, seed: int) -> list[Any]:
        """Layers applied to the model's input, active in training only (augmentation): inside
        the model, so they run on its device. `dataset` is the DatasetInfo."""
        return []

    def width_multiplier(self) -> float:
        """Factor on every hidden layer's units or filters; multiplied over the techniques of a set."""
        return 1.0

    def kernel_penalty(self) -> tuple[float, float]:
        """(l1, l2) factors added to every conv/dense kernel; summed over the techniques of a set."""
        return (0.0, 0.0)

    def between(self, block: str) -> list[Any]:
        """Layers inserted between a `block` ("conv" or "dense") layer and its activation."""
        return []

    def after(self, block: str) -> list[Any]:
        """Layers inserted after the activation of a hidden `block` ("conv" or "dense")."""
        return []

    # -- training hooks -----------------------------------------------------------------------
    def optimizer_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the Keras optimizer (e.g. weight_decay)."""
        return {}

    def label_smoothing(self) -> float:
        """Smoothing factor of the training loss's targets; summed over the techniques of a set."""
        return 0.0

    def class_weight(self, y_train: Any, num_classes: int) -> dict[int, float] | None:
        """Loss weight per class for `fit`, from the training labels; None leaves classes equal."""
        return None

    def callbacks(self) -> list[Any]:
        """Keras callbacks added to `fit`."""
        return []
