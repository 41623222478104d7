"""Evidence fit to judge: the regime check, triggers that never fired, arms that measure nothing.
Constructed records with chosen numbers, and one real underfit grid end to end."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from regbench.analysis import effects, evidence, families
from regbench.cli import main
from tests.helpers import TINY_GRID


def frame(rows: list[dict]) -> pd.DataFrame:
    """A cells frame of ok cells with the columns the evidence functions read."""
    base = {"status": "ok", "section": "", "dataset": "digits", "imbalance": 0.0, "train_size": 100, "model": "mlp"}
    base["loss_gap"] = 0.1
    out = pd.DataFrame([base | r for r in rows])
    out["accuracy_gap"] = out["train_accuracy"] - out["test_accuracy"]
    out["cell_id"] = [f"c{i}" for i in range(len(out))]
    return out


def arms(val: dict, test: dict, train: float = 1.0) -> pd.DataFrame:
    """Cells of two sets at two rates, 3 seeds; val/test: {(set, rate): accuracy}."""
    rows = []
    for (name, rate), seed in itertools.product(val, (1, 2, 3)):
        noise = 0.001 * seed
        rows.append({"technique_set": name, "learning_rate": rate, "seed": seed, "train_accuracy": train,
                     "val_accuracy": val[name, rate] + noise, "test_accuracy": test[name, rate] + noise})  # fmt: skip
    return frame(rows)


def checked(table: pd.DataFrame, regime: pd.DataFrame, engaged: pd.DataFrame) -> pd.DataFrame:
    """evidence.judge with the checks analysis/verdicts passes it: underfit conditions, idle triggers."""
    return evidence.judge(table, evidence.underfit(regime), evidence.never_engaged(engaged) if len(engaged) else {})


def test_an_underfitting_baseline_makes_its_condition_not_testable():
    cells = pd.concat(
        [
            arms(
                {("baseline", 0.01): 0.7, ("dropout", 0.01): 0.7},
                {("baseline", 0.01): 0.6, ("dropout", 0.01): 0.6},
                0.76,
            ),
            arms(
                {("baseline", 0.01): 0.9, ("dropout", 0.01): 0.9}, {("baseline", 0.01): 0.8, ("dropout", 0.01): 0.8}
            ).assign(train_size=1000),
        ],
        ignore_index=True,
    ).assign(cell_id=lambda f: [f"c{i}" for i in range(len(f))])
    regime = evidence.regime(cells, {None: 0.99})
    assert regime["testable"].tolist() == [False, True]
    assert regime["reason"].iloc[0] == "baseline underfits (train 0.760 < 0.99)"
    judged = checked(effects.effects(cells), regime, evidence.engagement(cells))
    assert set(judged.loc[judged["train_size"] == 100, "why_not"]) == {"baseline underfits (train 0.760 < 0.99)"}
    assert judged.loc[judged["train_size"] == 1000, "testable"].all()
    # the grid's own threshold decides
    assert evidence.regime(cells, {None: 0.75})["testable"].tolist() == [True, True]


def test_a_trigger_that_never_fired_is_not_an_effect():
    rows = [{"technique_set": s, "learning_rate": 0.01, "seed": seed, "train_accuracy": 1.0, "val_accuracy": 0.9,
             "test_accuracy": 0.8 + 0.01 * seed, "early_stopping_triggered": fired}
            for s, fired in (("baseline", None), ("early_stopping", False), ("early_stopping+l2", True))
            for seed in (1, 2, 3)]  # fmt: skip
    rows[-1]["early_stopping_triggered"] = False  # l2 set: fired in 2 of 3 seeds
    cells = frame(rows)
    engaged = evidence.engagement(cells)
    assert engaged[["technique_set", "technique", "triggered", "n"]].values.tolist() == [
        ["early_stopping", "early_stopping", 0, 3],
        ["early_stopping+l2", "early_stopping", 2, 3],
    ]
    judged = checked(effects.effects(cells), evidence.regime(cells, {None: 0.99}), engaged)
    why = dict(zip(judged["technique_set"], judged["why_not"], strict=True))
    assert why == {"early_stopping": "early_stopping never triggered (0/3 seeds)", "early_stopping+l2": ""}
    notes = evidence.trigger_notes(engaged)
    assert notes[("", "digits", 0.0, 100, "mlp", "early_stopping+l2")] == "early_stopping never triggered in 1/3 seeds"


@pytest.mark.slow
def test_an_underfit_grid_reads_not_testable_end_to_end(write_grid, tmp_path):
    """One short epoch: the baseline cannot fit digits, so the report judges nothing."""
    grid = write_grid(TINY_GRID.replace("epochs = 3", "epochs = 1").replace("seeds = [1]", "seeds = [1, 2]"))
    assert main(["run", str(grid), "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]) == 0
    text = (tmp_path / "reports" / "tiny.md").read_text()
    assert "0 of 1 conditions are testable" in text
    assert "| no: baseline underfits (train 0." in text
    effects = text[text.index("## Effects against the baseline") :].split("\n## ")[0]
    assert "| not testable: baseline underfits" in effects  # the verdicts
    assert "| smaller gap" not in effects and "| not distinguishable from baseline" not in effects


def test_identical_arms_are_named_and_a_control_stands_outside_every_family():
    """best_checkpoint repeats early_stopping's numbers in every seed; class weights are a control."""
    rows = []
    for seed in (1, 2, 3):
        for name, test in (
            ("baseline", 0.80),
            ("early_stopping", 0.82),
            ("best_checkpoint", 0.82),
            ("class_weights", 0.81),
        ):
            rows.append({"technique_set": name, "learning_rate": 0.01, "seed": seed, "train_accuracy": 1.0,
                         "val_accuracy": 0.9, "test_accuracy": test + 0.002 * seed * (name != "baseline"),
                         "train_loss": 0.1, "val_loss": 0.3, "test_loss": 0.4})  # fmt: skip
    cells = frame(rows)
    twins = evidence.identical(cells)
    assert twins[("", "digits", 0.0, 100, "mlp", "early_stopping")] == ("best_checkpoint", 3, 3)
    table = checked(effects.effects(cells), evidence.regime(cells, {None: 0.99}), evidence.engagement(cells))
    table = table.assign(outside=evidence.outside(table, {"": ("class_weights",)}, twins))
    judged = (
        families.assign(table, families.condition_family).query("metric == 'test_accuracy'").set_index("technique_set")
    )
    assert judged.loc["early_stopping", "outside"] == "identical to best_checkpoint in 3/3 seeds"
    assert judged.loc["class_weights", "outside"] == "control"
    assert judged.loc["best_checkpoint", "family"] != "" and judged.loc["best_checkpoint", "family_size"] == 1
    assert (
        judged.loc["early_stopping", "family"] == judged.loc["class_weights", "family"] == ""
    )  # counted once, and no control


