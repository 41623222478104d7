"""scikit-learn's 1,797 8x8 handwritten digits (UCI optdigits test set), shipped with sklearn."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.train.datasets.splits import Raw, stratified_take

SOURCE = "sklearn.datasets.load_digits (ships with scikit-learn; 8x8 grayscale, 0-16)"
TEST_SIZE = 360  # no official test set: a fixed stratified 20% held out with seed 0
TRAIN_POOL = 1797 - TEST_SIZE


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[..., None]
    y = data.target.astype(np.int64)
    test, train = stratified_take(y, TEST_SIZE, seed=0)
    return Raw(x[train], y[train], x[test], y[test])
