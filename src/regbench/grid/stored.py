"""A grid's cells as its stored results resolve them: the evaluation cells of each arm whose tuning
cells are stored, at the candidate they chose ([tuning] seeds). The one place where the expansion
meets the store; the store then checks every record it reads against its grid cell."""

from __future__ import annotations

from regbench.grid.expand import Expansion, chosen_candidates, expand
from regbench.grid.spec import GridSpec
from regbench.records.store import Store


def expand_stored(spec: GridSpec, store: Store) -> Expansion:
    """The grid's cells as far as its stored results allow (grid/expand.chosen_candidates)."""
    expansion = expand(spec)
    store.expect(expansion.cells)
    if not expansion.pending:
        return expansion
    tuning = store.records(c.cell_id for arm in expansion.pending for c in arm.tuning)
    chosen = chosen_candidates(expansion.pending, tuning)
    if not chosen:
        return expansion
    resolved = expand(spec, chosen)
    store.expect(resolved.cells)
    return resolved
