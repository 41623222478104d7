"""Deterministic stratified splits of a dataset's official training data."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Raw(NamedTuple):
    """A dataset as published: float32 inputs, int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


class Splits(NamedTuple):
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def stratified_take(y: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (taken, rest): n indices with the class proportions of y, chosen with `seed`."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    if n == len(y):
        return index, index[:0]
    taken, rest = train_test_split(index, train_size=n, stratify=y, random_state=seed)
    # Sorted so that the order of examples does not depend on the split, only on the shuffle in fit.
    return np.sort(taken), np.sort(rest)


def make_splits(raw: Raw, train_size: int, val_size: int, split_seed: int) -> Splits:
    """Validation = val_size examples of the training data; train = train_size of the rest.

    The validation set depends only on (val_size, split_seed), so cells of different train sizes
    are judged on the same validation examples. The test set is the official one.
    """
    if train_size + val_size > len(raw.y_train):
        raise ValueError(f"train_size {train_size} + val_size {val_size} > {len(raw.y_train)} examples")
    val, pool = stratified_take(raw.y_train, val_size, split_seed)
    train, _ = stratified_take(raw.y_train[pool], train_size, split_seed)
    train = pool[train]
    return Splits(
        raw.x_train[train], raw.y_train[train],
        raw.x_train[val], raw.y_train[val],
        raw.x_test, raw.y_test,
    )  # fmt: skip
