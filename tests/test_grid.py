"""Grid algebra: how many technique sets each design gives, de-duplication, exclusions, conflicts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from regbench.errors import UsageError
from regbench.grid.expand import design_sets, expand
from regbench.grid.parse import load_spec
from regbench.grid.spec import Design
from regbench.train.techniques import TECHNIQUES, Technique
from tests.helpers import SWEEP_GRID

FOUR = ("batchnorm", "dropout", "early_stopping", "l2")


@pytest.mark.parametrize(
    "design, count",
    [
        (Design(baseline=True), 1),
        (Design(add_one=FOUR), 5),  # baseline + each alone
        (Design(leave_one_out=FOUR), 5),  # all + all minus each
        (Design(factorial=FOUR), 16),  # every subset
        (Design(factorial=FOUR[:2]), 4),
        (Design(sets=(("dropout", "l2"), ("l2", "dropout"))), 1),  # same set twice
        (Design(baseline=True, add_one=FOUR, leave_one_out=FOUR), 10),  # baseline counted once
        (Design(add_one=FOUR, factorial=FOUR), 16),  # add_one is inside factorial
    ],
)
def test_design_counts(design, count):
    sets = design_sets(design)
    assert len(sets) == count and len(set(sets)) == count


def test_leave_one_out_sets():
    names = [tuple(n for n, _ in s) for s in design_sets(Design(leave_one_out=("a", "b", "c")))]
    assert names == [("a", "b", "c"), ("b", "c"), ("a", "c"), ("a", "b")]


def test_quick_grid_counts():
    cells = expand(load_spec("quick")).cells  # nothing stored: the tuning cells, first stage
    # per condition and tuning seed: 3 rates for baseline, augmentation, batchnorm, early stopping,
    # label smoothing (and transfer on digits), 6 rate x dose pairs for dropout and l2
    per_seed = {"digits": 3 * 6 + 6 * 2, "moons": 3 * 5 + 6 * 2, "mnist1d": 3 * 5 + 6 * 2}
    conditions = {"digits": 2, "moons": 2, "mnist1d": 1}
    assert len(cells) == sum(2 * per_seed[d] * conditions[d] for d in per_seed) == 282
    assert len({c.cell_id for c in cells}) == len(cells) == len({c.slug for c in cells})
    # only the tuning seeds, each drawing its own training subset, shared by every set and candidate
    assert {(c.seed, c.split_seed) for c in cells} == {(101, 101), (102, 102)}


def test_counts_multiply_over_axes(write_grid):
    path = write_grid(
        """
        seeds = [1, 2, 3]
        models = ["mlp", "small_cnn"]
        [design]
        factorial = ["dropout", "l2"]
        [[datasets]]
        name = "digits"
        train_sizes = [50, 100]
        """
    )
    assert len(expand(load_spec(str(path))).cells) == 2 * 2 * 4 * 3  # sizes x models x sets x seeds


def test_incompatible_model_is_left_out_with_reason(write_grid):
    path = write_grid(
        """
        models = ["mlp", "small_cnn"]
        [design]
        baseline = true
        [[datasets]]
        name = "moons"
        train_sizes = [30]
        """
    )
    expansion = expand(load_spec(str(path)))
    assert {c.model for c in expansion.cells} == {"mlp"}
    (excluded,) = expansion.excluded
    assert excluded.what == "model small_cnn" and "tabular" in excluded.reason


@dataclass(frozen=True)
class ImagesOnly(Technique):
    """A technique for images only, to test exclusion and conflicts without relying on issue 3's."""

    name: ClassVar[str] = "images_only"
    group: ClassVar[str] = "augmentation"
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})


@dataclass(frozen=True)
class ImagesOnlyToo(ImagesOnly):
    name: ClassVar[str] = "images_only_too"


@pytest.fixture
def fake_techniques(monkeypatch):
    monkeypatch.setitem(TECHNIQUES._items, "images_only", ImagesOnly)
    monkeypatch.setitem(TECHNIQUES._items, "images_only_too", ImagesOnlyToo)


