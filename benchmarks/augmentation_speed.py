"""Epoch time with and without `augmentation` on the CPU (target: at most +30% on digits and
Fashion-MNIST). Trains real cells through the runner; prints a table.

    python benchmarks/augmentation_speed.py [--epochs 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.helpers

from regbench.train.runner import run_cell  # noqa: E402
from tests.helpers import tiny_cell  # noqa: E402

CASES = [("digits", "small_cnn", 1000, 300), ("fashion_mnist", "small_cnn", 5000, 1000)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    print(f"{'dataset':14} {'model':10} {'train':>6} {'baseline s/epoch':>17} {'augmented s/epoch':>18} {'ratio':>6}")
    for dataset, model, train_size, val_size in CASES:
        times = {}
        for name, techniques in (("baseline", {}), ("augmented", {"augmentation": {}})):
            cell = tiny_cell(dataset, model, techniques, train_size=train_size, val_size=val_size, epochs=args.epochs)
            run_cell(cell)  # warm-up: the first cell of a process pays for tracing and data loading
            record = run_cell(cell)
            assert record.status == "ok", record.error
            times[name] = record.time_per_epoch_s
        ratio = times["augmented"] / times["baseline"]
        print(
            f"{dataset:14} {model:10} {train_size:6d} {times['baseline']:17.3f} {times['augmented']:18.3f} {ratio:6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
