"""CIFAR-10 (Krizhevsky, 2009): 50,000 + 10,000 32x32 RGB images, the python-pickle batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.errors import UsageError
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


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,)) of one batch file; a file of another shape is a
    UsageError naming it."""
    batch = files.read_pickle(path)
    data, labels = batch.get("data"), batch.get("labels")
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2 and data.shape[1] == 3072):
        raise UsageError(f"{path}: not a CIFAR-10 batch (its 'data' is not a uint8 array of 3072 columns)")
    labels = np.asarray(labels) if isinstance(labels, (list, np.ndarray)) else np.empty(0)
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu" or not np.isin(labels, range(10)).all():
        raise UsageError(f"{path}: not a CIFAR-10 batch (its 'labels' are not {len(data)} integers 0..9)")
    # Stored as (N, 3072) rows of R, G, B planes: to (N, 32, 32, 3) channels-last.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def read_batches(folder: Path) -> Raw:
    parts = [read_batch(folder / name) for name in BATCHES]
    x_train = np.concatenate([x for x, _ in parts[:5]])
    y_train = np.concatenate([y for _, y in parts[:5]])
    return files.scaled_images(x_train, y_train, *parts[5])


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
