"""Grid algebra: designs -> technique sets -> cells, with inapplicable techniques left out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from itertools import combinations
from typing import Any, NamedTuple

from regbench.errors import UsageError
from regbench.grid.cell import Cell
from regbench.grid.claim_kinds import is_paired
from regbench.grid.naming import varying_params
from regbench.grid.spec import Design, GridSpec
from regbench.grid.tuning import Candidate, set_candidates
from regbench.train.datasets import get_dataset
from regbench.train.models import get_model

Member = tuple[str, tuple[tuple[str, Any], ...]]  # (technique, parameters a sweep sets)
TechniqueSet = tuple[Member, ...]  # sorted by name; () is the baseline


@dataclass(frozen=True)
class Exclusion:
    """Something left out of a dataset's cells, and why."""

    dataset: str
    what: str  # "technique dropout" or "model small_cnn"
    reason: str


ArmKey = tuple[str | None, str, float | None, int, str, TechniqueSet]  # section, dataset, imbalance, size, model, set


@dataclass(frozen=True)
class Pending:
    """A technique set in a condition whose evaluation seeds wait for its tuning seeds: their cells
    exist once every tuning cell is stored and a candidate is chosen ([tuning] seeds)."""

    key: ArmKey
    candidates: tuple[Candidate, ...]
    tuning: tuple[Cell, ...]  # the tuning cells, every candidate at every tuning seed
    seeds: tuple[int, ...]  # the evaluation seeds waiting


@dataclass(frozen=True)
class Expansion:
    cells: tuple[Cell, ...]
    excluded: tuple[Exclusion, ...]
    pending: tuple[Pending, ...] = ()  # arms waiting for their tuning cells (cells not listed yet)

    @property
    def tuning_ids(self) -> list[str]:
        """The ids of the pending arms' tuning cells, whose stored records choose their candidates."""
        return [c.cell_id for arm in self.pending for c in arm.tuning]


def plain(names: Iterable[str]) -> TechniqueSet:
    """Techniques with the grid's parameters (no sweep value)."""
    return tuple((name, ()) for name in names)


def unique(sets: Iterable[Iterable[Member]]) -> list[TechniqueSet]:
    """Sorted, de-duplicated technique sets in order of first appearance."""
    return list(dict.fromkeys(tuple(sorted(set(s))) for s in sets))


def design_sets(design: Design) -> list[TechniqueSet]:
    """Every technique set the design asks for (union of its parts, duplicates removed)."""
    sets: list[Iterable[Member]] = []
    if design.baseline:
        sets.append(())
    if design.add_one:
        sets += [(), *(plain([t]) for t in design.add_one)]
    if design.leave_one_out:
        full = plain(design.leave_one_out)
        sets += [full, *(tuple(m for m in full if m != left) for left in full)]
    for r in range(len(design.factorial) + 1) if design.factorial else ():
        sets += list(combinations(plain(design.factorial), r))
    sets += [plain(s) for s in design.sets]
    for sweep in design.sweeps:  # the reference (the `with` set alone), then one set per value
        reference = plain(sweep.with_)
        sets += [reference, *(((sweep.technique, ((sweep.param, v),)), *reference) for v in sweep.values)]
    return unique(sets)


def check_conflicts(spec: GridSpec, sets: list[TechniqueSet]) -> None:
    """Reject sets with two techniques of one group (e.g. two augmentation policies)."""
    for members in sets:
        groups: dict[str, str] = {}
        for name, _ in members:
            group = spec.technique(name).group
            if group and group in groups:
                raise UsageError(
                    f"{spec.path}: design: the set {'+'.join(n for n, _ in members)} combines {groups[group]} and {name}, which contradict ({group}); allowed: one {group} technique per set"
                )
            if group:
                groups[group] = name


