"""A cell: everything that determines one training run, with a stable id and a readable slug."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

from regbench.grid.naming import data_label, set_label, value_text
from regbench.names import cell_id_of
from regbench.records.steps import steps_per_epoch
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
    # Parameters the grid tunes ([tune.*]; {name: (param, ...)} as tuples): chosen on validation
    # like the learning rate, so labels hide them (the set keeps its name) and slugs show them.
    tuned: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False, repr=False)

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
        dose = ",".join(f"{name}.{k}={value_text(v)}" for name, k, v in self.tuned_values())
        dose = f"{dose}/" if dose else ""
        return f"{where}{self.data_label}/n{self.train_size}/{self.model}/{self.technique_set}/{rate}{dose}s{self.seed}"

    def tuned_values(self) -> list[tuple[str, str, Any]]:
        """(technique, param, value) of each tuned parameter of this cell, in name order."""
        params = {name: dict(p) for name, p in self.techniques}
        return [(name, k, params[name][k]) for name, keys in self.tuned for k in keys if name in params]

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps in one pass over the train set (the last batch may be smaller)."""
        return steps_per_epoch(self.train_size, self.batch_size)

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
        return cell_id_of(self.canonical())

    def technique_objects(self) -> list[Technique]:
        return [make_technique(name, dict(params)) for name, params in self.techniques]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        """Inverse of `canonical`, e.g. for a cell read back from the results store."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["techniques"] = freeze_techniques(data.get("techniques", {}))
        return cls(**values)


def freeze_techniques(techniques: dict[str, dict[str, Any]]) -> TechniqueParams:
    """{name: {param: value}} -> the sorted tuple form stored in a Cell."""
    return tuple((name, tuple(sorted(techniques[name].items()))) for name in sorted(techniques))
