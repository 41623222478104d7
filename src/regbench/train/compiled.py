"""Compiled models kept across the cells of a worker process, so that a cell costs its optimizer
steps rather than its set-up. Tracing and compiling a freshly built model's train and test steps
is most of a small cell: on 2 CPU cores the first evaluation interval of a digits small_cnn cell
took 5-7 s against 0.25 s for each later one. A worker keeps the compiled model of each shape it
trained and starts the next cell of that shape from it.

How the numbers stay identical to a fresh build: the cell is seeded and its model built exactly as
on the fresh path, since building is what draws the initial weights, the batch norm statistics
and the SeedGenerator states of dropout, augmentation and noise layers from the cell's seed
(~0.1-0.2 s, no tracing). The kept model then takes every variable of that fresh one (weights,
moving statistics, seed states) and its optimizer every variable as compile left it (iterations
0, zero moments) with the cell's learning rate; the fresh model is dropped. Metrics, callbacks
and the stop flag are reset by fit itself. tests/test_compiled.py holds a record made this way to
the fresh path's, field for field.

Not reused (built and compiled fresh, as before): sets with a technique that has a set-up,
prepare, body or fine-tune hook (transfer: pretrained or ImageNet weights, frozen layers, a
fine-tuning phase that recompiles), which change the model or its training outside the build;
and every cell under RunOptions(reuse=False).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from regbench.train import backend, datasets
from regbench.train.batches import steps_per_call
from regbench.train.hooks import SetHooks
from regbench.train.objective import compile_model
from regbench.train.techniques import Technique

if TYPE_CHECKING:
    from regbench.train.described_run import DescribedRun
    from regbench.train.options import RunOptions

# Compiled models a worker keeps, least recently used dropped first. Cells arrive sorted by shape,
# but a grid with tuning seeds comes back to each chosen shape in its second stage: with 4 kept,
# every evaluation cell of quick was traced afresh. A cap on their weights bounds the memory.
KEEP = 32  # quick: ~30 shapes per worker of 2
KEEP_WEIGHTS = 25_000_000  # all kept models' weights together (~100 MB as float32; x3 with Adam's slots)
# Hooks that change a model or its training outside building and compiling it: a set with any of
# them is built and compiled fresh for every cell.
ONE_OFF_HOOKS = ("setup", "prepare", "body", "fine_tune")
# Hooks that leave the compiled model, its loss and optimizer and what fit is fed as they are. A
# technique that overrides none but these (early stopping, the plateau schedule, the best
# checkpoint: callbacks) trains the compiled model of the set without it, which restart() resets as
# for any cell (weights a callback restored, a rate it cut; fit clears the stop flag itself). Any
# other hook, one added later included, counts as changing what is compiled.
CALLBACK_HOOKS = frozenset(
    {"check", "skip_reason", "params", "needs_datasets", "missing_here", "callbacks", "engagement"}
)


@dataclass
class Kept:
    model: Any  # compiled, its optimizer built
    optimizer_start: list[np.ndarray]  # the optimizer's variables as compile left them
    weights: int  # the model's parameter count


_kept: OrderedDict[tuple, Kept] = OrderedDict()  # this process's, least recently used first


HOOKS = tuple(name for name, value in vars(Technique).items() if callable(value) and not name.startswith("_"))


def overridden(technique: Technique) -> set[str]:
    """The hooks (public methods of the baseline) the technique overrides."""
    return {hook for hook in HOOKS if getattr(type(technique), hook) is not getattr(Technique, hook)}


def reusable(hooks: SetHooks) -> bool:
    """Whether a compiled model of this set can serve another cell: no technique of it overrides
    a one-off hook (ONE_OFF_HOOKS)."""
    return not any(overridden(t) & set(ONE_OFF_HOOKS) for t in hooks.techniques)


def shape_key(cell: DescribedRun, precision: str = "float32", xla: bool = False) -> tuple | None:
    """What the cells that can share a compiled model have in common (the architecture, the set's
    techniques that change what is compiled, with every parameter, the data's shape, classes and
    kind, batch size, optimizer and momentum, numerics), or None for a cell that never reuses one.
    Plain Python (the run stage sorts cells by it without starting a backend)."""
    objects = cell.technique_objects()
    if not reusable(SetHooks.of(objects)):
        return None
    info = datasets.get_dataset(cell.dataset)
    data = (tuple(info.input_shape), info.num_classes, info.kind, info.mirror_ok)
    # callback-only techniques (CALLBACK_HOOKS) leave the compiled model as it is: not in the key
    techniques = tuple(
        named for named, t in zip(cell.techniques, objects, strict=True) if overridden(t) - CALLBACK_HOOKS
    )
    return (cell.model, techniques, data, cell.batch_size, cell.optimizer, cell.momentum, precision, xla)


def sort_key(cell: DescribedRun, precision: str = "float32", xla: bool = False) -> tuple[bool, str, bool, int]:
    """Cells sorted by this run those that share a compiled model back to back (cells that never
    reuse one last); comparable whatever the key holds."""
    key = shape_key(cell, precision, xla)
    return (key is None, repr(key), cell.steps is None, cell.steps_per_evaluation)


def cache_key(cell: DescribedRun, options: RunOptions) -> tuple | None:
    """The shape key with what this process adds: optimizer steps per compiled call and the
    backend; None where the cell is not to reuse a model."""
    key = shape_key(cell, options.precision, options.xla) if options.reuse else None
    return None if key is None else (*key, steps_per_call(cell), backend.name())


def kept_for(cell: DescribedRun, options: RunOptions) -> bool:
    """Whether this process keeps a compiled model the cell can start from."""
    key = cache_key(cell, options)
    return key is not None and key in _kept


def ready(keras, fresh, cell: DescribedRun, hooks: SetHooks, info, options: RunOptions) -> tuple[Any, bool]:
    """(the compiled model to train, whether it was kept from an earlier cell), given `fresh`: the
    cell's model just built under its seed. A kept model of the cell's key takes fresh's state and
    a restarted optimizer at the cell's learning rate; otherwise fresh is compiled (and kept when
    the cell may reuse)."""
    key = cache_key(cell, options)
    kept = _kept.get(key) if key is not None else None
    if kept is not None and same_structure(kept.model, fresh):
        _kept.move_to_end(key)
        restart(kept, fresh, cell.learning_rate)
        return kept.model, True
    compile_model(keras, fresh, cell, hooks, info, cell.learning_rate, options.xla)
    if key is not None:
        # Built now rather than in fit's first call (the same zeros), so its starting state is known.
        fresh.optimizer.build(fresh.trainable_variables)
        start = [keras.ops.convert_to_numpy(v) for v in fresh.optimizer.variables]
        _kept[key] = Kept(fresh, start, fresh.count_params())
        while len(_kept) > 1 and (len(_kept) > KEEP or sum(k.weights for k in _kept.values()) > KEEP_WEIGHTS):
            _kept.popitem(last=False)
    return fresh, False


def same_structure(kept: Any, fresh: Any) -> bool:
    """Whether two models hold variables of the same shapes and dtypes in the same order (a guard:
    equal keys should always give equal structures)."""
    a, b = kept.variables, fresh.variables
    return len(a) == len(b) and all(x.shape == y.shape and x.dtype == y.dtype for x, y in zip(a, b, strict=True))


def restart(kept: Kept, fresh: Any, learning_rate: float) -> None:
    """Put the kept model in the state a fresh build and compile give: fresh's variables (weights,
    batch norm statistics, seed generator states), the optimizer's starting variables, the rate."""
    for target, source in zip(kept.model.variables, fresh.variables, strict=True):
        target.assign(source.value)
    optimizer = kept.model.optimizer
    for variable, start in zip(optimizer.variables, kept.optimizer_start, strict=True):
        variable.assign(start)
    optimizer.learning_rate = learning_rate


def forget() -> None:
    """Drop every kept model (after a failed cell: the worker starts clean)."""
    _kept.clear()


def kept_count() -> int:
    """How many compiled models this process keeps."""
    return len(_kept)