def expand(spec: GridSpec, chosen: Mapping[ArmKey, Candidate] | None = None) -> Expansion:
    """All cells of the grid in a stable order: section, dataset, train size, model, technique
    set, candidate (learning rate and tuned doses), seed. With [tuning] seeds, an arm's evaluation
    cells are listed only once its candidate is `chosen` (else the arm is pending)."""
    cells: list[Cell] = []
    excluded: list[Exclusion] = []
    pending: list[Pending] = []
    for part in spec.parts():
        expansion = expand_part(part, chosen or {})
        cells += expansion.cells
        pending += expansion.pending
        excluded += [
            replace(e, dataset=f"{part.section}/{e.dataset}") if part.section else e for e in expansion.excluded
        ]
    check_claims(spec, cells)
    check_controls(spec, cells)
    return Expansion(tuple(cells), tuple(excluded), tuple(pending))


def check_claims(spec: GridSpec, cells: list[Cell]) -> None:
    """Every [[claims]] `set` (and `against`) is the label of a technique set in each of its sections."""
    for i, claim in enumerate(spec.claims):
        for section in claim.sections or (None,):
            labels = sorted({c.technique_set for c in cells if c.section == section})
            for key in ("set", "against") if is_paired(claim.kind) else ("set",):
                if getattr(claim, key) not in labels:
                    where = f" of section {section}" if section else ""
                    raise UsageError(
                        f"{spec.path}: claims[{i}].{key}: '{getattr(claim, key)}' is not a technique set{where}; allowed: {', '.join(labels)}"
                    )


def expand_part(spec: GridSpec, chosen: Mapping[ArmKey, Candidate]) -> Expansion:
    """The cells of a grid without sections, or of one section (tagged with its name)."""
    sets = design_sets(spec.design)
    check_conflicts(spec, sets)
    cells: dict[str, Cell] = {}
    excluded: dict[Exclusion, None] = {}
    pending: list[Pending] = []
    check_distinct_conditions(spec)
    for entry in spec.datasets:
        info = get_dataset(entry.name)
        for model in entry.models:
            if info.kind not in get_model(model).kinds:
                reason = f"accepts {' or '.join(sorted(get_model(model).kinds))} data; {entry.name} is {info.kind}"
                excluded[Exclusion(entry.name, f"model {model}", reason)] = None
                continue
            applicable: list[TechniqueSet] = []
            for members in sets:
                kept = []
                for member in members:
                    reason = spec.technique(member[0]).skip_reason(info, model)
                    if reason:
                        excluded[Exclusion(entry.name, f"technique {member[0]} ({model})", reason)] = None
                    else:
                        kept.append(member)
                applicable.append(tuple(kept))
            for size in entry.train_sizes:
                for members in unique(applicable):
                    key = (spec.section, entry.name, entry.imbalance, size, model, members)
                    order = set_candidates(entry.budget.rates, spec.tune, members, spec.tuning.max_candidates)
                    made = arm_cells(spec, entry, size, model, members, order, chosen.get(key))
                    for cell in made.cells:
                        cells.setdefault(cell.cell_id, cell)
                    if made.waiting:
                        pending.append(Pending(key, tuple(order), made.tuning, spec.seeds))
    if not cells:
        where = f"section {spec.section}" if spec.section else "the grid"
        raise UsageError(
            f"{spec.path}: {where} has no cells: every model was excluded ({'; '.join(e.what + ': ' + e.reason for e in excluded)})"
        )
    labels = {c.cell_id: c for c in labelled(list(cells.values()))}
    pending = [replace(p, tuning=tuple(labels[c.cell_id] for c in p.tuning)) for p in pending]
    return Expansion(tuple(labels.values()), tuple(excluded), tuple(pending))


class ArmCells(NamedTuple):
    cells: list[Cell]  # the cells to list now
    tuning: tuple[Cell, ...]  # those of the tuning seeds
    waiting: bool  # the evaluation seeds wait for a candidate to be chosen


