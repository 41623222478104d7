"""Verdicts a reviewer accepts, each on a constructed case the earlier rules got wrong: one p per
comparison wherever it appears, the underfitting veto under the claim's own correction, "helps
most when scarce" needs a gain where data is scarce, a claim at a step reads that step, and a
claimed magnitude is judged."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from regbench.analysis import claims
from regbench.analysis.claim_measures import effect_shrinks_with_size, metric_values
from regbench.analysis.collect import collect
from regbench.analysis.inputs import read_inputs
from regbench.analysis.stats import paired_effect
from regbench.grid.expand import expand
from regbench.grid.parse import load_spec
from regbench.grid.spec import Claim
from regbench.records.result import Result
from regbench.records.store import Store
from tests.synthetic import synthetic_record

CONDITION = {"section": "", "dataset": "digits", "imbalance": 0.0, "model": "mlp"}


def cells(effect_by_size: dict[int, list[float]], metric: str = "test_accuracy") -> pd.DataFrame:
    """Arms of baseline and dropout: dropout's per-seed difference in `metric` at each train size."""
    rows = []
    for size, diffs in effect_by_size.items():
        for seed, d in enumerate(diffs, start=1):
            for name, value in (("baseline", 0.8 + 0.01 * seed), ("dropout", 0.8 + 0.01 * seed + d)):
                rows.append(CONDITION | {"train_size": size, "technique_set": name, "seed": seed, "test_accuracy": value, metric: value,
                                         "cell_id": f"{name}{size}{seed}", "batch_size": 32})  # fmt: skip
    return pd.DataFrame(rows)


def test_a_claim_that_is_an_effects_row_takes_that_rows_p_and_verdict(write_grid, tmp_path):
    text = """
seeds = [1, 2, 3]
[budget]
epochs = 6
[design]
add_one = ["dropout", "l2", "batchnorm"]
[[datasets]]
name = "digits"
train_sizes = [50]
[[claims]]
article = "X"
claim = "dropout lifts test accuracy"
set = "dropout"
metric = "test_accuracy"
expect = "increase"
"""
    spec = load_spec(str(write_grid(text, name="lend")))
    store = Store(tmp_path / "results", "lend")
    for cell in expand(spec).cells:
        r = synthetic_record(cell)
        r["final"]["train"]["accuracy"] = 1.0
        r["final"]["test"]["accuracy"] = 0.8 + (0.02 + 0.01 * cell.seed) * (cell.technique_set == "dropout")
        store.write(Result.from_json(r))
    t = collect(read_inputs(spec, tmp_path / "results"))
    row = t.claims.iloc[0]
    effect = t.effects.query("metric == 'test_accuracy' and technique_set == 'dropout'").iloc[0]
    assert row["p (Holm)"] == f"{effect['p_holm']:.3f}" and row["family"] == f"{effect['family']} (3)"
    said = "supported" if effect["evidence"] == "established" else "suggestive"
    assert row["verdict"].startswith(said)  # the claims table says what the effects table says


def test_the_underfitting_veto_uses_the_claims_correction():
    """Test accuracy fell by 1.0, 1.5, 2.0 pp: below zero by its own 95% CI (the old veto), not by
    the Bonferroni interval of a family of 20 claim rows: the gap claim is not vetoed."""
    veto = paired_effect([-0.010, -0.015, -0.020])
    assert veto.high < 0  # the unadjusted interval lies below zero
    row = pd.Series({"veto": veto})
    assert claims.vetoed("supported", row, size=20) == "supported"
    fell = pd.Series({"veto": paired_effect([-0.10, -0.101, -0.102])})
    assert claims.vetoed("supported", fell, size=20).startswith("not supported: the gap shrank by underfitting")


def test_the_veto_takes_the_effects_tables_verdict_on_the_same_test_accuracy_change():
    """Where the effects table judges the set's test-accuracy change (its condition's family), the
    veto follows that verdict, whatever the claims family's size would say: one verdict per comparison."""
    small_fall = paired_effect([-0.010, -0.015, -0.020])  # not below zero at a claims family of 20
    established = {"evidence": "established", "mean": -0.015, "low": -0.02, "high": -0.01}
    row = pd.Series({"veto": small_fall, "veto_lent": established})
    assert claims.vetoed("supported", row, size=20) == (
        "not supported: the gap shrank by underfitting (test accuracy -1.5 pp [-2.0, -1.0], established in its "
        "condition's family)"
    )
    big_fall = paired_effect([-0.10, -0.101, -0.102])  # below zero even at 20
    suggestive = {"evidence": "suggestive", "mean": -0.10, "low": -0.11, "high": -0.09}
    assert claims.vetoed("supported", pd.Series({"veto": big_fall, "veto_lent": suggestive}), size=20) == "supported"


def test_helps_most_when_scarce_needs_a_gain_where_data_is_scarce():
    """Transfer gains nothing at n=50 and hurts at n=1000: it only hurts less when data is scarce."""
    claim = Claim("E", "transfer helps most when scarce", kind="effect_shrinks_with_size", set="dropout",
                  metric="test_accuracy", expect="increase")  # fmt: skip
    frame = cells({50: [0.001, -0.002, 0.0015], 1000: [-0.030, -0.031, -0.029]})
    (row,) = effect_shrinks_with_size(claim, frame, pd.DataFrame())
    assert row["verdict"] == "not supported: larger at n=50 than at n=1000, but no increase at n=50 itself"
    helps = cells({50: [0.031, 0.029, 0.030], 1000: [0.010, 0.011, 0.009]})
    (row,) = effect_shrinks_with_size(claim, helps, pd.DataFrame())
    assert row["verdict"] == "supported"


