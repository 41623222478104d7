"""Cell ids are stable: the same run always has the same id, any change gives another."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from regbench.grid.cell import Cell, freeze_techniques

CELL = Cell(
    dataset="digits", train_size=200, val_size=300, split_seed=0, model="small_cnn",
    techniques=freeze_techniques({"dropout": {"rate": 0.5, "placement": "dense"}, "l2": {"factor": 0.001}}),
    seed=1, epochs=40, batch_size=32, optimizer="adam", learning_rate=0.001,
)  # fmt: skip


def test_id_is_pinned():
    # Changing this value means every stored result of every user gets orphaned: do it on purpose.
    text = (
        '{"batch_size":32,"dataset":"digits","epochs":40,"learning_rate":0.001,"model":"small_cnn",'
        '"optimizer":"adam","seed":1,"split_seed":0,"techniques":{"dropout":{"placement":"dense","rate":0.5},'
        '"l2":{"factor":0.001}},"train_size":200,"val_size":300}'
    )
    assert json.dumps(CELL.canonical(), sort_keys=True, separators=(",", ":")) == text
    assert CELL.cell_id == hashlib.sha256(text.encode()).hexdigest()[:12] == "2d88c81317cc"
    assert CELL.slug == "digits/n200/small_cnn/dropout+l2/s1"


def test_id_ignores_key_order_and_unset_fields():
    again = Cell.from_dict(dict(reversed(list(CELL.canonical().items()))))
    assert again == CELL and again.cell_id == CELL.cell_id
    assert "momentum" not in CELL.canonical()


@pytest.mark.parametrize(
    "change",
    [{"seed": 2}, {"train_size": 201}, {"epochs": 41}, {"learning_rate": 0.01}, {"model": "mlp"},
     {"momentum": 0.9}, {"techniques": freeze_techniques({"dropout": {"rate": 0.4, "placement": "dense"}})}],
)  # fmt: skip
def test_any_change_changes_the_id(change):
    assert dataclasses.replace(CELL, **change).cell_id != CELL.cell_id


def test_technique_objects_round_trip():
    objects = CELL.technique_objects()
    assert [t.name for t in objects] == ["dropout", "l2"]
    assert objects[0].rate == 0.5 and objects[1].factor == 0.001
    assert dataclasses.replace(CELL, techniques=()).technique_set == "baseline"
