"""Every dataset loader reads real data: shipped generators, Debian's files, or small files written
here in the original on-disk formats. Splits are stratified, disjoint and deterministic."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest

from regbench.errors import UsageError
from regbench.train.datasets import DATASETS, cifar10, fashion_mnist, files, get_dataset, load, mnist
from regbench.train.datasets.splits import Raw, make_splits

RNG = np.random.default_rng(0)


def write_idx(path: Path, array: np.ndarray) -> None:
    """LeCun's idx format: zero, zero, dtype 0x08 (ubyte), ndim, big-endian sizes, then bytes."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_images(n: int, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    return RNG.integers(0, 256, (n, *shape), dtype=np.uint8), np.arange(n) % 10


def write_idx_set(folder: Path, n_train: int = 60, n_test: int = 20) -> tuple[np.ndarray, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    x, y = fake_images(n_train, (28, 28))
    xt, yt = fake_images(n_test, (28, 28))
    for name, array in zip(files.IDX_FILES, (x, y, xt, yt), strict=True):
        write_idx(folder / name, array)
    return x, y


@pytest.fixture
def empty_places(tmp_path, monkeypatch):
    """No data anywhere: empty Keras home, no Debian files, no $REGBENCH_DATA."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setattr(files, "DEBIAN_DIR", tmp_path / "no_debian")
    monkeypatch.delenv("REGBENCH_DATA", raising=False)
    return tmp_path


@pytest.mark.parametrize("name", ["digits", "moons", "mnist1d", "font_digits"])
def test_shipped_datasets(name):
    info = get_dataset(name)
    size = 2 * info.num_classes * 5
    a = load(name, size, info.default_val_size, split_seed=0)
    b = load(name, size, info.default_val_size, split_seed=0)
    assert a.x_train.shape == (size, *info.input_shape) and a.x_train.dtype == np.float32
    assert len(a.x_val) == info.default_val_size and len(a.x_test) > 0
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))  # deterministic
    counts = np.bincount(a.y_train)  # stratified: the pool's class shares (equal, or within one example)
    assert counts.max() - counts.min() <= 1
    assert set(np.unique(a.y_test)) == set(range(info.num_classes))


def test_every_registered_dataset_has_a_test():
    tested = {"digits", "moons", "mnist1d", "font_digits", "fashion_mnist", "mnist", "cifar10"}
    assert set(DATASETS.names()) == tested


@pytest.mark.skipif(not (files.DEBIAN_DIR / "fashion-mnist").is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fashion_mnist_from_debian_files(empty_places, monkeypatch):
    monkeypatch.setattr(files, "DEBIAN_DIR", Path("/usr/share/datasets"))
    raw = fashion_mnist.load(offline=True)
    assert raw.x_train.shape == (60000, 28, 28, 1) and raw.x_test.shape == (10000, 28, 28, 1)
    assert raw.x_train.dtype == np.float32 and 0.0 <= raw.x_train.min() and raw.x_train.max() <= 1.0
    assert np.bincount(raw.y_train).tolist() == [6000] * 10


def test_fashion_mnist_from_data_dir_wins(empty_places):
    x, y = write_idx_set(empty_places / "data" / "fashion-mnist")
    raw = fashion_mnist.load(empty_places / "data", offline=True)
    assert raw.x_train.shape == (60, 28, 28, 1)
    np.testing.assert_allclose(raw.x_train[..., 0] * 255.0, x, atol=1e-3)
    assert raw.y_train.tolist() == y.tolist()


def test_fashion_mnist_from_keras_cache(empty_places):
    write_idx_set(empty_places / "keras_home" / "datasets" / "fashion-mnist", n_train=40)
    assert fashion_mnist.load(offline=True).x_train.shape == (40, 28, 28, 1)


def test_mnist_from_keras_cache_npz(empty_places):
    folder = empty_places / "keras_home" / "datasets"
    folder.mkdir(parents=True)
    x, y = fake_images(50, (28, 28))
    xt, yt = fake_images(10, (28, 28))
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)
    raw = mnist.load(offline=True)
    assert raw.x_train.shape == (50, 28, 28, 1) and raw.y_test.tolist() == yt.tolist()


def test_mnist_from_idx_files_in_data_dir(empty_places):
    write_idx_set(empty_places / "data" / "mnist", n_train=30)
    assert mnist.load(empty_places / "data", offline=True).x_train.shape == (30, 28, 28, 1)


def test_cifar10_from_keras_cache(empty_places):
    folder = empty_places / "keras_home" / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    planes = np.zeros((4, 3, 32, 32), np.uint8)
    planes[:, 0], planes[:, 1], planes[:, 2] = 255, 128, 0  # red, green, blue planes
    for i, name in enumerate(cifar10.BATCHES):
        batch = {b"data": planes.reshape(4, 3072), b"labels": [i % 10] * 4, b"batch_label": b"x"}
        (folder / name).write_bytes(pickle.dumps(batch))
    raw = cifar10.load(offline=True)
    assert raw.x_train.shape == (20, 32, 32, 3) and raw.x_test.shape == (4, 32, 32, 3)
    np.testing.assert_allclose(raw.x_train[0, 5, 7], [1.0, 128 / 255, 0.0], atol=1e-6)  # channels last


def test_cifar10_refuses_code_in_pickles(empty_places):
    folder = empty_places / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in cifar10.BATCHES:
        (folder / name).write_bytes(pickle.dumps({b"data": Path("/etc")}))  # a class outside numpy
    with pytest.raises(UsageError, match="refusing pathlib") as info:
        cifar10.load(empty_places / "data", offline=True)
    assert str(folder / "data_batch_1") in str(info.value) and "\n" not in str(info.value)


class Call:
    """Pickles as `function(*args)`: what a hostile batch file makes the unpickler call."""

    def __init__(self, function, *args) -> None:
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args

    def __call__(self, *args):  # the pickler wants a callable as a nested reduce's function
        raise AssertionError("never called while pickling")


def payloads(canary: Path) -> dict[str, tuple[object, bool]]:
    """{name: (an object whose unpickling writes `canary`, fix_imports)}; fix_imports=True writes
    Python 2's module names (`__builtin__.exec`)."""
    import builtins
    import os

    from numpy.testing._private.utils import runstring

    code = f"open({str(canary)!r}, 'w').write('pwned')"
    return {
        "builtins.exec": (Call(exec, code), False),
        "__builtin__.exec": (Call(exec, code), True),
        "builtins.eval": (Call(eval, code), False),
        "os.system": (Call(os.system, f"touch {canary}"), False),
        "getattr(__import__('os'), 'system')": (
            Call(Call(getattr, Call(builtins.__import__, "os"), "system"), f"touch {canary}"),
            False,
        ),
        "numpy's runstring (calls exec)": (Call(runstring, code, {}), False),
    }


@pytest.mark.parametrize("payload", sorted(payloads(Path("x"))))
def test_a_cifar10_batch_that_would_run_code_is_refused_with_one_line(payload, empty_places):
    canary = empty_places / "pwned"
    call, fix_imports = payloads(canary)[payload]
    folder = empty_places / "data" / "cifar-10-batches-py"
    write_cifar_batches(folder)
    batch = {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 3], b"extra": call}
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2, fix_imports=fix_imports))
    with pytest.raises(UsageError) as info:
        cifar10.load(empty_places / "data", offline=True)
    assert not canary.exists()  # the payload never ran
    message = str(info.value)
    assert message.startswith(f"{folder / 'data_batch_1'}: not a dataset batch (refusing ") and "\n" not in message


