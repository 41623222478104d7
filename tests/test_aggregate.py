"""Statistics checked against values computed by hand on small inline tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from regbench.analysis import aggregate as agg
from regbench.analysis import effects
from regbench.analysis.stats import crosses_zero, holm, mean_ci, paired_p
from regbench.records.result import Result

T_975_DF2 = 4.302652729911275  # Student t, 97.5th percentile, 2 degrees of freedom


def test_mean_ci_by_hand():
    mean, low, high, n = mean_ci([1.0, 2.0, 3.0])
    half = T_975_DF2 * 1.0 / math.sqrt(3)  # sd = 1
    assert (mean, n) == (2.0, 3) and low == pytest.approx(2 - half) and high == pytest.approx(2 + half)
    assert math.isnan(mean_ci([5.0])[1]) and mean_ci([])[3] == 0


def test_paired_p_by_hand():
    # t = mean / (sd / sqrt(n)) = 2 / (1 / sqrt 3) = 3.4641; two-sided with 2 df
    assert paired_p([1.0, 2.0, 3.0]) == pytest.approx(0.07418, abs=1e-4)
    assert paired_p([0.0, 0.0, 0.0]) == 1.0 and math.isnan(paired_p([1.0]))


def test_zero_variance_differences_do_not_get_p_zero():
    """Three seeds each one test example (1/360) better, as float32 accuracies store it: the
    t-test would give p ~ 1e-11; the exact sign-flip test gives 2/2^3, and no interval."""
    one = [float(np.float32((k + 1) / 360)) - float(np.float32(k / 360)) for k in (300, 310, 320)]
    assert np.ptp(one) > 0  # not exactly equal: the float32 rounding differs
    assert paired_p(one) == pytest.approx(0.25)
    assert paired_p([0.01] * 5) == pytest.approx(2 / 32)
    mean, low, high, _ = mean_ci(one)
    assert crosses_zero(low, high)  # a zero-width interval is no evidence: no verdict
    d = [0.3, -0.1, 0.45, 0.2, 0.05]
    assert paired_p(d) == pytest.approx(scipy.stats.ttest_1samp(d, 0.0).pvalue, rel=1e-12)


def test_holm_by_hand():
    # sorted 0.01, 0.03, 0.04 times 3, 2, 1 -> 0.03, 0.06, 0.04 -> running max 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.02, math.nan])
    assert out[0] == pytest.approx(0.02) and math.isnan(out[1])  # NaN is no test


def frame(values: dict[str, list[float]], metric: str = "accuracy_gap", **condition) -> pd.DataFrame:
    """Inline cells: {technique_set: [value per seed]} in one condition."""
    condition = {"section": "", "dataset": "digits", "imbalance": 0.0, "train_size": 100, "model": "mlp"} | condition
    rows = [
        condition | {"technique_set": s, "members": () if s == "baseline" else tuple(s.split("+")), "seed": seed, "status": "ok",
                     "accuracy_gap": v, "loss_gap": v, "test_accuracy": 1 - v, "train_accuracy": 1.0, "epochs_run": 10,
                     "time_per_epoch_s": 0.1}
        for s, vs in values.items() for seed, v in enumerate(vs, start=1)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_effects_are_paired_by_seed():
    cells = frame({"baseline": [0.10, 0.12, 0.14], "dropout": [0.05, 0.09, 0.07]})
    row = effects.effects(cells).query("metric == 'accuracy_gap'").iloc[0]
    # differences -0.05, -0.03, -0.07: mean -0.05, sd 0.02
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    assert row["n"] == 3 and row["mean"] == pytest.approx(-0.05)
    assert row["low"] == pytest.approx(-0.05 - half) and row["high"] == pytest.approx(-0.05 + half)
    assert row["distinguishable"]  # -0.0997 .. -0.0003
    assert row["p"] == pytest.approx(paired_p([-0.05, -0.03, -0.07]))
    unpaired = frame({"baseline": [0.10, 0.12, 0.14], "dropout": [0.09, 0.13, 0.12]})
    assert not effects.effects(unpaired).query("metric == 'accuracy_gap'").iloc[0]["distinguishable"]


def test_factorial_main_effect_and_interaction_by_hand():
    # y(0) = s, y(A) = s + 2, y(B) = s + 1, y(AB) = s + 2 + 1 - 1.5 (interaction -1.5), s = seed offset
    seeds = [0.0, 0.1, 0.3]
    cells = frame(
        {"baseline": seeds, "a": [s + 2 for s in seeds], "b": [s + 1 for s in seeds], "a+b": [s + 1.5 for s in seeds]}
    )
    out = effects.factorial_effects(cells, ["a", "b"]).query("metric == 'accuracy_gap'").set_index("term")
    assert out.loc["a", "mean"] == pytest.approx(2 - 1.5 / 2)  # mean(y(A), y(AB)) - mean(y(0), y(B))
    assert out.loc["b", "mean"] == pytest.approx(1 - 1.5 / 2)
    assert out.loc["a x b", "mean"] == pytest.approx(-1.5) and out.loc["a x b", "kind"] == "interaction"


def test_factorial_effects_are_per_seed_contrasts_within_each_condition():
    """Each term is a contrast per seed, so its interval comes from the seeds' spread: main effect
    of a per seed is mean(y(a), y(a+b)) - mean(y(0), y(b)). A factor named by the design but in no
    set of a condition is no term there; a condition missing one of the 2^k sets has no terms."""
    import pandas as pd

    cells = pd.concat([
        frame({"baseline": [0.0, 0.0, 0.0], "a": [1.0, 2.0, 3.0], "b": [0.0, 0.3, 0.6], "a+b": [1.0, 2.3, 3.6]}),
        frame({"baseline": [0.0, 0.0], "a": [1.0, 1.0], "b": [0.5, 0.5]}, train_size=200),  # no a+b
    ])  # fmt: skip
    out = effects.factorial_effects(cells, ["a", "b", "c"]).query("metric == 'accuracy_gap'").set_index("term")
    assert sorted(out.index) == ["a", "a x b", "b"] and set(out["train_size"]) == {100}
    main = out.loc["a"]
    assert (main["n"], main["mean"], main["kind"]) == (
        3,
        pytest.approx(2.0),
        "main",
    )  # per seed 1, 2, 3 (b adds 0, 0.3, 0.6 to both sides)
    half = T_975_DF2 * 1.0 / math.sqrt(3)  # their sd is 1
    assert main["low"] == pytest.approx(2.0 - half) and main["high"] == pytest.approx(2.0 + half)
    assert out.loc["b", "mean"] == pytest.approx(0.3) and out.loc["a x b", "mean"] == pytest.approx(0.0)
    assert effects.factorial_effects(
        frame({"baseline": [0.0, 0.0], "a": [1.0, 1.0], "b": [0.5, 0.5]}), ["a", "b"]
    ).empty


def test_leave_one_out_contributions():
    cells = frame({"a+b": [0.05, 0.06, 0.07], "b": [0.10, 0.10, 0.10], "a": [0.06, 0.06, 0.06]})
    out = effects.leave_one_out(cells, ["a", "b"]).query("metric == 'accuracy_gap'").set_index("technique")
    assert out.loc["a", "mean"] == pytest.approx(-0.04)  # all - (all without a = b)
    assert out.loc["b", "mean"] == pytest.approx(0.0)


def test_ranking_with_ties():
    cells = frame({"baseline": [0.20, 0.215, 0.22], "dropout": [0.05, 0.06, 0.07], "l2": [0.06, 0.07, 0.05]})
    (row,) = effects.ranking(cells).to_dict("records")
    assert row["smallest_gap"] == "dropout" and row["tied_gap"] == "l2"  # paired CI includes 0
    assert row["best_test_accuracy"] == "dropout" and "baseline" not in row["tied_test_accuracy"]


def test_rankings_call_ties_by_the_paired_comparison():
    """Seeds differ a lot (their CIs overlap widely), yet dropout beats the baseline in every seed:
    not a tie. l2 against dropout goes either way from seed to seed: a tie."""
    cells = frame({"baseline": [0.20, 0.30, 0.40], "dropout": [0.19, 0.285, 0.392], "l2": [0.21, 0.28, 0.40]})
    (row,) = effects.ranking(cells).to_dict("records")
    assert row["smallest_gap"] == "dropout" and row["tied_gap"] == "l2"


def test_history_frame_long_form_and_schema_1_records():
    new = Result("b", "s", {}, history={"train": {"xent": [0.9, 0.5]}, "val": {"xent": [1.0, 0.8]}})
    # Schema 1 stored one dict per value; the store converts such records when it reads them.
    old = {"cell_id": "a", "slug": "s", "cell": {}, "schema": 1, "history": [
        {"epoch": 2, "split": "train", "metric": "accuracy", "value": 0.7},
        {"epoch": 1, "split": "train", "metric": "accuracy", "value": 0.6},
    ]}  # fmt: skip
    frame = agg.history_frame([Result.from_json(old), new])
    assert list(frame.columns) == ["cell_id", "epoch", "step", "split", "metric", "value"]
    assert frame.drop(columns="step").astype({"split": str, "metric": str}).values.tolist() == [
        ["a", 1, "train", "accuracy", 0.6],
        ["a", 2, "train", "accuracy", 0.7],
        ["b", 1, "train", "xent", 0.9],
        ["b", 2, "train", "xent", 0.5],
        ["b", 1, "val", "xent", 1.0],
        ["b", 2, "val", "xent", 0.8],
    ]


def constructed_record(cell_id: str = "abc", seed: int = 1, technique: str | None = None) -> dict:
    """A stored record whose every split has its own distinct numbers."""
    final = {"train": {"loss": 0.11, "accuracy": 0.91, "objective": 0.12},
             "val": {"loss": 0.52, "accuracy": 0.82, "objective": 0.53},
             "test": {"loss": 0.63, "accuracy": 0.73, "objective": 0.64}}  # fmt: skip
    cell = {"dataset": "digits", "train_size": 50, "val_size": 60, "split_seed": seed, "model": "mlp", "seed": seed,
            "techniques": {technique: {}} if technique else {}, "steps": 40, "eval_every": 20, "batch_size": 32,
            "optimizer": "adam", "learning_rate": 0.001}  # fmt: skip
    return {"schema": 3, "cell_id": cell_id, "slug": "s", "cell": cell, "status": "ok", "error": None,
            "history": {"train": {"accuracy": [0.5, 0.91]}, "val": {"accuracy": [0.4, 0.82]}}, "eval_steps": [20, 40],
            "final": final, "gap": {"accuracy": 0.91 - 0.73, "loss": 0.63 - 0.11}, "best_epoch": 2, "best_step": 40,
            "epochs_run": 25.0, "steps_run": 40, "mechanisms": {}, "time_per_epoch_s": 0.1, "wall_time_s": 1.0,
            "at_best_val": {"step": 40, "val": final["val"], "test": {"loss": 0.6, "accuracy": 0.74, "objective": 0.6}}}  # fmt: skip


def test_train_and_test_columns_land_where_named():
    (row,) = agg.cells_frame([Result.from_json(constructed_record())]).to_dict("records")
    assert (row["train_accuracy"], row["val_accuracy"], row["test_accuracy"]) == (0.91, 0.82, 0.73)
    assert (row["train_loss"], row["val_loss"], row["test_loss"]) == (0.11, 0.52, 0.63)
    assert row["accuracy_gap"] == pytest.approx(0.18) and row["loss_gap"] == pytest.approx(0.52)
    assert row["best_val_test_accuracy"] == 0.74 and row["steps_run"] == 40 and row["steps"] == 40
    history = agg.history_frame([Result.from_json(constructed_record())])
    assert history[["split", "step", "value"]].astype({"split": str}).values.tolist() == [
        ["train", 20, 0.5], ["train", 40, 0.91], ["val", 20, 0.4], ["val", 40, 0.82]
    ]  # fmt: skip


def test_every_field_of_a_record_lands_in_its_column():
    record = constructed_record("b2", seed=2, technique="early_stopping")
    record["cell"] |= {"section": "S", "imbalance": 10.0, "momentum": 0.9}
    record["slug"] = "S/digits_imb10/n50/mlp/early_stopping/s2"
    record |= {"mechanisms": {"early_stopping": {"triggered": True, "stopped_at_step": 20}}, "params": 123,
               "device": "CPU (x86_64, 2 cores)", "git_revision": "abc123", "numerics": {"dtype_policy": "mixed_bfloat16", "jit_compile": True},
               "timing": {"setup_s": 0.2, "first_call_s": 0.3, "train_s": 0.4, "validate_s": 0.05, "evaluate_s": 0.01, "reused": True},
               "setup": {"transfer": {"source": "pretrain:font_digits", "backbone_id": "bb1", "source_test_accuracy": 0.96}}}  # fmt: skip
    first = constructed_record("a1", seed=1)
    first["cell"] |= {"section": "S", "imbalance": 10.0}
    frame = agg.cells_frame([Result.from_json(record), Result.from_json(first)])
    assert frame["cell_id"].tolist() == ["a1", "b2"]  # sorted by condition, set, seed: baseline first
    row = frame.iloc[1].to_dict()
    expected = {
        "cell_id": "b2", "slug": "S/digits_imb10/n50/mlp/early_stopping/s2", "status": "ok", "error": None,
        "section": "S", "dataset": "digits", "imbalance": 10.0, "train_size": 50, "val_size": 60, "split_seed": 2,
        "model": "mlp", "technique_set": "early_stopping", "members": ("early_stopping",),
        "techniques": '{"early_stopping": {}}', "seed": 2, "steps": 40, "eval_every": 20, "batch_size": 32,
        "optimizer": "adam", "learning_rate": 0.001, "momentum": 0.9, "best_epoch": 2, "best_step": 40,
        "epochs_run": 25.0, "steps_run": 40, "time_per_epoch_s": 0.1, "wall_time_s": 1.0, "train_time_s": 0.4, "params": 123,
        "device": "CPU (x86_64, 2 cores)", "git_revision": "abc123", "best_val_step": 40,
        "best_val_test_accuracy": 0.74, "early_stopping_triggered": True, "numerics": "mixed_bfloat16 + XLA",
        "transfer_source": "pretrain:font_digits", "transfer_backbone": "bb1", "source_test_accuracy": 0.96,
    }  # fmt: skip
    assert {k: row[k] for k in expected} == expected
    assert frame.iloc[0]["section"] == "S" and frame.iloc[0]["numerics"] == "float32"
    plain = agg.cells_frame([Result.from_json(constructed_record())]).iloc[0]
    assert (plain["section"], plain["imbalance"]) == ("", 0.0)  # outside sections; a stratified subset
    failed = constructed_record("f") | {"status": "failed", "error": "NaN loss", "final": None, "gap": None,
                                        "at_best_val": None}  # fmt: skip
    failed["cell"] |= {"epochs": 7, "steps": None, "techniques": {"l2": {"factor": 0.1}, "dropout": {"rate": 0.5}}}
    row = agg.cells_frame([Result.from_json(failed)]).iloc[0]
    assert row[["train_accuracy", "test_loss", "accuracy_gap", "loss_gap", "best_val_test_accuracy"]].isna().all()
    assert row["epochs"] == 7 and row["error"] == "NaN loss" and np.isnan(row["train_time_s"])  # no timing
    assert row["techniques"] == '{"dropout": {"rate": 0.5}, "l2": {"factor": 0.1}}'  # sorted: equal sets, equal text
    assert list(agg.cells_frame([]).columns[:5]) == ["cell_id", "slug", "status", "error", "section"]


def test_curves_average_each_step_over_seeds():
    records = [constructed_record(f"c{seed}", seed) for seed in (1, 2)]
    records[1]["history"] = {"train": {"accuracy": [0.7, 0.95]}, "val": {"accuracy": [0.6, 0.84]}}
    results = [Result.from_json(r) for r in records]
    curve = agg.curves(agg.history_frame(results), agg.cells_frame(results))
    val = curve[(curve["split"] == "val") & (curve["metric"] == "accuracy")].sort_values("step")
    assert val["step"].tolist() == [20, 40] and val["mean"].tolist() == pytest.approx([0.5, 0.83])
    assert val["std"].tolist() == pytest.approx([np.std([0.4, 0.6], ddof=1), np.std([0.82, 0.84], ddof=1)])
    assert set(curve["technique_set"]) == {"baseline"} and set(curve["dataset"]) == {"digits"}


def test_figures_draw_the_columns_they_name():
    from regbench.report import plots

    cells = agg.cells_frame(
        [Result.from_json(constructed_record(f"c{s}", s, t)) for s in (1, 2) for t in (None, "dropout")]
    )
    cells.loc[cells["technique_set"] == "dropout", ["test_accuracy", "accuracy_gap"]] = (0.6, 0.05)
    fig = plots.train_vs_test(cells)
    dots, means = fig.axes[0].collections[:2], fig.axes[0].collections[2:]  # every cell, then each set's mean
    points = np.concatenate([c.get_offsets() for c in dots])
    assert sorted(map(tuple, points.tolist())) == sorted(
        zip(cells["train_accuracy"], cells["test_accuracy"], strict=True)
    )
    by_set = cells.groupby("technique_set")[["train_accuracy", "test_accuracy"]].mean()
    np.testing.assert_allclose(np.concatenate([c.get_offsets() for c in means]), by_set.to_numpy())
    summary = agg.summary(cells)
    fig = plots.gap_by_set(summary)
    markers = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    drawn = sorted(float(x) for line in markers for x in line.get_xdata())
    assert drawn == pytest.approx(sorted(summary["accuracy_gap_mean"]))  # the gap panel: mean gaps on x
    assert drawn == pytest.approx([0.05, 0.18])


def test_intervals_and_p_values_at_the_smallest_sample_that_has_them():
    mean, low, high, n = mean_ci([1.0, 3.0])  # two seeds: an interval, wide
    assert (mean, n) == (2.0, 2) and math.isfinite(low) and low < 2.0 < high
    assert math.isfinite(paired_p([1.0, 3.0])) and math.isnan(paired_p([1.0, float("nan")]))


def test_an_interval_touching_zero_crosses_it():
    assert crosses_zero(0.0, 0.5) and crosses_zero(-0.5, 0.0) and crosses_zero(float("nan"), 1.0)
    assert not crosses_zero(0.01, 0.5) and not crosses_zero(-0.5, -0.01)


def test_the_significance_rule():
    from regbench.analysis.stats import evidence, seeds_needed

    assert evidence(-0.1, -0.01, 0.01) == "established"
    assert evidence(-0.1, -0.01, 0.05) == "suggestive"  # the corrected p must be below 0.05
    assert evidence(0.01, 0.1, float("nan")) == "suggestive"
    assert evidence(-0.1, 0.1, 0.001) == "none"
    # mean 5 pp, sd 2 pp: 8 seeds give 80% power at 0.05/51 (the power of a paired t-test)
    assert seeds_needed(0.05, 0.02, 51) == 8 and seeds_needed(0.05, 0.02, 1) == 4
    assert math.isnan(seeds_needed(0.05, 0.0, 5)) and math.isnan(seeds_needed(0.0, 0.02, 5))


def test_sweep_effects_are_the_sweeps_sets_keyed_by_value():
    """The effects of a sweep's sets only, with the sweep's name and the swept value in front, in
    the order sweep, metric, condition, value (a lower value first whatever the set's name)."""
    cells = pd.concat([
        frame({"baseline": [0.10, 0.12, 0.14], "dropout(rate=0.5)": [0.05, 0.06, 0.07],
               "dropout(rate=0.25)": [0.08, 0.09, 0.10], "l2": [0.09, 0.1, 0.11]}),
        frame({"baseline": [0.2, 0.2, 0.2], "dropout(rate=0.5)": [0.1, 0.1, 0.1]}, train_size=50),
    ])  # fmt: skip
    table = effects.effects(cells)
    points = {"dropout(rate=0.5)": ("dropout.rate", 0.5), "dropout(rate=0.25)": ("dropout.rate", 0.25)}
    out = effects.sweep_effects(table, points)
    assert list(out.columns[:2]) == ["sweep", "value"] and list(out.columns[2:]) == list(table.columns)
    assert set(out["technique_set"]) == set(points) and set(out["sweep"]) == {"dropout.rate"}
    gap = out[out["metric"] == "accuracy_gap"]
    assert gap[["train_size", "value"]].values.tolist() == [[50, 0.5], [100, 0.25], [100, 0.5]]
    assert gap["mean"].tolist() == pytest.approx([-0.1, -0.03, -0.06]) and out.index.tolist() == list(range(len(out)))
    assert effects.sweep_effects(table, {}).empty and effects.sweep_effects(table.iloc[:0], points).empty
