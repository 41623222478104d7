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


def long_tail_counts(available: np.ndarray, total: int, imbalance: float) -> np.ndarray:
    """Examples per class (in label order) summing to `total`, falling geometrically from the first
    class to the last by the factor `imbalance` (max/min ratio); ValueError when a class has too few."""
    k = len(available)
    share = imbalance ** (-np.arange(k) / max(k - 1, 1))
    exact = total * share / share.sum()
    counts = np.maximum(np.floor(exact).astype(np.int64), 1)
    # The remainder goes to the classes with the largest fractional parts.
    for c in np.argsort(-(exact - np.floor(exact)), kind="stable")[: max(0, total - counts.sum())]:
        counts[c] += 1
    while counts.sum() > total:  # tiny totals: the one-per-class floor is paid by the largest class
        counts[np.argmax(counts)] -= 1
    short = np.flatnonzero(counts > available)
    if len(short):
        c = short[0]
        raise ValueError(
            f"imbalance {imbalance:g} with {total} training examples needs {counts[c]} of class {c}, but only "
            f"{available[c]} are left after the validation split; use a smaller train size or imbalance"
        )
    return counts


def imbalanced_take(y: np.ndarray, n: int, imbalance: float, seed: int) -> np.ndarray:
    """Sorted indices of n examples of y with long-tailed class counts (see long_tail_counts)."""
    classes = np.unique(y)
    members = [np.flatnonzero(y == c) for c in classes]
    counts = long_tail_counts(np.array([len(m) for m in members]), n, imbalance)
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(m, size=c, replace=False) for m, c in zip(members, counts, strict=True)]))


def make_splits(raw: Raw, train_size: int, val_size: int, split_seed: int, imbalance: float | None = None) -> Splits:
    """Validation = val_size examples of the training data; train = train_size of the rest.

    The validation set depends only on (val_size, split_seed), so cells of different train sizes
    are judged on the same validation examples. The test set is the official one. With
    `imbalance` r, the training subset is long-tailed: class 0 has r times as many examples as the
    last class, counts falling geometrically in label order; validation and test stay as published.
    """
    if train_size + val_size > len(raw.y_train):
        raise ValueError(f"train_size {train_size} + val_size {val_size} > {len(raw.y_train)} examples")
    val, pool = stratified_take(raw.y_train, val_size, split_seed)
    if imbalance is None:
        train, _ = stratified_take(raw.y_train[pool], train_size, split_seed)
    else:
        train = imbalanced_take(raw.y_train[pool], train_size, imbalance, split_seed)
    train = pool[train]
    return Splits(
        raw.x_train[train], raw.y_train[train],
        raw.x_train[val], raw.y_train[val],
        raw.x_test, raw.y_test,
    )  # fmt: skip
