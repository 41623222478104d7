"""What an optimizer step of a cell costs on this machine, measured on random inputs of the
cell's shape: `regbench list --estimate` prices a grid before anything of it runs. A timing
probe, not a training run: nothing is recorded."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from regbench.errors import UsageError
from regbench.train import datasets, models
from regbench.train.hooks import SetHooks
from regbench.train.objective import compile_model
from regbench.train.seeding import seeded_keras

if TYPE_CHECKING:
    from regbench.train.described_run import DescribedRun

STEPS = 64  # steps timed, in one pass, after a first pass that traces and compiles


def seconds_per_step(cell: DescribedRun, threads: int | None = None) -> float:
    """Steady-state seconds of one optimizer step of `cell`'s model, technique set, batch and
    optimizer here. A backbone pretrained by regbench has the architecture's own layers, so it is
    timed without its weights; an ImageNet network needs its weights in the Keras cache
    (UsageError naming them otherwise)."""
    techniques = cell.technique_objects()
    if missing := [line for t in techniques for line in t.missing_here()]:
        raise UsageError(f"cannot time {cell.slug}: {missing[0]} not on this machine")
    keras = seeded_keras(0, threads)
    info = datasets.get_dataset(cell.dataset)
    hooks = SetHooks.of(t for t in techniques if t.name != "transfer" or t.kind == "imagenet")
    model = models.build(cell.model, info.input_shape, info.num_classes, hooks, dataset=info, seed=0)
    compile_model(keras, model, cell, hooks, info, cell.learning_rate)
    rng = np.random.default_rng(0)
    x = rng.random((cell.batch_size * STEPS, *info.input_shape), dtype=np.float32)
    y = rng.integers(0, info.num_classes, (len(x), 1) if info.num_classes == 2 else len(x))
    fit = {"batch_size": cell.batch_size, "verbose": 0, "shuffle": False, "epochs": 1}
    model.fit(x, y, **fit)  # traces and compiles
    start = time.perf_counter()
    model.fit(x, y, **fit)
    return (time.perf_counter() - start) / STEPS
