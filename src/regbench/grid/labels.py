"""How cells, technique sets and conditions are named for people: set labels ('dropout+l2',
'dropout(rate=0.25)'), short labels for crowded tables ('do+l2'), their legend, and condition and
dataset labels ('digits n=200 small_cnn'). Display only: ids and columns carry the identity."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from regbench.train.techniques import TECHNIQUES, get_technique


def data_label(dataset: str, imbalance: float | None) -> str:
    """'digits', or 'digits_imb10' for a long-tailed training subset (imbalance None or 0: stratified)."""
    return dataset + (f"_imb{imbalance:g}" if imbalance else "")


def dataset_label(section: str | None, dataset: str, imbalance: float | None) -> str:
    """The data of a condition for display, with its section: 'digits', 'A-cpu/fashion_mnist'."""
    return (f"{section}/" if section else "") + data_label(dataset, imbalance)


def condition_label(section: str | None, dataset: str, imbalance: float | None, train_size: int, model: str) -> str:
    """A condition for display: 'digits n=200 small_cnn', 'A-cpu/fashion_mnist n=1000 vgg_cnn'. Its
    parts stay columns of their own everywhere else (aggregate.CONDITION, in this order)."""
    return f"{dataset_label(section, dataset, imbalance)} n={train_size} {model}"


def value_text(v: Any) -> str:
    """A parameter's value in a label: 0.25, 1e-05, true, pretrain:font_digits."""
    return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)


def set_label(techniques: dict[str, dict[str, Any]], shown: dict[str, Iterable[str]]) -> str:
    """'dropout(rate=0.25)+l2': technique names, sorted, with the `shown` parameters' values;
    'baseline' for none."""
    parts = []
    for name in sorted(techniques):
        keys = [k for k in shown.get(name, ()) if k in techniques[name]]
        parts.append(name + (f"({','.join(f'{k}={value_text(techniques[name][k])}' for k in keys)})" if keys else ""))
    return "+".join(parts) or "baseline"


def varying_params(
    technique_sets: Iterable[dict[str, dict[str, Any]]], tuned: dict[str, Iterable[str]] | None = None
) -> dict[str, tuple[str, ...]]:
    """{technique: parameters that take more than one value across `technique_sets`}: what a label
    must show to tell a sweep's cells apart (e.g. {"dropout": ("rate",)}). `tuned` parameters
    ({technique: params}) vary too but are never shown: a tuned set keeps its name."""
    hidden = {(name, k) for name, keys in (tuned or {}).items() for k in keys}
    seen: dict[str, dict[str, set]] = {}
    for techniques in technique_sets:
        for name, params in techniques.items():
            for key, v in params.items():
                if (name, key) not in hidden:
                    seen.setdefault(name, {}).setdefault(key, set()).add(repr(v))
    varying = {name: tuple(sorted(k for k, vs in by_key.items() if len(vs) > 1)) for name, by_key in seen.items()}
    return {name: keys for name, keys in varying.items() if keys}


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
