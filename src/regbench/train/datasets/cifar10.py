"""CIFAR-10 (Krizhevsky, 2009): 50,000 + 10,000 32x32 RGB images, the python-pickle batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.train.datasets import files
from regbench.train.datasets.splits import Raw

SOURCE = "CIFAR-10 python batches, cifar-10-batches-py/ (--data-dir, Keras cache, or download)"
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def candidates(data_dir: Path | None) -> list[Path]:
    user = files.user_data_dir(data_dir)
    cache = files.keras_datasets_dir()
    return ([user / "cifar-10-batches-py"] if user else []) + [
        cache / "cifar-10-batches-py-target" / "cifar-10-batches-py",  # Keras >= 3.6
        cache / "cifar-10-batches-py",  # older Keras
    ]


def present(data_dir: Path | None = None) -> bool:
    """The batch files are on this machine (looked up, not read)."""
    return files.first_dir_with(candidates(data_dir), BATCHES) is not None


def read_batches(folder: Path) -> Raw:
    parts = [files.read_pickle(folder / name) for name in BATCHES]

    def images(batch: dict) -> np.ndarray:
        # Stored as (N, 3072) rows of R, G, B planes: to (N, 32, 32, 3) channels-last.
        return np.asarray(batch["data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)

    x_train = np.concatenate([images(b) for b in parts[:5]])
    y_train = np.concatenate([b["labels"] for b in parts[:5]])
    return files.scaled_images(x_train, y_train, images(parts[5]), parts[5]["labels"])


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    searched = candidates(data_dir)
    folder = files.first_dir_with(searched, BATCHES)

    def download():
        import keras

        return keras.datasets.cifar10.load_data()

    return files.find_or_download(
        "cifar10", read_batches(folder) if folder else None, searched, download, offline,
        "put the extracted cifar-10-batches-py/ folder (cifar-10-python.tar.gz) in DATA_DIR",
    )  # fmt: skip
