"""MNIST-1D (Greydanus, 2020): sequences of length 40 from the `mnist1d` package's generator, made
offline: a training pool of 4,000 and a large fixed test set of 10,000 (the package's own split has
1,000 test sequences, where one example is 0.1 pp of accuracy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.train.datasets.splits import Raw

TRAIN_POOL, TEST_SIZE = 4000, 10_000
SOURCE = (
    f"mnist1d.data.make_dataset (generated offline, seed 42; never downloaded): {TRAIN_POOL:,} training pool, "
    f"{TEST_SIZE:,} test"
)


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()  # the package's defaults (seed 42), with more sequences drawn
    args.num_samples, args.train_split = TRAIN_POOL + TEST_SIZE, 1.0
    # make_dataset reseeds numpy's global generator; keep the caller's state untouched.
    state = np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(state)
    x, y = data["x"].astype(np.float32)[..., None], data["y"].astype(np.int64)
    # Each class's first sequences (the generator shuffled them) form the training pool, the rest
    # the test set: 400 and 1,000 per class, balanced like the generator's output.
    rank = np.empty(len(y), dtype=np.int64)
    for c in np.unique(y):
        rank[y == c] = np.arange(np.sum(y == c))
    train = rank < TRAIN_POOL // 10
    return Raw(x[train], y[train], x[~train], y[~train])
