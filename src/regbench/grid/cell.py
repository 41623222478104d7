"""A cell: everything that determines one training run, with a stable id and a readable slug."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from regbench.train.techniques import Technique, make_technique

TechniqueParams = tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]  # ((name, ((key, value), ...)), ...)


@dataclass(frozen=True)
class Cell:
    dataset: str
    train_size: int
    val_size: int
    split_seed: int
    model: str
    techniques: TechniqueParams  # sorted by name; every parameter, defaults included
    seed: int
    epochs: int | None  # None under a steps budget
    batch_size: int
    optimizer: str
    learning_rate: float
    momentum: float | None = None  # None for optimizers without momentum
    imbalance: float | None = None  # max/min class ratio of a long-tailed training subset; None: stratified
    section: str | None = None  # the grid section ([[sections]]) the cell belongs to; None: no sections
    steps: int | None = None  # a steps budget: exactly this many optimizer steps (epochs is None)
    eval_every: int | None = None  # steps between evaluations under a steps budget
    # Parameters shown in labels: those a sweep varies ({name: (param, ...)} as tuples). Not part
    # of the identity: the parameters themselves are.
    shown: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False, repr=False)
    # True where the grid trains each set at several learning rates: slugs then show the rate.
    show_lr: bool = field(default=False, compare=False, repr=False)

    @property
    def technique_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.techniques)

    @property
    def technique_set(self) -> str:
        """'dropout+l2', 'dropout(rate=0.25)' where a sweep varies the rate, or 'baseline'."""
        return set_label({name: dict(params) for name, params in self.techniques}, dict(self.shown))

    @property
    def data_label(self) -> str:
        """'digits', or 'digits_imb10' for a long-tailed training subset."""
        return data_label(self.dataset, self.imbalance)

    @property
    def slug(self) -> str:
        """Readable name, e.g. 'digits/n300/small_cnn/dropout+l2/s1', 'A-cpu/fashion_mnist/...' in a
        grid section, '.../dropout+l2/lr0.003/s1' in a grid that tunes the learning rate (ids, not
        slugs, name files)."""
        where = f"{self.section}/" if self.section else ""
        rate = f"lr{self.learning_rate:g}/" if self.show_lr else ""
        return f"{where}{self.data_label}/n{self.train_size}/{self.model}/{self.technique_set}/{rate}s{self.seed}"

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one pass over the train set (the last batch may be smaller)."""
        return -(-self.train_size // self.batch_size)

    @property
    def steps_per_evaluation(self) -> int:
        """Optimizer steps between two evaluations: eval_every under a steps budget, else an epoch."""
        return self.eval_every or self.steps_per_epoch

    @property
    def total_steps(self) -> int:
        """The budget in optimizer steps (before early stopping)."""
        return self.steps if self.steps is not None else self.epochs * self.steps_per_epoch

    def canonical(self) -> dict[str, Any]:
        """Plain JSON-able dict; keys whose value is None are left out, so that a field added later
        with a None default keeps every existing cell id."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.compare}  # asdict deep-copies: slow
        data["techniques"] = {name: dict(params) for name, params in self.techniques}
        return {k: v for k, v in data.items() if v is not None}

    @cached_property
    def cell_id(self) -> str:
        """First 12 hex digits of sha256 over the canonical JSON (sorted keys, no spaces)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def technique_objects(self) -> list[Technique]:
        return [make_technique(name, dict(params)) for name, params in self.techniques]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        """Inverse of `canonical`, e.g. for a cell read back from the results store."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["techniques"] = freeze_techniques(data.get("techniques", {}))
        return cls(**values)


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


def freeze_techniques(techniques: dict[str, dict[str, Any]]) -> TechniqueParams:
    """{name: {param: value}} -> the sorted tuple form stored in a Cell."""
    return tuple((name, tuple(sorted(techniques[name].items()))) for name in sorted(techniques))


def set_label(techniques: dict[str, dict[str, Any]], shown: dict[str, Iterable[str]]) -> str:
    """'dropout(rate=0.25)+l2': technique names, sorted, with the `shown` parameters' values;
    'baseline' for none."""

    def value(v: Any) -> str:
        return f"{v:g}" if isinstance(v, float) else str(v).lower() if isinstance(v, bool) else str(v)

    parts = []
    for name in sorted(techniques):
        keys = [k for k in shown.get(name, ()) if k in techniques[name]]
        parts.append(name + (f"({','.join(f'{k}={value(techniques[name][k])}' for k in keys)})" if keys else ""))
    return "+".join(parts) or "baseline"


def varying_params(technique_sets: Iterable[dict[str, dict[str, Any]]]) -> dict[str, tuple[str, ...]]:
    """{technique: parameters that take more than one value across `technique_sets`}: what a label
    must show to tell a sweep's cells apart (e.g. {"dropout": ("rate",)})."""
    seen: dict[str, dict[str, set]] = {}
    for techniques in technique_sets:
        for name, params in techniques.items():
            for key, v in params.items():
                seen.setdefault(name, {}).setdefault(key, set()).add(repr(v))
    varying = {name: tuple(sorted(k for k, vs in by_key.items() if len(vs) > 1)) for name, by_key in seen.items()}
    return {name: keys for name, keys in varying.items() if keys}


def short_names() -> dict[str, str]:
    """{technique: its short name} for every registered technique."""
    from regbench.train.techniques import TECHNIQUES, get_technique

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