def test_inapplicable_technique_is_left_out(fake_techniques, write_grid):
    path = write_grid(
        """
        [design]
        add_one = ["images_only", "dropout"]
        sets = [["images_only", "dropout"]]
        [[datasets]]
        name = "moons"
        train_sizes = [30]
        [[datasets]]
        name = "digits"
        train_sizes = [30]
        """
    )
    expansion = expand(load_spec(str(path)))
    by_dataset = {d: sorted({c.technique_set for c in expansion.cells if c.dataset == d}) for d in ("moons", "digits")}
    assert by_dataset["moons"] == ["baseline", "dropout"]  # images_only dropped, duplicates merged
    assert by_dataset["digits"] == ["baseline", "dropout", "dropout+images_only", "images_only"]
    (excluded,) = expansion.excluded
    assert excluded.dataset == "moons" and "needs image data; this dataset is tabular" in excluded.reason


def test_contradictory_set_is_rejected(fake_techniques, write_grid):
    path = write_grid(
        """
        [design]
        sets = [["images_only", "images_only_too"]]
        [[datasets]]
        name = "digits"
        train_sizes = [30]
        """
    )
    with pytest.raises(UsageError, match="combines images_only and images_only_too, which contradict"):
        expand(load_spec(str(path)))


def test_imbalanced_entry_is_its_own_condition(write_grid):
    text = """
    seeds = [1]
    [design]
    add_one = ["class_weights"]
    [[datasets]]
    name = "digits"
    train_sizes = [200]
    [[datasets]]
    name = "digits"
    train_sizes = [200]
    imbalance = 10.0
    """
    cells = expand(load_spec(str(write_grid(text)))).cells
    assert len(cells) == 4
    tailed = [c for c in cells if c.imbalance == 10.0]
    assert [c.slug for c in tailed] == ["digits_imb10/n200/mlp/baseline/s1", "digits_imb10/n200/mlp/class_weights/s1"]
    assert "imbalance" not in cells[0].canonical()  # balanced cells keep the ids they always had


def test_shipped_fashion_and_standard_grids():
    fashion = expand(load_spec("fashion"))
    # the first stage: (baseline + 10 alone) x 3 rates + (dropout, l2) x 6 rate x dose pairs, x 2
    # tuning seeds x 2 sizes; the 5 evaluation seeds of each of the 13 sets wait for the choice
    assert len(fashion.cells) == (11 * 3 + 2 * 6) * 2 * 2
    assert len(fashion.pending) == 13 * 2
    standard = expand(load_spec("standard"))
    # the first stage: (2^5 factorial + 6 alone) x 3 rates x 2 tuning seeds x 6 conditions; the 5
    # evaluation seeds wait for the choice
    assert len(standard.cells) == (32 + 6) * 3 * 2 * 6
    sources = {dict(c.techniques)["transfer"] for c in standard.cells if "transfer" in c.technique_names}
    assert {dict(params)["source"] for params in sources} == {"imagenet:MobileNetV2"}


def test_a_sweep_is_an_axis_of_technique_parameters_with_labels(write_grid):
    cells = expand(load_spec(str(write_grid(SWEEP_GRID)))).cells
    labels = sorted({c.technique_set for c in cells})
    # add_one's dropout (rate 0.5 by default) is the sweep's 0.5 point: one cell, not two.
    assert labels == [
        "baseline", "batchnorm", "batchnorm+l2(factor=0.0001)", "batchnorm+l2(factor=0.01)",
        "dropout(rate=0.1)", "dropout(rate=0.5)", "dropout(rate=0.8)", "l2(factor=0.001)",
    ]  # fmt: skip
    assert len(cells) == len(labels) * 2 and len({c.slug for c in cells}) == len(cells)
    low = next(c for c in cells if c.technique_set == "dropout(rate=0.1)")
    assert dict(low.techniques)["dropout"] == (("placement", "dense"), ("rate", 0.1))
    assert low.slug == "digits/n100/mlp/dropout(rate=0.1)/s1"


def test_sweep_labels_do_not_change_ids_and_the_aggregate_uses_the_same_labels(write_grid):
    from regbench.analysis.aggregate import cells_frame
    from regbench.grid.cell import Cell
    from regbench.records.result import Result
    from tests.synthetic import synthetic_record

    cells = expand(load_spec(str(write_grid(SWEEP_GRID)))).cells
    for c in cells:
        assert Cell.from_dict(c.canonical()).cell_id == c.cell_id  # labels are not part of the id
    frame = cells_frame(Result.from_json(synthetic_record(c)) for c in cells)
    assert sorted(frame["technique_set"].unique()) == sorted({c.technique_set for c in cells})
