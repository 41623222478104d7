"""Fashion-MNIST (Xiao et al., 2017): 60,000 + 10,000 28x28 grayscale clothing images, idx.gz files."""

from __future__ import annotations

from pathlib import Path

from regbench.train.datasets import files
from regbench.train.datasets.splits import Raw

SOURCE = "Fashion-MNIST idx.gz files (--data-dir, Debian's dataset-fashion-mnist, Keras cache, or download)"


def candidates(data_dir: Path | None) -> list[Path]:
    user = files.user_data_dir(data_dir)
    found = [user / "fashion-mnist", user] if user else []
    return [*found, files.DEBIAN_DIR / "fashion-mnist", files.keras_datasets_dir() / "fashion-mnist"]


def present(data_dir: Path | None = None) -> bool:
    """The idx files are on this machine (looked up, not read)."""
    return files.first_dir_with(candidates(data_dir), files.IDX_FILES) is not None


def load(data_dir: Path | None = None, offline: bool = False) -> Raw:
    searched = candidates(data_dir)
    folder = files.first_dir_with(searched, files.IDX_FILES)

    def download():
        import keras

        return keras.datasets.fashion_mnist.load_data()

    return files.find_or_download(
        "fashion_mnist",
        files.read_idx_set(folder) if folder else None,
        searched,
        download,
        offline,
        "run `apt-get install dataset-fashion-mnist`, or put "
        + ", ".join(files.IDX_FILES)
        + " in DATA_DIR/fashion-mnist",
    )
