"""A technique is a frozen dataclass of its parameters plus hooks that default to doing nothing.

Hook order is fixed. Within each step, the techniques of a set run in alphabetical order of their
names. A cell runs: `setup` (before the cell is seeded: e.g. pretraining, cached) -> seed -> build
the model: `input_layers`, the architecture or a technique's `body`, and in every hidden block
`between` (after the conv/dense layer, before its activation) then `after` (after the activation)
-> `prepare` (on the built model: load weights, freeze) -> compile -> fit -> an optional
`fine_tune` phase with every layer trainable -> `engagement` (did a trigger fire?). Kernel penalties and label smoothing are summed over
a set, width multipliers multiplied, optimizer arguments merged, class weights multiplied.
Keras is imported inside hooks so that reading and expanding a grid never imports TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, NamedTuple

DATA_KINDS = frozenset({"image", "sequence", "tabular"})


class Context(NamedTuple):
    """What a cell's set-up and preparation hooks may look at."""

    cell: Any  # the Cell
    dataset: Any  # its DatasetInfo
    options: Any  # the runner's RunOptions (data_dir, offline, pretrained_dir, threads)
    # models.build, for a technique that trains a model of its own (transfer's pretraining): passed
    # in, so that techniques, which models use, never import models
    build_model: Any = None


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


# Caps that keep a value from reaching training unchecked: Keras keeps rates, factors and
# penalties in float32, whose largest finite value is 3.4e38; counts of epochs or evaluations
# beyond these would train for years.
FLOAT32_LIMIT = 1e38
MAX_EPOCHS = 100_000
MAX_PATIENCE = 100_000


def at_most(value: float, high: float, key: str, low: str) -> None:
    """The upper bound of a parameter whose lower bound `low` ('factor >= 0') was checked."""
    require(value <= high, key, f"{low} and {key} <= {high if isinstance(high, int) else format(high, 'g')}")


@dataclass(frozen=True)
class Technique:
    """The baseline: no hook changes anything. Subclasses override the hooks they need."""

    name: ClassVar[str] = "baseline"
    short: ClassVar[str] = "base"  # in tables: a short name for crowded labels
    # At most one technique of a group per set (e.g. two augmentation policies contradict).
    group: ClassVar[str | None] = None
    # Data kinds the technique makes sense for.
    kinds: ClassVar[frozenset[str]] = DATA_KINDS
    # True when the run's best epoch is judged by this technique's `monitor` (not val_loss).
    picks_best_epoch: ClassVar[bool] = False

    def check(self) -> None:
        """Raise ParamError for an out-of-range parameter."""

    def skip_reason(self, dataset: Any, model: str) -> str | None:
        """Why the technique does not apply to this dataset (DatasetInfo) and model, or None."""
        if dataset.kind not in self.kinds:
            return f"needs {' or '.join(sorted(self.kinds))} data; this dataset is {dataset.kind}"
        return None

    def params(self) -> dict[str, Any]:
        # Shallow (parameters are scalars or tuples): asdict's deep copy made grid expansion slow.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def needs_datasets(self) -> tuple[str, ...]:
        """Datasets besides the cell's own that the technique reads (a transfer source)."""
        return ()

    def missing_here(self) -> list[str]:
        """Files the technique needs that are not on this machine, looked up without reading them
        (ImageNet weights not in the Keras cache), each as a line saying how to get them."""
        return []

    # -- set-up hook: runs before the cell's random generators are seeded ---------------------
    def setup(self, context: Context) -> dict[str, Any]:
        """Work done once before the cell's model is built (e.g. pretraining a backbone, which is
        cached); returns facts for the cell's record (e.g. the transfer source)."""
        return {}

    # -- model hooks --------------------------------------------------------------------------
    def body(self) -> Any:
        """A replacement for the architecture's body, (Blocks, input tensor) -> last hidden tensor,
        e.g. an ImageNet-pretrained network; None keeps the architecture."""
        return None

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

    def prepare(self, model: Any, context: Context) -> None:
        """Changes the built model before it is compiled (e.g. loads pretrained weights, freezes)."""

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

    def engagement(self, callbacks: list[Any], eval_steps: list[int]) -> dict[str, Any] | None:
        """Whether the technique's trigger fired, read from its `callbacks` after training:
        {"triggered": bool, facts in optimizer steps}; None for a technique without a trigger.
        `eval_steps[i]` is the optimizer steps done at evaluation i (Keras' epoch i)."""
        return None

    def fine_tune(self) -> tuple[int, float] | None:
        """(epochs, learning-rate factor) of a second phase with every layer trainable, or None."""
        return None
