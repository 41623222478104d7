"""Registry of datasets: name -> DatasetInfo, and `load` returning deterministic numpy splits.

Every loader returns the official train and test data as float32 inputs scaled to about [0, 1]
(or standardized) and int labels; `load` then cuts a stratified validation set and a stratified
training subset of the cell's size from the training data, with a fixed split seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from regbench.registry import Registry
from regbench.train.datasets import cifar10, digits, fashion_mnist, font_digits, mnist, mnist1d, moons
from regbench.train.datasets.splits import Raw, Splits, make_splits


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    kind: str  # "image", "sequence" or "tabular": decides which models and techniques apply
    input_shape: tuple[int, ...]
    num_classes: int
    train_pool: int  # training examples available for the train and validation splits
    default_val_size: int
    source: str  # one line: where the data comes from
    load_raw: Callable[[Path | None, bool], Raw]  # (data_dir, offline) -> official train/test
    # A left-right mirror image is still an example of its class (clothes, photos; not digits).
    mirror_ok: bool = False
    # data_dir -> whether the files are on this machine, looked up without reading them; None:
    # generated or shipped with a dependency, always there
    present: Callable[[Path | None], bool] | None = None
    test_size: int | None = None  # examples in the test set every cell is scored on (checked when loaded)

    def on_this_machine(self, data_dir: Path | None = None) -> bool:
        return self.present is None or self.present(data_dir)


DATASETS: Registry[DatasetInfo] = Registry("dataset")
for _info in (
    DatasetInfo(
        "digits", "image", (8, 8, 1), 10, digits.TRAIN_POOL, 300, digits.SOURCE, digits.load, test_size=digits.TEST_SIZE
    ),
    DatasetInfo(
        "moons", "tabular", (2,), 2, moons.TRAIN_POOL, 500, moons.SOURCE, moons.load, test_size=moons.TEST_SIZE
    ),
    DatasetInfo(
        "mnist1d",
        "sequence",
        (40, 1),
        10,
        mnist1d.TRAIN_POOL,
        500,
        mnist1d.SOURCE,
        mnist1d.load,
        test_size=mnist1d.TEST_SIZE,
    ),
    DatasetInfo(
        "fashion_mnist",
        "image",
        (28, 28, 1),
        10,
        60000,
        5000,
        fashion_mnist.SOURCE,
        fashion_mnist.load,
        True,
        fashion_mnist.present,
        10000,
    ),
    DatasetInfo(
        "mnist", "image", (28, 28, 1), 10, 60000, 5000, mnist.SOURCE, mnist.load, present=mnist.present, test_size=10000
    ),
    DatasetInfo(
        "cifar10", "image", (32, 32, 3), 10, 50000, 5000, cifar10.SOURCE, cifar10.load, True, cifar10.present, 10000
    ),
    DatasetInfo(
        "font_digits",
        "image",
        (32, 32, 1),
        10,
        font_digits.TRAIN_POOL,
        1000,
        font_digits.SOURCE,
        font_digits.load,
        test_size=font_digits.TEST_SIZE,
    ),
):
    DATASETS.register(_info.name, _info)


def get_dataset(name: str) -> DatasetInfo:
    return DATASETS.get(name)


@lru_cache(maxsize=4)
def load_raw(name: str, data_dir: Path | None = None, offline: bool = False) -> Raw:
    """The official train/test data of `name`, cached per process (a worker reuses it across cells)."""
    raw = get_dataset(name).load_raw(data_dir, offline)
    for array in raw:
        array.setflags(write=False)  # shared by every cell of this process
    return raw


def load(
    name: str,
    train_size: int,
    val_size: int,
    split_seed: int,
    data_dir: Path | None = None,
    offline: bool = False,
    imbalance: float | None = None,
) -> Splits:
    """Train/validation/test splits of `name`: stratified, deterministic for a given split_seed;
    a long-tailed training subset with max/min class ratio `imbalance` when it is given."""
    raw = load_raw(name, data_dir, offline)
    splits = make_splits(raw, train_size, val_size, split_seed, imbalance)
    info = get_dataset(name)
    assert splits.x_train.shape[1:] == info.input_shape, (splits.x_train.shape, info.input_shape)
    assert int(np.max(raw.y_train)) < info.num_classes
    return splits


__all__ = ["DATASETS", "DatasetInfo", "Raw", "Splits", "get_dataset", "load", "load_raw"]
