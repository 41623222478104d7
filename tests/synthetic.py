"""Synthetic but realistic cell results (curves, gaps, seeds) for tests and benchmarks of the
aggregator and report: no training, deterministic from the cell id. Never used for real reports."""

from __future__ import annotations

import hashlib

import numpy as np

from regbench.grid.cell import Cell
from regbench.records.result import SCHEMA_VERSION, Result
from regbench.records.store import Store

# Made-up effect of each technique on (test accuracy, accuracy gap), for plausible tables.
EFFECT = {"dropout": (0.01, -0.03), "batchnorm": (0.02, -0.01), "l2": (0.005, -0.01), "early_stopping": (-0.01, -0.04)}


def synthetic_record(cell: Cell) -> dict:
    """A record as stored (Result.to_json's form), whose baseline overfits (train accuracy ~0.995), with made-up effects."""
    rng = np.random.default_rng(int(hashlib.sha256(cell.cell_id.encode()).hexdigest()[:8], 16))
    acc_shift = sum(EFFECT.get(t, (0, 0))[0] for t in cell.technique_names)
    gap_shift = sum(EFFECT.get(t, (0, 0))[1] for t in cell.technique_names)
    test_acc = float(np.clip(0.80 + acc_shift + 0.01 * np.log10(cell.train_size) + rng.normal(0, 0.01), 0, 1))
    train_acc = float(np.clip(0.995 + gap_shift + rng.normal(0, 0.003), test_acc, 1))
    gap = train_acc - test_acc
    evaluations = cell.epochs if cell.steps is None else cell.steps // cell.eval_every
    per_eval = cell.eval_every or cell.steps_per_epoch
    stops = "early_stopping" in cell.technique_names
    epochs_run = int(rng.integers(evaluations // 3, evaluations)) if stops else evaluations
    t = np.arange(1, epochs_run + 1) / evaluations
    train_loss, val_loss = 2.3 * np.exp(-4 * t) + 0.02, 2.3 * np.exp(-3 * t) + 0.3 + 0.4 * t
    curves = {
        "train": {"loss": train_loss, "xent": train_loss, "accuracy": np.minimum(1.0, test_acc + gap * t + 0.1 * t),
                  "learning_rate": np.full_like(t, cell.learning_rate), "epoch_time_s": np.full_like(t, 0.1)},
        "val": {"loss": val_loss, "xent": val_loss, "accuracy": test_acc * (1 - np.exp(-5 * t))},
    }  # fmt: skip
    history = {
        split: {metric: (v + rng.normal(0, 0.005, len(t))).tolist() for metric, v in by_metric.items()}
        for split, by_metric in curves.items()
    }
    final = {
        "train": {"loss": 0.05, "accuracy": train_acc, "objective": 0.05},
        "val": {"loss": 0.6, "accuracy": test_acc, "objective": 0.6},
        "test": {"loss": 0.6 + rng.normal(0, 0.01), "accuracy": test_acc, "objective": 0.6},
    }
    steps = [per_eval * (i + 1) for i in range(epochs_run)]
    best = max(1, epochs_run - 3)
    mechanisms = {"early_stopping": {"triggered": True, "stopped_at_step": steps[-1], "restored_step": steps[best - 1]}}
    return {
        "schema": SCHEMA_VERSION, "cell_id": cell.cell_id, "slug": cell.slug, "cell": cell.canonical(), "status": "ok", "error": None,
        "history": history, "eval_steps": steps, "final": final,
        "gap": {"accuracy": gap, "loss": final["test"]["loss"] - final["train"]["loss"]},
        "best_epoch": best, "best_step": steps[best - 1], "epochs_run": epochs_run, "steps_run": steps[-1],
        "at_best_val": {"step": steps[best - 1], "val": final["val"], "test": final["test"]},
        "mechanisms": mechanisms if stops else {}, "time_per_epoch_s": 0.1, "params": 10000,
        "wall_time_s": 0.1 * epochs_run, "device": "synthetic", "versions": {"regbench": "synthetic"}, "git_revision": None,
    }  # fmt: skip


def write_synthetic(cells: list[Cell], store: Store) -> None:
    for cell in cells:
        store.write(Result.from_json(synthetic_record(cell)))
