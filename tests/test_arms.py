"""Fair arms: each seed judged at the candidate chosen without it (cross-fitting) or by dedicated
tuning seeds, on validation never test; edges of the candidates flagged; tuned doses chosen like
the learning rate; the optimism same-seed selection would add. Constructed cells frames."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from regbench.analysis import arms, effects
from regbench.grid.tuning import Candidate, at_edge, candidates


def cells(values: dict, seeds=(1, 2, 3), section: str = "") -> pd.DataFrame:
    """{(set, rate, dose): {seed: (val, test)}} -> an ok cells frame; dose: a dropout rate or None."""
    rows = []
    for (name, rate, dose), by_seed in values.items():
        for seed in seeds:
            val, test = by_seed[seed]
            rows.append({"section": section, "dataset": "digits", "imbalance": 0.0, "train_size": 100, "model": "mlp",
                         "technique_set": name, "learning_rate": rate, "seed": seed, "status": "ok",
                         "doses": (("dropout", "rate", dose),) if dose is not None else (), "train_accuracy": 1.0,
                         "val_accuracy": val, "test_accuracy": test, "accuracy_gap": 1.0 - test, "loss_gap": 0.1})  # fmt: skip
    frame = pd.DataFrame(rows)
    return frame.assign(cell_id=[f"c{i}" for i in range(len(frame))])


def test_each_seed_is_judged_at_the_candidate_the_other_seeds_choose():
    """Seed 3 prefers rate 0.01 on its own validation (and its test agrees), the other two prefer
    0.001: cross-fitting judges seed 3 at 0.001; same-seed selection (the mean over all three,
    seed 3's outlier included) picks 0.01 for everyone and would have added seed 3's optimism."""
    frame = cells({
        ("baseline", 0.001, None): {1: (0.90, 0.80), 2: (0.90, 0.80), 3: (0.80, 0.70)},
        ("baseline", 0.01, None): {1: (0.89, 0.79), 2: (0.89, 0.79), 3: (0.95, 0.85)},
    })  # fmt: skip
    choice = arms.choose(frame, {}).set_index("seed")
    assert choice["candidate"].to_dict() == {1: "lr 0.01", 2: "lr 0.01", 3: "lr 0.001"}
    assert set(choice["same_seed"]) == {"lr 0.01"} and set(choice["how"]) == {"cross-fitted on the other seeds"}
    assert choice.loc[3, "optimism"] == pytest.approx(0.85 - 0.70) and choice.loc[1, "optimism"] == 0
    table = arms.tuning_table(frame, arms.choose(frame, {}), {})
    assert table["changed"].iloc[0] == 1 and table["chosen"].iloc[0] == "lr 0.01 (2/3 seeds); lr 0.001 (1/3 seeds)"
    # both rates are edges of two candidates: each end says its own seeds (not 3/3 at the first one's)
    assert table["edge"].iloc[0] == "2/3 seeds at the largest rate; 1/3 seeds at the smallest rate"


def test_a_dose_is_chosen_on_validation_even_when_test_disagrees():
    good_val_bad_test = {s: (0.95, 0.60) for s in (1, 2, 3)}
    bad_val_good_test = {s: (0.80, 0.99) for s in (1, 2, 3)}
    frame = cells({
        ("baseline", 0.01, None): {s: (0.9, 0.8) for s in (1, 2, 3)},
        ("dropout", 0.01, 0.1): bad_val_good_test, ("dropout", 0.01, 0.5): good_val_bad_test,
    })  # fmt: skip
    choice = arms.choose(frame, {})
    chosen = choice[choice["technique_set"] == "dropout"]
    assert set(chosen["candidate"]) == {"lr 0.01, dropout.rate 0.5"}
    effect = effects.effects(arms.arms(frame, choice)).set_index("metric").loc["test_accuracy"]
    assert effect["mean"] == pytest.approx(0.60 - 0.80)  # judged at the dose validation chose


def test_tuning_seeds_choose_and_are_never_judged():
    values = {
        ("baseline", 0.001, None): {11: (0.9, 0.8), 12: (0.9, 0.8), 1: (0.9, 0.8), 2: (0.9, 0.8)},
        ("baseline", 0.01, None): {11: (0.95, 0.5), 12: (0.95, 0.5)},  # only the tuning seeds ran it
    }
    rows = []
    for (name, rate, dose), by_seed in values.items():
        for seed, (val, test) in by_seed.items():
            rows.append(cells({(name, rate, dose): {seed: (val, test)}}, seeds=(seed,)))
    frame = pd.concat(rows, ignore_index=True).assign(cell_id=lambda f: [f"c{i}" for i in range(len(f))])
    choice = arms.choose(frame, {"": (11, 12)})
    assert set(choice["seed"]) == set()  # the evaluation seeds never ran the chosen 0.01: no arm
    frame = pd.concat([frame, cells({("baseline", 0.01, None): {1: (0.9, 0.7), 2: (0.9, 0.7)}}, seeds=(1, 2))],
                      ignore_index=True).assign(cell_id=lambda f: [f"c{i}" for i in range(len(f))])  # fmt: skip
    choice = arms.choose(frame, {"": (11, 12)})
    assert sorted(choice["seed"]) == [1, 2] and set(choice["candidate"]) == {"lr 0.01"}
    assert set(choice["how"]) == {"chosen by tuning seeds 11, 12"}
    assert not set(arms.arms(frame, choice)["seed"]) & {11, 12}
    # the validation accuracies the table shows are the tuning seeds', which chose (not the
    # evaluation seeds' at the chosen rate: 0.9 would make the choice look wrong)
    table = arms.tuning_table(frame, choice, {"": (11, 12)})
    assert table["tried"].iloc[0] == "lr 0.001: 90.0%, lr 0.01: 95.0%"


def test_a_choice_at_an_edge_is_flagged():
    order = candidates([0.001, 0.003, 0.01], [("dropout", "rate", (0.1, 0.3, 0.5))], limit=16)
    assert len(order) == 9 and order[0] == Candidate(0.001, (("dropout", "rate", 0.1),))
    assert at_edge(Candidate(0.003, (("dropout", "rate", 0.3),)), order) == []
    assert at_edge(Candidate(0.01, (("dropout", "rate", 0.3),)), order) == ["the largest rate"]
    assert at_edge(Candidate(0.003, (("dropout", "rate", 0.1),)), order) == ["the smallest dropout.rate"]
    two = candidates([0.003, 0.01], [], limit=16)
    assert at_edge(two[1], two) == ["the largest rate"]  # two rates never bracket an optimum


def test_a_large_product_is_a_fixed_quasi_random_subset():
    dims = [("dropout", "rate", (0.1, 0.2, 0.3, 0.4)), ("l2", "factor", (1e-5, 1e-4, 1e-3))]
    chosen = candidates([0.001, 0.003, 0.01], dims, limit=10)
    assert len(chosen) == 10 == len(set(chosen)) and chosen == candidates([0.01, 0.003, 0.001], dims, limit=10)
    every = list(itertools.product((0.001, 0.003, 0.01), (0.1, 0.2, 0.3, 0.4), (1e-5, 1e-4, 1e-3)))
    assert {(c.learning_rate, c.doses[0][2], c.doses[1][2]) for c in chosen} < set(every)
    assert {c.learning_rate for c in chosen} == {0.001, 0.003, 0.01}  # spread over every axis


def test_a_lone_seed_can_only_choose_on_itself_and_says_so():
    """With one seed there are no other seeds: it is judged at its own best validation candidate,
    and the choice says how it was made."""
    frame = cells({
        ("baseline", 0.001, None): {1: (0.80, 0.70)},
        ("baseline", 0.01, None): {1: (0.90, 0.60)},  # best on validation, worse on test
    }, seeds=(1,))  # fmt: skip
    (row,) = arms.choose(frame, {}).to_dict("records")
    assert (row["candidate"], row["how"]) == ("lr 0.01", "one seed: chosen on itself")
