"""How results are named for people: condition and dataset labels ('digits n=200 small_cnn',
'A-cpu/fashion_mnist'), short labels for crowded tables and figures ('do+l2') and their legend.
Display only: ids and columns carry the identity."""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from regbench.analysis.aggregate import CONDITION, SETTING
from regbench.grid.naming import data_label
from regbench.train.techniques import TECHNIQUES, get_technique


def dataset_label(section: str | None, dataset: str, imbalance: float | None) -> str:
    """The data of a condition for display, with its section: 'digits', 'A-cpu/fashion_mnist'."""
    return (f"{section}/" if section else "") + data_label(dataset, imbalance)


def condition_label(section: str | None, dataset: str, imbalance: float | None, train_size: int, model: str) -> str:
    """A condition for display: 'digits n=200 small_cnn', 'A-cpu/fashion_mnist n=1000 vgg_cnn'. Its
    parts stay columns of their own everywhere else (aggregate.CONDITION, in this order)."""
    return f"{dataset_label(section, dataset, imbalance)} n={train_size} {model}"


def condition_labels(frame: pd.DataFrame) -> list[str]:
    """Each row's condition for display (condition_label), from the CONDITION columns."""
    return [condition_label(*c) for c in frame[CONDITION].itertuples(index=False)]


def dataset_labels(frame: pd.DataFrame) -> list[str]:
    """Each row's data for display, with its section (dataset_label)."""
    return [dataset_label(*k) for k in frame[SETTING[:3]].itertuples(index=False)]


def short_names() -> dict[str, str]:
    """{technique: its short name} for every registered technique."""
    return {name: get_technique(name).short for name in TECHNIQUES.names()}


def short_label(label: str) -> str:
    """'augmentation+batchnorm+dropout(rate=0.9)' -> 'aug+bn+do(rate=0.9)': technique names in a set
    label replaced by their short names, for crowded tables and figure panels."""
    names = short_names()
    return re.sub(r"[a-z][a-z0-9_]*", lambda m: names.get(m.group(0), m.group(0)), label)


def legend(labels: Iterable[str]) -> str:
    """'aug = augmentation, bn = batchnorm': the short names used in `labels` (full labels)."""
    names = short_names()
    used = sorted({name for label in labels for name in re.findall(r"[a-z][a-z0-9_]*", label) if name in names})
    return ", ".join(f"{names[n]} = {n}" for n in used if names[n] != n)
