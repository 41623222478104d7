"""Grid algebra: designs -> technique sets -> cells, with inapplicable techniques left out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatch
from itertools import combinations
from typing import Any

from regbench.errors import UsageError
from regbench.grid.cell import Cell
from regbench.grid.claim_kinds import is_paired
from regbench.grid.labels import varying_params
from regbench.grid.spec import Design, GridSpec
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


@dataclass(frozen=True)
class Expansion:
    cells: tuple[Cell, ...]
    excluded: tuple[Exclusion, ...]


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


def expand(spec: GridSpec) -> Expansion:
    """All cells of the grid in a stable order: section, dataset, train size, model, technique
    set, learning rate, seed."""
    cells: list[Cell] = []
    excluded: list[Exclusion] = []
    for part in spec.parts():
        expansion = expand_part(part)
        cells += expansion.cells
        excluded += [
            replace(e, dataset=f"{part.section}/{e.dataset}") if part.section else e for e in expansion.excluded
        ]
    check_claims(spec, cells)
    return Expansion(tuple(cells), tuple(excluded))


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


def expand_part(spec: GridSpec) -> Expansion:
    """The cells of a grid without sections, or of one section (tagged with its name)."""
    sets = design_sets(spec.design)
    check_conflicts(spec, sets)
    cells: dict[str, Cell] = {}
    excluded: dict[Exclusion, None] = {}
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
                    for rate in entry.budget.rates:
                        for seed in spec.seeds:
                            cell = make_cell(spec, entry, size, model, members, seed, rate)
                            cells.setdefault(cell.cell_id, cell)
    if not cells:
        where = f"section {spec.section}" if spec.section else "the grid"
        raise UsageError(
            f"{spec.path}: {where} has no cells: every model was excluded ({'; '.join(e.what + ': ' + e.reason for e in excluded)})"
        )
    return Expansion(labelled(list(cells.values())), tuple(excluded))


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
    in their labels and slugs: 'dropout(rate=0.25)'."""
    varying = varying_params(dict((n, dict(p)) for n, p in c.techniques) for c in cells)
    if not varying:
        return tuple(cells)
    return tuple(replace(c, shown=tuple((n, varying[n]) for n in c.technique_names if n in varying)) for c in cells)


def make_cell(spec: GridSpec, entry, size: int, model: str, members: TechniqueSet, seed: int, rate: float) -> Cell:
    budget = entry.budget
    return Cell(
        dataset=entry.name,
        train_size=size,
        val_size=entry.val_size,
        # "seed": the seed also draws the training subset and validation set (paired: every
        # technique set of a seed trains on the same examples)
        split_seed=seed if entry.split_seed == "seed" else entry.split_seed,
        model=model,
        techniques=tuple(
            (name, tuple(sorted((spec.technique(name).params() | dict(sweep_values)).items())))
            for name, sweep_values in members
        ),
        seed=seed,
        epochs=budget.epochs,
        batch_size=budget.batch_size,
        optimizer=budget.optimizer,
        learning_rate=rate,
        momentum=budget.momentum if budget.optimizer in ("sgd", "rmsprop") else None,
        imbalance=entry.imbalance,
        section=spec.section,
        steps=budget.steps,
        eval_every=budget.eval_every,
        show_lr=len(budget.rates) > 1,
    )


def selected(cells: Sequence[Cell], patterns: Sequence[str]) -> list[Cell]:
    """The cells whose slug matches one of the glob `patterns` or whose id starts with one (all
    cells without patterns)."""
    if not patterns:
        return list(cells)
    return [c for c in cells if any(fnmatch(c.slug, p) or c.cell_id.startswith(p) for p in patterns)]
