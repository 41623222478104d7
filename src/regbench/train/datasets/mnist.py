"""MNIST (LeCun et al., 1998): 60,000 + 10,000 28x28 handwritten digits, Keras' mnist.npz or idx.gz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.train.datasets import files
from regbench.train.datasets.splits import Raw

SOURCE = "MNIST as Keras' mnist.npz or the idx.gz files (--data-dir, Keras cache, or download)"


def npz_dirs(data_dir: Path | None) -> list[Path]:
    user = files.user_data_dir(data_dir)
    return ([user / "mnist", user] if user else []) + [files.keras_datasets_dir()]


def present(data_dir: Path | None = None) -> bool:
    """mnist.npz or the idx files are on this machine (looked up, not read)."""
    user = files.user_data_dir(data_dir)
    idx = user and files.first_dir_with([user / "mnist"], files.IDX_FILES)
    return bool(files.first_dir_with(npz_dirs(data_dir), ["mnist.npz"]) or idx)


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    user = files.user_data_dir(data_dir)
    npz_dirs_ = npz_dirs(data_dir)
    found = None
    if folder := files.first_dir_with(npz_dirs_, ["mnist.npz"]):
        with np.load(folder / "mnist.npz", allow_pickle=False) as f:
            found = files.scaled_images(f["x_train"], f["y_train"], f["x_test"], f["y_test"])
    elif user and (folder := files.first_dir_with([user / "mnist"], files.IDX_FILES)):
        found = files.read_idx_set(folder)

    def download():
        import keras

        return keras.datasets.mnist.load_data()

    return files.find_or_download(
        "mnist", found, npz_dirs_, download, offline,
        "put mnist.npz (x_train, y_train, x_test, y_test) or the four idx.gz files in DATA_DIR/mnist",
    )  # fmt: skip
