"""Evidence fit to judge: tuned arms chosen on validation, the regime check, triggers that never
fired. Constructed records with chosen numbers, and one real underfit grid end to end."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from regbench.analysis import aggregate as agg
from regbench.analysis import evidence
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


def test_learning_rate_is_chosen_on_validation_even_when_test_disagrees():
    # validation prefers 0.01 for both sets; test would prefer 0.001 (and a different effect)
    val = {("baseline", 0.01): 0.90, ("baseline", 0.001): 0.80, ("dropout", 0.01): 0.92, ("dropout", 0.001): 0.85}
    test = {("baseline", 0.01): 0.70, ("baseline", 0.001): 0.95, ("dropout", 0.01): 0.75, ("dropout", 0.001): 0.80}
    cells = arms(val, test)
    choice = evidence.choose_rates(cells)
    assert dict(zip(choice["technique_set"], choice["learning_rate"], strict=True)) == {
        "baseline": 0.01,
        "dropout": 0.01,
    }
    assert set(choice["rates"]) == {2} and "0.01: 90.2%" in choice["tried"].iloc[0]
    tuned = evidence.tuned(cells, choice)
    assert len(tuned) == 6 and set(tuned["learning_rate"]) == {0.01}
    effect = agg.effects(tuned).set_index("metric").loc["test_accuracy"]
    assert effect["mean"] == pytest.approx(0.05) and effect["n"] == 3  # 0.75 - 0.70, not 0.80 - 0.95


def test_each_set_keeps_its_own_rate_and_ties_go_to_the_smaller():
    val = {("baseline", 0.01): 0.90, ("baseline", 0.001): 0.90, ("dropout", 0.01): 0.80, ("dropout", 0.001): 0.85}
    choice = evidence.choose_rates(arms(val, val))
    assert dict(zip(choice["technique_set"], choice["learning_rate"], strict=True)) == {
        "baseline": 0.001,
        "dropout": 0.001,
    }


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
    judged = evidence.judge(agg.effects(cells), regime, evidence.engagement(cells))
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
    judged = evidence.judge(agg.effects(cells), evidence.regime(cells, {None: 0.99}), engaged)
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
