"""Optimizer steps: the one place where a pass over a training set is counted in steps."""

from __future__ import annotations

from typing import TypeVar

N = TypeVar("N")  # an int, or a numpy array / pandas Series of ints (columns of a results table)


def steps_per_epoch(train_size: N, batch_size: N) -> N:
    """Optimizer steps in one pass over `train_size` examples in batches of `batch_size` (the last
    batch may be smaller): the ceiling of the ratio, for ints and for columns alike."""
    return -(-train_size // batch_size)