def test_families_are_fixed_by_the_question():
    """Each condition is its own family: adding a condition does not change another's verdicts."""
    rows = []
    for size, base in ((100, 0.80), (200, 0.85)):
        for seed in (1, 2, 3):
            for name, lift in (("baseline", 0.0), ("dropout", 0.05), ("l2", 0.001 * (-1) ** seed)):
                rows.append({"technique_set": name, "learning_rate": 0.01, "seed": seed, "train_accuracy": 1.0,
                             "val_accuracy": 0.9, "test_accuracy": base + lift + 0.003 * seed, "train_size": size,
                             "train_loss": 0.1, "val_loss": 0.3, "test_loss": 0.4})  # fmt: skip
    cells = frame(rows)

    def judged(part):
        table = effects.effects(part).assign(testable=True, outside="")
        return families.assign(table, families.condition_family).query("metric == 'test_accuracy'")

    both, one = judged(cells), judged(cells[cells["train_size"] == 100])
    key = ["train_size", "technique_set"]
    merged = both.merge(one, on=key, suffixes=("", "_alone"))
    assert merged["p_holm"].tolist() == pytest.approx(merged["p_holm_alone"].tolist())
    assert set(both["family_size"]) == {2} and both["family"].nunique() == 2
    gap = effects.effects(cells).query("metric == 'accuracy_gap'")
    assert (families.assign(gap.assign(testable=True, outside=""), families.condition_family)["family"] == "").all()