def test_a_claim_at_a_step_reads_exactly_that_step():
    """Evaluations at steps 25 and 50: a claim at step 30 is not measured (the first evaluation
    after it, step 50, is another claim); at step 25 it reads step 25, not 50."""
    frame = cells({100: [0.0, 0.0, 0.0]}, metric="val_accuracy").assign(eval_every=25)
    history = pd.DataFrame(
        [(cid, step, "val", "accuracy", 0.5 + step / 100) for cid in frame["cell_id"] for step in (25, 50)],
        columns=["cell_id", "step", "split", "metric", "value"],
    )
    at = Claim("E", "faster", set="dropout", metric="val_accuracy", step=25, expect="increase")
    assert metric_values(at, frame, history).tolist() == [0.75] * len(frame)
    between = Claim("E", "faster", set="dropout", metric="val_accuracy", step=30, expect="increase")
    assert metric_values(between, frame, history).isna().all()
    from regbench.analysis.claim_measures import effect

    (row,) = effect(between, frame, history)
    assert row["verdict"] == "not measured: no evaluation at step 30 (evaluated every 25 steps)"


def test_a_claimed_magnitude_is_judged():
    effect = paired_effect([0.020, 0.021, 0.022])  # +2.1 pp, a tight interval
    row = pd.Series({"magnitude": 0.10, "effect": effect, "metric": "test_accuracy"})
    assert claims.magnitude_text(row) == "; smaller than claimed: +2.1 pp [+1.9, +2.3] vs +10.0 pp"
    assert claims.magnitude_text(row.copy().replace({0.10: 0.021})).startswith("; as large as claimed")
    assert claims.magnitude_text(pd.Series({"magnitude": math.nan, "effect": effect})) == ""
    assert np.isfinite(effect.low)


def test_a_claim_at_an_epoch_reads_the_evaluation_that_ends_that_epoch():
    """100 examples in batches of 32: 4 steps an epoch, evaluations at steps 4, 8, 12. A claim at
    epoch 2 reads step 8 (not epoch 3's step 12, nor epoch 1's step 4)."""
    frame = cells({100: [0.0, 0.0, 0.0]}, metric="val_accuracy")
    history = pd.DataFrame(
        [(cid, step, "val", "accuracy", step / 100) for cid in frame["cell_id"] for step in (4, 8, 12)],
        columns=["cell_id", "step", "split", "metric", "value"],
    )
    at = Claim("E", "faster", set="dropout", metric="val_accuracy", epoch=2, expect="increase")
    assert metric_values(at, frame, history).tolist() == [0.08] * len(frame)


def claim_row(p: float, testable: str = "yes") -> dict:
    """A row of the claims table before the correction: an effect claim measured with `p`, its CI
    on the claimed side."""
    verdict = "supported" if testable == "yes" else f"not testable: {testable[4:]}"
    return {"article": "X", "claim": f"claim with p {p}", "setting": "full", "condition": "digits n=100 mlp",
            "compared": "dropout", "measured": "Δ", "n": 3, "p": p, "claimed": "", "testable": testable,
            "verdict": verdict, "expect": "decrease", "metric": "accuracy_gap", "magnitude": math.nan}  # fmt: skip


def test_the_claims_family_counts_only_testable_rows():
    """Two testable rows (p 0.02, 0.024) and one not testable (its baseline underfits) with p 0.5:
    Holm over the two keeps both below 0.05 (supported); counting the third would lift them to
    0.06 (suggestive). The not-testable row is in no family."""
    rows = [claim_row(0.02), claim_row(0.024), claim_row(0.5, "no: baseline underfits (train 0.700 < 0.99)")]
    table = claims.corrected(pd.DataFrame(rows))
    assert table["family"].tolist() == ["claims (2)", "claims (2)", "-"]
    assert table["p (Holm)"].tolist() == ["0.040", "0.040", "-"]
    assert table["verdict"].tolist() == [
        "supported",
        "supported",
        "not testable: baseline underfits (train 0.700 < 0.99)",
    ]


@pytest.mark.parametrize(
    ("evidence", "mean", "expect", "verdict"),
    [
        ("none", 0.02, "increase", "not supported (CI includes 0)"),
        ("established", 0.02, "increase", "supported"),
        ("established", -0.02, "increase", "contradicted"),
        ("established", -0.02, "decrease", "supported"),
        ("established", 0.02, "decrease", "contradicted"),
        ("suggestive", -0.02, "increase",
         "suggestive: contradicted by the CI alone (Holm p 0.20 in its condition's family)"),
    ],
)  # fmt: skip
def test_a_lent_verdict_says_which_side_the_effects_row_lies_on(evidence, mean, expect, verdict):
    effect = {"evidence": evidence, "mean": mean, "p_holm": 0.2}
    assert claims.lent_verdict(effect, expect) == verdict
