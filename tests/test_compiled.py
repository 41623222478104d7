"""Compiled models kept across a worker's cells: a cell started from a kept model gives the record a
freshly built one gives, field for field (all but times), for every kind of state a cell starts
from: weights, dropout and augmentation seeds, batch norm statistics, the optimizer and its rate,
callbacks under both budgets. And what is never reused, and the order that makes reuse happen."""

from __future__ import annotations

from dataclasses import replace

import pytest

from regbench.records.result import Result
from regbench.train import compiled
from regbench.train.options import RunOptions
from regbench.train.runner import run_cell
from tests.helpers import tiny_cell

pytestmark = pytest.mark.backend  # where the Keras backend matters: CI runs these under JAX as well

STEPS = {"epochs": None, "steps": 30, "eval_every": 10}
CASES = {
    "baseline": tiny_cell("digits", "mlp", {}, train_size=60, val_size=60, **STEPS),
    "dropout": tiny_cell("digits", "small_cnn", {"dropout": {}}, train_size=60, val_size=60, **STEPS),
    "batchnorm": tiny_cell("digits", "small_cnn", {"batchnorm": {}}, train_size=60, val_size=60, **STEPS),
    "augmentation": tiny_cell("digits", "small_cnn", {"augmentation": {}}, train_size=60, val_size=60, **STEPS),
    "label_smoothing": tiny_cell("digits", "mlp", {"label_smoothing": {}}, train_size=60, val_size=60, **STEPS),
    "weight_decay": tiny_cell("digits", "mlp", {"weight_decay": {"factor": 0.1}}, train_size=60, val_size=60, **STEPS),
    # patience 1 on a loss that never improves by 5: it stops, and restores the first evaluation
    "early_stopping_steps": tiny_cell(
        "digits", "mlp", {"early_stopping": {"patience": 1, "min_delta": 5.0}}, train_size=60, val_size=60, **STEPS
    ),
    "early_stopping_epochs": tiny_cell(
        "digits", "mlp", {"early_stopping": {"patience": 1}}, train_size=60, val_size=60, epochs=8, learning_rate=0.03
    ),
    # the rate the previous cell's plateau schedule cut must not carry over
    "reduce_lr_on_plateau": tiny_cell(
        "digits",
        "mlp",
        {"reduce_lr_on_plateau": {"patience": 1, "min_delta": 5.0}},
        train_size=60,
        val_size=60,
        **STEPS,
    ),
}


def comparable(record: Result) -> dict:
    """Every field of a record but the times (the wall, each interval's, the timing split)."""
    out = record.to_json()
    for key in ("wall_time_s", "time_per_epoch_s", "timing"):
        out.pop(key)
    out["history"] = {s: {m: v for m, v in by.items() if m != "epoch_time_s"} for s, by in out["history"].items()}
    return out


def neighbour(cell):
    """Another cell of the same shape: another seed, rate and training subset (an epochs budget
    keeps the train size, whose steps per epoch set the steps per compiled call under JAX)."""
    other = replace(cell, seed=cell.seed + 1, split_seed=1, learning_rate=cell.learning_rate * 3)
    return other if cell.steps is None else replace(other, train_size=80)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_cell_after_another_of_its_shape_gives_the_fresh_record(case):
    cell = CASES[case]
    compiled.forget()
    fresh = run_cell(cell, RunOptions(reuse=False))
    before = run_cell(neighbour(cell))  # trains the model that is then kept
    assert before.ok and not before.timing["reused"] and compiled.kept_count() == 1
    again = run_cell(cell)
    assert again.timing["reused"], "the cell did not start from the kept model"
    assert comparable(again) == comparable(fresh)


CALLBACK_ONLY = ("early_stopping_steps", "early_stopping_epochs", "reduce_lr_on_plateau")


@pytest.mark.parametrize("case", CALLBACK_ONLY)
def test_a_callback_only_set_trains_the_baselines_compiled_model_and_gives_the_fresh_record(case):
    cell = CASES[case]
    baseline = replace(neighbour(cell), techniques=())
    compiled.forget()
    fresh = run_cell(cell, RunOptions(reuse=False))
    assert not run_cell(baseline).timing["reused"] and compiled.kept_count() == 1
    again = run_cell(cell)
    assert again.timing["reused"] and compiled.kept_count() == 1, "the set did not start from the baseline's model"
    assert comparable(again) == comparable(fresh)
    # and back: the baseline after it starts from the model the callbacks stopped, restored or
    # slowed, with nothing of theirs carried over
    assert comparable(run_cell(baseline)) == comparable(run_cell(baseline, RunOptions(reuse=False)))


def test_the_first_cell_of_a_shape_is_the_fresh_path_and_the_neighbour_is_repeatable():
    cell = CASES["dropout"]
    compiled.forget()
    kept_first = run_cell(cell)  # compiled, its optimizer built at once, and kept
    assert not kept_first.timing["reused"]
    assert comparable(kept_first) == comparable(run_cell(cell, RunOptions(reuse=False)))
    other = run_cell(neighbour(cell))
    assert other.timing["reused"]
    assert comparable(other) == comparable(run_cell(neighbour(cell), RunOptions(reuse=False)))


def test_transfer_and_other_one_off_hooks_never_reuse():
    assert compiled.shape_key(tiny_cell("digits", "small_cnn", {"transfer": {}})) is None
    assert compiled.shape_key(tiny_cell("digits", "small_cnn", {"transfer": {}, "dropout": {}})) is None
    for techniques in ({}, {"dropout": {}}, {"early_stopping": {}, "batchnorm": {}, "augmentation": {}}):
        assert compiled.shape_key(tiny_cell("digits", "small_cnn", techniques)) is not None


