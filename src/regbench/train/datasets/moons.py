"""scikit-learn's make_moons: two interleaving half circles with Gaussian noise (article D)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.train.datasets.splits import Raw

NOISE = 0.2  # as in article D: make_moons(n_samples=100, noise=0.2)
TRAIN_POOL = 2000
TEST_SIZE = 10_000  # a large fixed test set: one example is 0.01 pp of accuracy
SOURCE = f"sklearn.datasets.make_moons(noise={NOISE}); pool of {TRAIN_POOL:,} (seed 0), test {TEST_SIZE:,} (seed 1)"


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    from sklearn.datasets import make_moons

    x_train, y_train = make_moons(n_samples=TRAIN_POOL, noise=NOISE, random_state=0)
    x_test, y_test = make_moons(n_samples=TEST_SIZE, noise=NOISE, random_state=1)
    return Raw(
        x_train.astype(np.float32), y_train.astype(np.int64),
        x_test.astype(np.float32), y_test.astype(np.int64),
    )  # fmt: skip
