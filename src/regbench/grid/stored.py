"""A grid's cells as its stored results resolve them: the evaluation cells of each arm whose tuning
cells are stored, at the candidate they chose ([tuning] seeds). `resolve` turns the tuning records
into cells; `expand_stored` reads them from a store, which then checks every record it reads
against its grid cell."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from regbench.grid.cell import Cell
from regbench.grid.expand import ArmKey, Expansion, Pending, expand, selected
from regbench.grid.spec import GridSpec
from regbench.grid.tuning import Candidate, best
from regbench.records.result import Result
from regbench.records.store import Store


def expand_stored(spec: GridSpec, store: Store, only: Sequence[str] = ()) -> Expansion:
    """The grid's cells as far as its stored results allow (resolve); with `only`
    (grid/expand.selected's patterns), the cells selected. The store knows every cell of the grid
    either way."""
    plain = expand(spec)
    store.expect(plain.cells)
    tuning = store.records(plain.tuning_ids) if plain.pending else {}
    expansion = resolve(spec, plain, tuning)
    kept = replace(expansion, cells=tuple(selected(expansion.cells, only))) if only else expansion
    store.expect(expansion.cells)
    return kept


def resolve(spec: GridSpec, plain: Expansion, tuning: Mapping[str, Result]) -> Expansion:
    """The grid's expansion (`plain`: expand(spec)) with the evaluation cells of each pending arm
    whose tuning cells' records (`tuning`: {cell_id: Result}) are all stored, at the candidate
    they chose (chosen_candidates)."""
    chosen = chosen_candidates(plain.pending, tuning)
    return expand(spec, chosen) if chosen else plain


def chosen_candidates(pending: Iterable[Pending], records: Mapping[str, Result]) -> dict[ArmKey, Candidate]:
    """{arm: its candidate} of the pending arms whose tuning cells all have a readable record (a
    damaged one runs again first): the best mean validation accuracy over its ok tuning records."""
    chosen = {}
    for arm in pending:
        if all(c.cell_id in records for c in arm.tuning):
            scores: dict[Candidate, list[float]] = {}
            for cell in arm.tuning:
                record = records[cell.cell_id]
                if record.ok and record.final:
                    scores.setdefault(candidate_of(cell), []).append(record.final["val"]["accuracy"])
            if (pick := best(scores, arm.candidates)) is not None:
                chosen[arm.key] = pick
    return chosen


def candidate_of(cell: Cell) -> Candidate:
    """The candidate a cell was trained at."""
    return Candidate(cell.learning_rate, tuple(cell.tuned_values()))
