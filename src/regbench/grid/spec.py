"""A grid as frozen dataclasses: its datasets, budgets, design, technique parameters, sections and
claims. Read from a TOML file by grid/parse.py; never imports TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from regbench.grid.budget import MAX_STEPS, Budget
from regbench.grid.claim_kinds import CLAIM_KINDS, CURVE_METRICS, FINAL_METRICS
from regbench.train.techniques import MAX_EPOCHS, Technique, require


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    train_sizes: tuple[int, ...]
    models: tuple[str, ...]
    val_size: int
    split_seed: int | Literal["seed"]  # "seed": each seed draws its own training subset and validation set
    budget: Budget
    imbalance: float | None = None  # max/min class ratio of a long-tailed training subset


@dataclass(frozen=True)
class Design:
    """Which technique sets to run; the grid is the union of all of them, duplicates removed."""

    baseline: bool = False
    add_one: tuple[str, ...] = ()  # baseline plus each technique alone
    leave_one_out: tuple[str, ...] = ()  # all of them, and all minus each one
    factorial: tuple[str, ...] = ()  # every subset
    sets: tuple[tuple[str, ...], ...] = ()  # explicit sets
    sweeps: tuple[Sweep, ...] = ()  # one technique parameter over several values ([[design.sweeps]])
    # Set labels reported as controls, outside every family (e.g. class_weights on balanced data,
    # where the expected effect is 0)
    controls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sweep:
    """`technique` with `param` set to each of `values`, on top of the techniques `with` (and that
    set alone, the sweep's reference: the baseline when `with` is empty)."""

    technique: str
    param: str
    values: tuple[Any, ...]
    with_: tuple[str, ...] = ()  # TOML key "with"


@dataclass(frozen=True)
class Tune:
    """[tune.<technique>] <param> = [candidates]: a dose tuned like the learning rate, chosen on
    validation for each set that holds the technique (the set keeps its label)."""

    technique: str
    param: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Tuning:
    """[tuning]: how a set's candidates (learning rates x tuned doses) are judged. Without `seeds`,
    by cross-fitting: each evaluation seed is scored at the candidate with the best mean validation
    accuracy over the *other* seeds. With `seeds`, dedicated tuning seeds run every candidate first,
    and the evaluation seeds run only the candidate they chose (cheaper on large grids)."""

    seeds: tuple[int, ...] = ()
    max_candidates: int = 16  # above this, a fixed quasi-random (Halton) subset of the candidate product

    def check(self) -> None:
        require(self.max_candidates >= 2, "max_candidates", "max_candidates >= 2")
        require(len(set(self.seeds)) == len(self.seeds), "seeds", "distinct integers")


@dataclass(frozen=True)
class Claim:
    """A sentence from a source ([[claims]]) and how the report tests it in each of `sections`, by
    its `kind` (grid/claim_kinds.CLAIM_KINDS says what each kind measures)."""

    article: str
    claim: str
    kind: str = "effect"  # a name in CLAIM_KINDS
    sections: tuple[str, ...] = ()  # () in a grid without sections
    set: str = "baseline"  # a technique set's label, as in `regbench list`
    against: str = "baseline"
    metric: Literal[FINAL_METRICS] = "accuracy_gap"  # type: ignore[valid-type]
    expect: Literal["increase", "decrease"] = "decrease"
    epoch: int = 0  # effect: the validation metric after this epoch (0: the final value)
    step: int = 0  # effect: the validation metric after this many optimizer steps (0: the final value)
    window: int = 3  # rises_after_lr_drop: epochs after the drop
    low: float = 0.0  # level: the claimed range
    high: float = 1.0
    claimed: str = ""  # the source's own figure, e.g. "~75% -> ~85%"
    # effect: the size the source claims, in the metric's units (accuracies as fractions: 0.10 is
    # +10 pp); the verdict then also says whether the measurement is as large. NaN: none claimed.
    magnitude: float = float("nan")

    def check(self) -> None:
        require(self.kind in CLAIM_KINDS, "kind", ", ".join(CLAIM_KINDS.names()))
        if self.epoch or self.step or CLAIM_KINDS.get(self.kind).curve_only:
            require(self.metric in CURVE_METRICS, "metric", f"{', '.join(CURVE_METRICS)} (a learning curve)")
        require(0 <= self.epoch <= MAX_EPOCHS, "epoch", f"0 <= epoch <= {MAX_EPOCHS}")
        require(0 <= self.step <= MAX_STEPS, "step", f"0 <= step <= {MAX_STEPS}")
        require(not (self.epoch and self.step), "step", "epoch or step, not both")
        require(1 <= self.window <= MAX_EPOCHS, "window", f"1 <= window <= {MAX_EPOCHS}")
        require(self.low <= self.high, "high", "high >= low")


@dataclass(frozen=True)
class GridSpec:
    """A grid, or one section of a grid with [[sections]] (each a grid of its own: seeds, budget,
    design, technique parameters and datasets; its cells carry the section's name)."""

    name: str
    path: str
    description: str
    seeds: tuple[int, ...]
    datasets: tuple[DatasetEntry, ...]
    design: Design
    techniques: tuple[tuple[str, Technique], ...]  # configured parameters, by name
    sections: tuple[GridSpec, ...] = ()  # a grid with [[sections]]: its own fields above are unused
    section: str | None = None  # this section's name ("A-cpu")
    setting: str = "full"  # a section's setting: "full" (as the source describes it) or "cpu-sized"
    claims: tuple[Claim, ...] = ()  # [[claims]] the report tests
    # Regime check: a condition is testable (its baseline overfits) when the baseline's mean clean
    # train accuracy reaches this; below it every effect and claim there is "not testable".
    min_train_accuracy: float = 0.99
    # How the regime is checked: "fits" (the baseline reaches min_train_accuracy) or "gap" (for
    # full-size data: its gap's CI lies above zero and its validation loss turned upward).
    regime: str = "fits"
    tune: tuple[Tune, ...] = ()  # doses tuned like the learning rate ([tune.*])
    tuning: Tuning = Tuning()

    def technique(self, name: str) -> Technique:
        return dict(self.techniques)[name]

    def parts(self) -> tuple[GridSpec, ...]:
        """The sections, or the grid itself when it has none."""
        return self.sections or (self,)
