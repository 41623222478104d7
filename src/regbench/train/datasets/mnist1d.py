"""MNIST-1D (Greydanus, 2020): 4,000 train / 1,000 test sequences of length 40, made offline."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.train.datasets.splits import Raw

SOURCE = "mnist1d.data.make_dataset(get_dataset_args()) (generated offline, seed 42; never downloaded)"


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset reseeds numpy's global generator; keep the caller's state untouched.
    state = np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)
    return Raw(
        data["x"].astype(np.float32)[..., None], data["y"].astype(np.int64),
        data["x_test"].astype(np.float32)[..., None], data["y_test"].astype(np.int64),
    )  # fmt: skip
