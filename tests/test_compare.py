"""`regbench compare`: --tolerance decides which cells differ, and two effects' 95% CIs overlap only
where each one's low end lies below the other's high end (analysis/compare.py)."""

from __future__ import annotations

import math

import pytest

from regbench.analysis.compare import effect_overlap
from regbench.cli import main
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.records.result import Result
from regbench.records.store import Store
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


def test_each_differing_cell_says_where_and_what_else_differs(write_grid, tmp_path):
    """A differing cell's row: its id and slug, the largest difference and the metric it is in, and
    the context fields that differ (the CPU in its own words); a cell at exactly the tolerance is
    no row, nor is a failed cell (no final metrics)."""
    from regbench.analysis.compare import differing_cells

    gains = [0.01, 0.012, 0.014]
    a, b = folders(write_grid, tmp_path, gains, gains, shift=0.03)
    moved = next(i for i in sorted(a) if a[i].final["test"]["accuracy"] != b[i].final["test"]["accuracy"])
    at_tolerance, failed, *_ = (i for i in sorted(a) if i != moved)
    a[moved] = a[moved].but(cpu={"model": "Intel Xeon", "flags": ["avx2", "amx_tile"], "onednn": True})
    b[moved] = b[moved].but(cpu={"model": "AMD EPYC", "flags": ["avx2"], "onednn": False}, numerics={"xla": True})
    val = b[at_tolerance].final["val"] | {"loss": b[at_tolerance].final["val"]["loss"] + 0.0625}  # exact in binary
    b[at_tolerance] = b[at_tolerance].but(final=b[at_tolerance].final | {"val": val})
    b[failed] = b[failed].but(final={}, status="failed")
    table = differing_cells(a, b, 0.0625)
    assert list(table.columns) == ["cell_id", "slug", "largest", "metric", "also_differs"]
    assert table["cell_id"].tolist() == [] and len(differing_cells(a, b, 0.01)) == 2
    (row,) = differing_cells(a, b, 0.05).itertuples(index=False)  # beyond 0.05: the val loss, 0.0625
    assert (row.cell_id, row.metric, row.largest) == (at_tolerance, "val_loss", 0.0625)
    row = differing_cells(a, b, 0.01).set_index("cell_id").loc[moved]
    assert row["slug"] == a[moved].slug and row["metric"] == "test_accuracy"
    assert row["largest"] == pytest.approx(0.03)
    assert (
        row["also_differs"]
        == "cpu (A only: amx_tile; model Intel Xeon vs AMD EPYC; oneDNN True in A, False in B), numerics"
    )
    assert differing_cells(a, b, 0.01).set_index("cell_id").loc[at_tolerance, "also_differs"] == "nothing recorded"


def test_cpu_difference_names_only_what_differs():
    from regbench.analysis.compare import cpu_difference

    intel = {"model": "Xeon", "flags": ["avx2", "avx512f"], "onednn": True}
    assert cpu_difference(intel, dict(intel)) == "cpu"
    assert cpu_difference(intel, None) == "cpu (A only: avx2, avx512f; model Xeon vs None; oneDNN True in A, None in B)"
    assert cpu_difference(intel, intel | {"flags": ["avx2", "amx_tile"]}) == "cpu (A only: avx512f; B only: amx_tile)"


def test_the_text_lists_the_largest_differences_first(write_grid, tmp_path, monkeypatch):
    """The text a user reads: the counts, the differing cells largest first (SHOWN of them unless
    every one is asked for, and how many more), and the tally of what else differs."""
    from regbench.analysis import compare as cmp

    a, b = folders(write_grid, tmp_path, [0.010, 0.012, 0.014], [0.050, 0.060, 0.070])
    found = {
        "only_a": ["x"], "only_b": [], "both": len(a),
        "differing": cmp.differing_cells(a, b, 0.005), "effects": cmp.effect_overlap(a, b),
    }  # fmt: skip
    lines = cmp.text(found, tmp_path / "a", tmp_path / "b", 0.005).splitlines()
    assert lines[1] == f"cells: {len(a)} in both, 1 only in A, 0 only in B"
    assert lines[2].endswith(f"differ by more than 0.005 in 3 of {len(a)} cells")
    rows = [line.split() for line in lines if line.split() and line.split()[0] in a]
    assert [float(r[2]) for r in rows] == [0.056, 0.048, 0.04]  # dropout's seeds 3, 2, 1
    assert "what else differs in those records: nothing recorded: 3 cells" in lines
    assert any("4 with an interval in both; their 95% CIs overlap in 3;" in line for line in lines)
    assert lines[-1].split() == ["test_accuracy", "digits", "n=60", "mlp", "dropout", "0.012", "0.06", "False", "True"]
    monkeypatch.setattr(cmp, "SHOWN", 2)
    cut = cmp.text(found, tmp_path / "a", tmp_path / "b", 0.005)
    every = cmp.text(found, tmp_path / "a", tmp_path / "b", 0.005, every=True)
    assert "...and 1 more (the 2 largest shown; --all lists every one)" in cut and "more (the" not in every


def test_a_missing_or_non_finite_metric_differs_from_everything():
    from regbench.analysis.compare import difference

    assert difference(0.5, 0.25) == 0.25 and difference(1, 1) == 0
    assert all(
        math.isinf(difference(a, b))
        for a, b in [(None, 0.5), (0.5, None), (float("nan"), float("nan")), (0.5, float("inf")), ("0.5", 0.5)]
    )


def test_an_effect_is_signed_where_either_folders_interval_excludes_zero(write_grid, tmp_path):
    """Dropout's effect is indistinguishable from 0 in A and +6 pp in B: signed (B's CI excludes 0),
    and the signs are compared; a folder without records (an empty cells/) has no effects to
    compare, and `regbench compare` says its counts instead of a traceback."""
    a, b = folders(write_grid, tmp_path, [-0.01, 0.001, 0.01], [0.05, 0.06, 0.07])
    row = effect_overlap(a, b).query("metric == 'test_accuracy'").iloc[0]
    assert row["low_a"] < 0 < row["high_a"] and row["low_b"] > 0
    assert row["signed"] and row["same_sign"] and row["overlap"] is not None
    assert effect_overlap(a, {}).empty and effect_overlap({}, b).empty
    (tmp_path / "empty" / "tiny" / "cells").mkdir(parents=True)
    assert main(["compare", str(tmp_path / "a" / "tiny"), str(tmp_path / "empty" / "tiny")]) == 0
