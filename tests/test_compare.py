"""`regbench compare`: --tolerance decides which cells differ, and two effects' 95% CIs overlap only
where each one's low end lies below the other's high end (analysis/compare.py)."""

from __future__ import annotations

import pytest

from regbench.analysis.compare import effect_overlap
from regbench.cli import main
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.result import Result
from regbench.store import Store
from tests.helpers import TINY_GRID
from tests.synthetic import synthetic_record


def folders(write_grid, tmp_path, gains_a: list[float], gains_b: list[float], shift: float = 0.0) -> tuple:
    """Two stores of the tiny grid over 3 seeds: dropout's test accuracy is the baseline's plus
    gains[seed - 1] in each; in B the first cell's test accuracy also moves by `shift`."""
    spec = load_spec(str(write_grid(TINY_GRID.replace("seeds = [1]", "seeds = [1, 2, 3]"))))
    stores = Store(tmp_path / "a", "tiny"), Store(tmp_path / "b", "tiny")
    for i, cell in enumerate(expand(spec).cells):
        for store, gains in zip(stores, (gains_a, gains_b), strict=True):
            record = synthetic_record(cell)
            gain = gains[cell.seed - 1] if cell.technique_set == "dropout" else 0.0
            moved = shift if store is stores[1] and i == 0 else 0.0
            record["final"]["test"]["accuracy"] = 0.8 + 0.01 * cell.seed + gain + moved
            store.write(Result.from_json(record))
    return tuple({r.cell_id: r for r in s.results()} for s in stores)


@pytest.mark.parametrize(("tolerance", "differing"), [("0.05", 0), ("0.01", 1), ("0.001", 1)])
def test_the_tolerance_decides_which_cells_differ(write_grid, tmp_path, capsys, tolerance, differing):
    """One cell's test accuracy is 0.02 apart: equal within 0.05, different beyond 0.01."""
    gains = [0.01, 0.012, 0.014]
    folders(write_grid, tmp_path, gains, gains, shift=0.02)
    args = ["compare", str(tmp_path / "a" / "tiny"), str(tmp_path / "b" / "tiny"), "--tolerance", tolerance]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"differ by more than {float(tolerance):g} in {differing} of 6 cells" in out


def overlap(a, b) -> bool:
    table = effect_overlap(a, b)
    (row,) = table[table["metric"] == "test_accuracy"].itertuples(index=False)
    assert row.intervals
    return bool(row.overlap)


def test_two_intervals_overlap_only_where_both_ends_overlap(write_grid, tmp_path):
    """Dropout gains about 1.2 pp in A and 5.2 pp in B, tight intervals: they do not overlap, whichever
    folder comes first; a B of 1.4 pp does."""
    a, b = folders(write_grid, tmp_path / "apart", [0.010, 0.012, 0.014], [0.050, 0.052, 0.054])
    assert not overlap(a, b) and not overlap(b, a)
    a, b = folders(write_grid, tmp_path / "close", [0.010, 0.012, 0.014], [0.012, 0.014, 0.016])
    assert overlap(a, b) and overlap(b, a)