def test_the_shape_key_holds_what_the_compiled_model_depends_on_and_nothing_else():
    cell = tiny_cell("digits", "small_cnn", {"dropout": {}})
    key = compiled.shape_key(cell)
    same = [replace(cell, seed=7), replace(cell, learning_rate=0.1), replace(cell, train_size=150, split_seed=3)]
    assert all(compiled.shape_key(c) == key for c in same)
    other = [
        replace(cell, model="mlp"),
        replace(cell, batch_size=16),
        replace(cell, optimizer="sgd"),
        replace(cell, dataset="mnist1d", model="mlp"),
        tiny_cell("digits", "small_cnn", {"dropout": {"rate": 0.25}}),
    ]
    assert all(compiled.shape_key(c) != key for c in other)
    assert compiled.shape_key(cell, precision="mixed_bfloat16") != key
    assert compiled.shape_key(cell, xla=True) != key
    # techniques that only add callbacks, whatever their parameters, share the set's model
    plain = compiled.shape_key(tiny_cell("digits", "small_cnn", {}))
    for callbacks in ({"early_stopping": {}}, {"early_stopping": {"patience": 9}, "reduce_lr_on_plateau": {}},
                      {"best_checkpoint": {}}):  # fmt: skip
        assert compiled.shape_key(tiny_cell("digits", "small_cnn", callbacks)) == plain
        assert compiled.shape_key(tiny_cell("digits", "small_cnn", {**callbacks, "dropout": {}})) == key
    changing = ({"class_weights": {}}, {"label_smoothing": {}}, {"weight_decay": {}}, {"l2": {}}, {"capacity": {}})
    assert all(compiled.shape_key(tiny_cell("digits", "small_cnn", t)) != plain for t in changing)


def test_sorting_by_the_key_puts_cells_of_a_shape_together():
    cells = [
        tiny_cell(model=model, techniques=techniques, seed=seed)
        for seed in (1, 2)
        for model in ("mlp", "small_cnn")
        for techniques in ({}, {"dropout": {}}, {"transfer": {}})
    ]
    ordered = sorted(cells, key=compiled.sort_key)
    keys = [compiled.shape_key(c) for c in ordered]
    runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert len(runs) == len(set(map(repr, keys)))  # each shape in one run of cells
    assert keys[-4:] == [None] * 4  # cells that never reuse come last


def test_the_run_loop_hands_cells_to_its_workers_sorted_by_shape_and_stores_each(tmp_path, monkeypatch):
    from regbench.records.store import Store
    from regbench.run.executors import EXECUTORS
    from regbench.run.loop import run_and_store
    from regbench.run.workers import Plan

    handed = []

    def recording(cells, options, plan):  # an executor that trains nothing
        for cell in cells:
            handed.append(cell)
            yield Result(cell.cell_id, cell.slug, cell.canonical())

    monkeypatch.setitem(EXECUTORS._items, "recording", recording)
    cells = [
        tiny_cell(model=model, techniques=techniques, seed=seed)
        for seed in (1, 2, 3)
        for techniques in ({}, {"dropout": {}})
        for model in ("mlp", "small_cnn")
    ]
    store = Store(tmp_path, "grid")
    assert run_and_store(cells, store, RunOptions(), Plan(executor="recording")).ran == len(cells)
    assert handed == sorted(cells, key=compiled.sort_key)
    assert [compiled.shape_key(c) for c in handed[:3]] == [compiled.shape_key(handed[0])] * 3
    assert store.stored_ids() == {c.cell_id for c in cells}


def test_local_workers_get_the_cells_of_a_shape_as_one_task_of_at_most_a_group():
    from regbench.run.local import shape_groups

    dropout = [tiny_cell(techniques={"dropout": {}}, seed=seed) for seed in range(1, 6)]
    plain = [tiny_cell(seed=seed) for seed in (1, 2)]
    transfer = [tiny_cell("digits", "small_cnn", {"transfer": {}}, seed=seed) for seed in (1, 2)]
    groups = list(shape_groups([*plain, *dropout, *transfer], RunOptions(), size=3))
    assert groups == [plain, dropout[:3], dropout[3:], transfer[:1], transfer[1:]]


def test_a_task_holds_about_task_seconds_of_its_shape_as_the_last_cell_took():
    from types import SimpleNamespace

    from regbench.run.local import GROUP, TASK_SECONDS, Pace, shape_groups, shape_of

    cells = [tiny_cell(techniques={"dropout": {}}, seed=seed) for seed in range(1, 13)]
    pace, key = Pace(), shape_of(cells[0], RunOptions())
    groups = shape_groups(cells, RunOptions(), limit=pace.size)
    assert next(groups) == cells[:1]  # nothing came back yet: one cell
    pace.saw(key, SimpleNamespace(wall_time_s=TASK_SECONDS / 3))
    assert next(groups) == cells[1:4]
    pace.saw(key, None)  # a malformed answer says nothing about the pace
    pace.saw(key, SimpleNamespace(wall_time_s=TASK_SECONDS / 100))
    assert next(groups) == cells[4 : 4 + GROUP]
    another = shape_of(tiny_cell("digits", "small_cnn"), RunOptions())
    assert pace.size(another) == GROUP  # none of its cells came back: the last cell's pace
    pace.saw(another, SimpleNamespace(wall_time_s=TASK_SECONDS * 2))
    assert pace.size(another) == 1 and pace.size(key) == GROUP  # each its own pace from then on