def test_a_design_family_holds_its_testable_test_accuracy_terms_of_one_condition():
    """A factorial term or leave-one-out contribution joins its design's family on the condition
    it was measured in, on test accuracy only and only where that condition is testable; a row
    without the testable column counts as testable."""
    family = families.design_family("factorial")
    row = {
        "metric": "test_accuracy",
        "section": "",
        "dataset": "digits",
        "imbalance": 0.0,
        "train_size": 100,
        "model": "mlp",
    }
    assert family(pd.Series(row)) == "factorial on digits n=100 mlp"
    assert family(pd.Series(row | {"testable": True})) == "factorial on digits n=100 mlp"
    assert family(pd.Series(row | {"testable": False})) is None
    assert family(pd.Series(row | {"metric": "accuracy_gap"})) is None
    assert family(pd.Series(row | {"metric": "accuracy_gap", "testable": True})) is None
    assert (
        families.design_family("leave one out")(pd.Series(row | {"train_size": 200}))
        == "leave one out on digits n=200 mlp"
    )


def test_families_assign_by_hand():
    """Two rows in family F (p 0.01 and 0.04: Holm 0.02, 0.04), one row in G, one outside every
    family: its family is "" and its evidence "", with no size, p or interval; a row without a p
    counts in no family's size. The simultaneous interval is Bonferroni at the family's size."""
    from regbench.analysis.stats import simultaneous_ci

    rows = pd.DataFrame([
        {"name": "a", "mean": 0.05, "low": 0.02, "high": 0.08, "sd": 0.01, "n": 3, "p": 0.01},
        {"name": "b", "mean": 0.03, "low": 0.01, "high": 0.05, "sd": 0.01, "n": 3, "p": 0.04},
        {"name": "c", "mean": 0.01, "low": -0.01, "high": 0.03, "sd": 0.01, "n": 3, "p": 0.3},
        {"name": "d", "mean": 0.05, "low": 0.02, "high": 0.08, "sd": 0.01, "n": 3, "p": 0.001},
        {"name": "e", "mean": 0.02, "low": 0.01, "high": 0.03, "sd": 0.01, "n": 3, "p": float("nan")},
    ])  # fmt: skip
    out = families.assign(rows, lambda r: {"a": "F", "b": "F", "e": "F", "c": "G"}.get(r["name"])).set_index("name")
    assert list(out.columns[-len(families.FAMILY_COLUMNS) :]) == families.FAMILY_COLUMNS
    assert out["family"].tolist() == ["F", "F", "G", "", "F"]
    assert out.loc["a", "family_size"] == 2 and out.loc["c", "family_size"] == 1
    assert out.loc["a", "p_holm"] == pytest.approx(0.02) and out.loc["b", "p_holm"] == pytest.approx(0.04)
    # e: no p, its CI alone excludes 0: suggestive, with the seeds that would establish it
    assert out["evidence"].tolist() == ["established", "established", "none", "", "suggestive"]
    assert out.loc["e", "seeds_low"] == 4 and out.loc["a", ["seeds_low", "seeds_high"]].isna().all()
    assert out.loc["d", "evidence"] == "" and out.loc["d", ["family_size", "p_holm", "sim_low"]].isna().all()
    low, high = simultaneous_ci(0.05, 0.01, 3, 2)
    assert (out.loc["a", "sim_low"], out.loc["a", "sim_high"]) == (pytest.approx(low), pytest.approx(high))
    assert (
        list(families.assign(rows.iloc[:0], lambda r: "F").columns[-len(families.FAMILY_COLUMNS) :])
        == families.FAMILY_COLUMNS
    )