def test_a_batch_that_would_run_code_stops_run_with_one_line_and_exit_2(empty_places, write_grid, capsys):
    from regbench.cli import main

    canary = empty_places / "pwned"
    folder = empty_places / "data" / "cifar-10-batches-py"
    write_cifar_batches(folder)
    exec_batch = {b"data": payloads(canary)["builtins.exec"][0]}
    (folder / "test_batch").write_bytes(pickle.dumps(exec_batch, protocol=2, fix_imports=False))
    grid = write_grid('seeds = [1]\n[design]\nbaseline = true\n[[datasets]]\nname = "cifar10"\ntrain_sizes = [100]\n')
    data, results, reports = (str(empty_places / name) for name in ("data", "r", "o"))
    assert main(["run", str(grid), "--data-dir", data, "--offline", "--results", results, "--out", reports]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("regbench: error")]
    assert not canary.exists() and len(errors) == 2 and str(folder / "test_batch") in errors[0]
    assert "cells of cifar10 were not run" in errors[1]


def write_cifar_batches(folder: Path, python2: bool = False) -> None:
    """Six small batches as cifar-10-python.tar.gz holds them: with `python2`, byte for byte as
    Python 2's cPickle wrote them (numpy.core module names, byte strings), else as today's numpy
    pickles them (protocol 2: numpy._core, _codecs.encode for bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(cifar10.BATCHES):
        data = RNG.integers(0, 256, (4, 3072), dtype=np.uint8)
        batch = {b"batch_label": b"batch %d" % i, b"labels": [(i + j) % 10 for j in range(4)], b"data": data}
        (folder / name).write_bytes(python2_pickle(batch) if python2 else pickle.dumps(batch, protocol=2))


def python2_pickle(obj) -> bytes:
    """Protocol 2 as Python 2's cPickle writes it: bytes as str (SHORT_BINSTRING/BINSTRING, no
    _codecs.encode) and numpy's array reconstruction under numpy 1's module name."""
    import io
    import struct

    class Python2Pickler(pickle._Pickler):
        dispatch = pickle._Pickler.dispatch.copy()

        def save_str(self, data: bytes) -> None:
            size = len(data)
            head = pickle.SHORT_BINSTRING + bytes([size]) if size < 256 else pickle.BINSTRING + struct.pack("<i", size)
            self.write(head + data)
            self.memoize(data)

        dispatch[bytes] = save_str

    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    text = buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    assert b"_codecs" not in text and b"numpy.core.multiarray\n_reconstruct" in text
    return text


@pytest.mark.parametrize("python2", [False, True], ids=["numpy 2 pickles", "cifar-10-python.tar.gz's format"])
def test_benign_cifar10_batches_still_load(python2, empty_places):
    write_cifar_batches(empty_places / "data" / "cifar-10-batches-py", python2)
    raw = cifar10.load(empty_places / "data", offline=True)
    assert raw.x_train.shape == (20, 32, 32, 3) and raw.x_test.shape == (4, 32, 32, 3)
    assert raw.y_train.tolist()[:4] == [0, 1, 2, 3] and raw.x_train.dtype == np.float32


@pytest.mark.parametrize(
    "loader, hint",
    [
        (fashion_mnist.load, "apt-get install dataset-fashion-mnist"),
        (mnist.load, "mnist.npz"),
        (cifar10.load, "cifar-10-batches-py"),
    ],
)
def test_missing_data_offline_is_one_clear_line(empty_places, loader, hint):
    with pytest.raises(UsageError) as info:
        loader(offline=True)
    message = str(info.value)
    assert "\n" not in message and "data not found (looked in" in message and hint in message
    assert str(empty_places / "keras_home") in message


def test_splits_are_disjoint_stratified_and_share_validation():
    x = np.arange(1000, dtype=np.float32)[:, None]
    y = np.repeat(np.arange(10), 100)
    raw = Raw(x, y, x[:10], y[:10])
    small, large = make_splits(raw, 100, 200, 0), make_splits(raw, 500, 200, 0)
    assert np.array_equal(small.x_val, large.x_val)  # validation independent of train size
    assert not set(small.x_train[:, 0]) & set(small.x_val[:, 0])
    assert np.bincount(small.y_train).tolist() == [10] * 10
    assert not np.array_equal(make_splits(raw, 100, 200, 1).x_val, small.x_val)  # split seed matters


def test_imbalanced_training_subset_is_long_tailed_and_leaves_validation_alone():
    x = np.arange(1000, dtype=np.float32)[:, None]
    y = np.repeat(np.arange(10), 100)
    raw = Raw(x, y, x[:10], y[:10])
    balanced, tailed = make_splits(raw, 250, 200, 0), make_splits(raw, 250, 200, 0, imbalance=20.0)
    counts = np.bincount(tailed.y_train)
    assert counts.sum() == 250 and counts[0] / counts[-1] == pytest.approx(20, rel=0.15)
    assert np.all(np.diff(counts) <= 0)  # falling in label order
    assert np.array_equal(tailed.x_val, balanced.x_val) and np.array_equal(tailed.x_test, balanced.x_test)
    assert not set(tailed.x_train[:, 0]) & set(tailed.x_val[:, 0])
    assert np.array_equal(make_splits(raw, 250, 200, 0, imbalance=20.0).x_train, tailed.x_train)
    with pytest.raises(ValueError, match="needs 88 of class 0, but only 80 are left"):
        make_splits(raw, 300, 200, 0, imbalance=20.0)


@pytest.mark.parametrize("name", ["moons", "mnist1d"])
def test_a_generated_dataset_has_a_large_fixed_test_set(name):
    """Generated data costs nothing to score on: 10,000 test examples (one example is 0.01 pp),
    drawn from a fixed generator seed, the same whatever split seed draws the training subset."""
    info = get_dataset(name)
    a, b = load(name, 40, 40, split_seed=1), load(name, 40, 40, split_seed=2)
    assert len(a.y_test) == info.test_size == 10_000
    assert np.array_equal(a.x_test, b.x_test) and not np.array_equal(a.x_train, b.x_train)
