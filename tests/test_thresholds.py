"""The regime check's threshold per section: a section's own `min_train_accuracy` is honoured, a
top-level one is inherited by the sections that do not set it, and the analysis judges each
section's conditions by its own threshold (grid/parse.py, analysis/evidence.regime, collect)."""

from __future__ import annotations

import pandas as pd

from regbench.analysis import evidence
from regbench.analysis.collect import collect
from regbench.analysis.inputs import read_inputs
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.records.result import Result
from regbench.records.store import Store
from tests.synthetic import synthetic_record

SECTION = """
[[sections]]
name = "{name}"
{own}
design = {{ add_one = ["dropout"] }}
datasets = [{{ name = "digits", train_sizes = [60] }}]
"""
GRID = (
    "seeds = [1, 2, 3]\nmin_train_accuracy = 0.8\n[budget]\nepochs = 3\n"
    + SECTION.format(name="own", own="min_train_accuracy = 0.6")
    + SECTION.format(name="inherits", own="")
    + SECTION.format(name="strict", own="min_train_accuracy = 0.9")
)
# The baseline's clean train accuracy in each section: testable only under that section's threshold
# (own: 0.70 >= 0.6 but < 0.8; inherits: 0.85 >= 0.8 but < 0.99; strict: 0.85 < 0.9).
TRAIN = {"own": 0.70, "inherits": 0.85, "strict": 0.85}
TESTABLE = {"own": True, "inherits": True, "strict": False}


def test_a_section_keeps_its_own_threshold_and_inherits_the_top_level_one(write_grid):
    spec = load_spec(str(write_grid(GRID, name="thresholds")))
    assert {s.section: s.min_train_accuracy for s in spec.sections} == {"own": 0.6, "inherits": 0.8, "strict": 0.9}
    # without a top-level one, a section that sets none gets the default
    bare = load_spec(str(write_grid(GRID.replace("min_train_accuracy = 0.8\n", ""), name="bare")))
    assert {s.section: s.min_train_accuracy for s in bare.sections} == {"own": 0.6, "inherits": 0.99, "strict": 0.9}


def test_the_regime_reads_each_sections_threshold():
    rows = [
        {"status": "ok", "section": section, "dataset": "digits", "imbalance": 0.0, "train_size": 60, "model": "mlp",
         "technique_set": "baseline", "seed": seed, "train_accuracy": TRAIN[section], "test_accuracy": 0.6,
         "accuracy_gap": TRAIN[section] - 0.6}
        for section in TRAIN for seed in (1, 2, 3)
    ]  # fmt: skip
    regime = evidence.regime(pd.DataFrame(rows), {"own": 0.6, "inherits": 0.8, "strict": 0.9})
    assert dict(zip(regime["section"], regime["testable"], strict=True)) == TESTABLE
    assert dict(zip(regime["section"], regime["threshold"], strict=True)) == {
        "own": 0.6,
        "inherits": 0.8,
        "strict": 0.9,
    }


def test_the_analysis_judges_each_section_by_its_own_threshold(write_grid, tmp_path):
    spec = load_spec(str(write_grid(GRID, name="thresholds")))
    store = Store(tmp_path / "results", "thresholds")
    for cell in expand(spec).cells:
        record = synthetic_record(cell)
        record["final"]["train"]["accuracy"] = TRAIN[cell.section]
        store.write(Result.from_json(record))
    regime = collect(read_inputs(spec, tmp_path / "results")).regime
    assert dict(zip(regime["section"], regime["testable"], strict=True)) == TESTABLE
    assert dict(zip(regime["section"], regime["threshold"], strict=True)) == {
        "own": 0.6,
        "inherits": 0.8,
        "strict": 0.9,
    }
