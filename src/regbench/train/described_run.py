"""What training reads of the run it is given: a grid's Cell (grid/cell.py) is one, yet train/
never imports grid/, not even for its annotations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from regbench.train.techniques import Technique


class DescribedRun(Protocol):
    """One training run, described: its data, model, technique set and parameters, budget,
    optimizer and seeds (the fields of grid/cell.Cell that training reads)."""

    cell_id: str
    slug: str
    dataset: str
    train_size: int
    val_size: int
    split_seed: int
    imbalance: float | None
    model: str
    techniques: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]  # sorted by name, every parameter
    tuned: tuple[tuple[str, tuple[str, ...]], ...]
    seed: int
    epochs: int | None
    steps: int | None
    eval_every: int | None
    batch_size: int
    optimizer: str
    learning_rate: float
    momentum: float | None

    @property
    def steps_per_epoch(self) -> int: ...

    @property
    def steps_per_evaluation(self) -> int: ...

    @property
    def total_steps(self) -> int: ...

    def technique_objects(self) -> list[Technique]: ...

    def canonical(self) -> dict[str, Any]: ...