def arm_cells(
    spec: GridSpec, entry, size, model, members, order: list[Candidate], chosen: Candidate | None
) -> ArmCells:
    """The cells of one set in one condition. Cross-fitting (no [tuning] seeds): every seed at every
    candidate. Dedicated tuning seeds: those at every candidate, the evaluation seeds at the chosen
    one (waiting until it is chosen); with a single candidate there is nothing to tune."""

    def at(candidate: Candidate, seeds) -> list[Cell]:
        return [make_cell(spec, entry, size, model, members, seed, candidate) for seed in seeds]

    if not spec.tuning.seeds or len(order) == 1:
        return ArmCells([c for candidate in order for c in at(candidate, spec.seeds)], (), False)
    tuning = tuple(c for candidate in order for c in at(candidate, spec.tuning.seeds))
    evaluation = at(chosen, spec.seeds) if chosen is not None else []
    return ArmCells([*tuning, *evaluation], tuning, chosen is None)


def check_controls(spec: GridSpec, cells: list[Cell]) -> None:
    """Every [design] control is the label of a technique set of its section."""
    for part in spec.parts():
        labels = sorted({c.technique_set for c in cells if c.section == part.section})
        for control in part.design.controls:
            if control not in labels:
                where = f"sections.{part.section}." if part.section else ""
                raise UsageError(
                    f"{spec.path}: {where}design.controls: '{control}' is not a technique set of the design; allowed: {', '.join(labels)}"
                )


def check_distinct_conditions(spec: GridSpec) -> None:
    """Two dataset entries may not share a condition (dataset, train size, model): their cells
    would be one condition in every table, silently pooled or collapsed."""
    seen: dict[tuple, int] = {}
    for i, entry in enumerate(spec.datasets):
        for size in entry.train_sizes:
            for model in entry.models:
                key = (entry.name, entry.imbalance, size, model)
                if key in seen:
                    where = f"section {spec.section}: " if spec.section else ""
                    raise UsageError(
                        f"{spec.path}: {where}datasets[{i}]: {entry.name} n={size} {model} is already a condition of "
                        f"datasets[{seen[key]}]; allowed: one entry per dataset, train size and model (another budget or "
                        "val_size belongs in another section)"
                    )
                seen[key] = i


def labelled(cells: list[Cell]) -> tuple[Cell, ...]:
    """The cells, with the parameters that differ between cells of one technique (a sweep) shown
    in their labels and slugs: 'dropout(rate=0.25)'; tuned parameters never are."""
    tuned = {name: keys for c in cells for name, keys in c.tuned}
    varying = varying_params((dict((n, dict(p)) for n, p in c.techniques) for c in cells), tuned)
    if not varying:
        return tuple(cells)
    return tuple(replace(c, shown=tuple((n, varying[n]) for n in c.technique_names if n in varying)) for c in cells)


def make_cell(spec: GridSpec, entry, size: int, model: str, members: TechniqueSet, seed: int, at: Candidate) -> Cell:
    """The cell of a set in a condition at one seed and candidate (rate and tuned doses)."""
    budget = entry.budget
    doses: dict[str, dict[str, Any]] = {}
    for technique, param, value in at.doses:
        doses.setdefault(technique, {})[param] = value
    return Cell(
        dataset=entry.name,
        train_size=size,
        val_size=entry.val_size,
        # "seed": the seed also draws the training subset and validation set (paired: every
        # technique set of a seed trains on the same examples)
        split_seed=seed if entry.split_seed == "seed" else entry.split_seed,
        model=model,
        techniques=tuple(
            (name, tuple(sorted((spec.technique(name).params() | dict(sweep_values) | doses.get(name, {})).items())))
            for name, sweep_values in members
        ),
        seed=seed,
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        optimizer=budget.optimizer,
        learning_rate=at.learning_rate,
        momentum=budget.momentum if budget.optimizer in ("sgd", "rmsprop") else None,
        imbalance=entry.imbalance,
        section=spec.section,
        steps=budget.steps,
        eval_every=budget.eval_every,
        show_lr=len(budget.rates) > 1,
        tuned=tuple((name, tuple(sorted(params))) for name, params in sorted(doses.items())),
    )


def selected(cells: Sequence[Cell], patterns: Sequence[str]) -> list[Cell]:
    """The cells whose slug matches one of the glob `patterns` or whose id starts with one (all
    cells without patterns)."""
    if not patterns:
        return list(cells)
    return [c for c in cells if any(fnmatch(c.slug, p) or c.cell_id.startswith(p) for p in patterns)]
