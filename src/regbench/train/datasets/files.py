"""Where image datasets are looked for, and readers for their original file formats."""

from __future__ import annotations

import codecs
import gzip
import os
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from regbench.errors import UsageError
from regbench.train.datasets.splits import Raw

DEBIAN_DIR = Path("/usr/share/datasets")
IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def user_data_dir(data_dir: Path | None) -> Path | None:
    """--data-dir, else $REGBENCH_DATA, else None."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get("REGBENCH_DATA")
    return Path(env) if env else None


def keras_datasets_dir() -> Path:
    """Keras' download cache: $KERAS_HOME/datasets, by default ~/.keras/datasets."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def first_dir_with(candidates: Sequence[Path], names: Sequence[str]) -> Path | None:
    """The first candidate folder that holds every file in `names`."""
    for folder in candidates:
        if all((folder / name).is_file() for name in names):
            return folder
    return None


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzipped or not) as a uint8 array with its stated shape (LeCun's MNIST format)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def read_idx_set(folder: Path) -> Raw:
    """The four MNIST-format idx.gz files of `folder` as Raw, images scaled to [0, 1]."""
    x_train, y_train, x_test, y_test = (read_idx(folder / name) for name in IDX_FILES)
    return scaled_images(x_train, y_train, x_test, y_test)


def scaled_images(x_train, y_train, x_test, y_test) -> Raw:
    """uint8 images (N, H, W[, C]) -> float32 in [0, 1] with a channel axis; int64 labels."""

    def scale(x: np.ndarray) -> np.ndarray:
        x = x.astype(np.float32) / 255.0
        return x[..., None] if x.ndim == 3 else x

    return Raw(
        scale(x_train), np.asarray(y_train, np.int64).reshape(-1),
        scale(x_test), np.asarray(y_test, np.int64).reshape(-1),
    )  # fmt: skip


def _latin1(text: str, encoding: str = "latin1") -> bytes:
    """`_codecs.encode` as protocol-2 pickles use it for bytes (`encode(text, "latin1")`), latin-1 only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode({type(text).__name__}, {encoding!r})")
    return codecs.encode(text, "latin1")


# Exactly what a CIFAR-10 batch refers to: numpy's array reconstruction (under its numpy 1 and 2
# module names, as Python 2's cPickle and today's numpy write it), ndarray, dtype, and latin-1
# bytes. Nothing else can be called, so a batch file cannot run code (builtins.exec, os.system, or
# a numpy function that calls exec).
_RECONSTRUCT = np.empty(0).__reduce__()[0]
PICKLE_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1,
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, plain containers, numbers and strings only (PICKLE_GLOBALS)."""

    def find_class(self, module: str, name: str):
        try:
            return PICKLE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing {module}.{name}") from None


def read_pickle(path: Path) -> dict:
    """A CIFAR-style batch: a pickled dict of numpy arrays, lists and strings, keys as str. Anything
    else (a pickle that refers to other code, a damaged file) is a UsageError naming the file."""
    try:
        with open(path, "rb") as f:
            data = NumpyOnlyUnpickler(f, encoding="bytes").load()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except Exception as exc:  # UnpicklingError, EOFError, ValueError...: any broken pickle
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise UsageError(
            f"{path}: not a dataset batch ({reason}); allowed: a pickle of numpy arrays, lists and strings only, "
            "as in cifar-10-python.tar.gz"
        ) from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a dataset batch (a pickled {type(data).__name__}, not a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in data.items()}


def find_or_download(
    name: str,
    found: Raw | None,
    searched: Sequence[Path],
    download: Callable[[], tuple],
    offline: bool,
    hint: str,
) -> Raw:
    """`found`, else Keras' download, else a UsageError saying where to put which files."""
    if found is not None:
        return found
    where = ", ".join(str(p) for p in searched)
    if offline or os.environ.get("REGBENCH_OFFLINE"):
        raise UsageError(f"{name}: data not found (looked in {where}); {hint}")
    try:
        (x_train, y_train), (x_test, y_test) = download()
    except Exception as exc:  # no internet, proxy, disk full: all end the same way for the user
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise UsageError(f"{name}: data not found (looked in {where}) and download failed ({reason}); {hint}") from None
    return scaled_images(x_train, y_train, x_test, y_test)
