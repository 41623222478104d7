"""MNIST (LeCun et al., 1998): 60,000 + 10,000 28x28 handwritten digits, Keras' mnist.npz or idx.gz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from regbench.datasets import files
from regbench.datasets.splits import Raw

SOURCE = "MNIST as Keras' mnist.npz or the idx.gz files (--data-dir, Keras cache, or download)"


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    user = files.user_data_dir(data_dir)
    npz_dirs = ([user / "mnist", user] if user else []) + [files.keras_datasets_dir()]
    found = None
    if folder := files.first_dir_with(npz_dirs, ["mnist.npz"]):
        with np.load(folder / "mnist.npz", allow_pickle=False) as f:
            found = files.scaled_images(f["x_train"], f["y_train"], f["x_test"], f["y_test"])
    elif user and (folder := files.first_dir_with([user / "mnist"], files.IDX_FILES)):
        found = files.read_idx_set(folder)

    def download():
        import keras

        return keras.datasets.mnist.load_data()

    return files.find_or_download(
        "mnist", found, npz_dirs, download, offline,
        "put mnist.npz (x_train, y_train, x_test, y_test) or the four idx.gz files in DATA_DIR/mnist",
    )  # fmt: skip
