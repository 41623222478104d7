"""Transfer learning: a backbone pretrained once and cached, a fine-tuning phase, and ImageNet
weights found in the Keras cache by Keras' own loading path, without a download. (That frozen
layers stay frozen is checked in test_techniques.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest

from regbench.train import datasets, models, pretrained
from regbench.train.options import RunOptions
from regbench.train.runner import run_cell
from regbench.train.techniques import Context
from tests.helpers import tiny_cell


@pytest.mark.slow
def test_pretrained_backbone_is_cached_and_named(tmp_path, monkeypatch):
    options = RunOptions(offline=True, pretrained_dir=tmp_path / "pretrained")
    cell = tiny_cell(model="small_cnn", techniques={"transfer": {"pretrain_epochs": 1}}, epochs=3)
    context = Context(cell, datasets.get_dataset("digits"), options, models.build)
    [transfer] = cell.technique_objects()
    found = pretrained.backbone(transfer, context)
    folder = tmp_path / "pretrained" / found.meta["backbone_id"]
    meta = json.loads((folder / "pretrain.json").read_text())
    assert (folder / "weights.npz").is_file() and meta["pretraining"]["source"] == "font_digits"
    assert meta["source_test_accuracy"] > 0.3  # it learned the source task (chance: 0.1)

    # Another worker reads the cache: it never pretrains again.
    pretrained._MEMO.clear()
    monkeypatch.setattr(pretrained, "pretrain", lambda *a: pytest.fail("pretrained twice"))
    again = pretrained.backbone(transfer, context)
    assert all(
        np.array_equal(a, b)
        for x, y in zip(again.weights, found.weights, strict=True)
        for a, b in zip(x, y, strict=True)
    )

    # The record names the source and the backbone; the same cell twice gives the same numbers.
    first, second = run_cell(cell, options), run_cell(cell, options)
    assert first.status == "ok" and first.final == second.final
    assert first.setup["transfer"]["source"] == "pretrain:font_digits"
    assert first.setup["transfer"]["backbone_id"] == found.meta["backbone_id"]


def test_fine_tuning_phase_unfreezes_at_a_lower_learning_rate(tmp_path):
    options = RunOptions(offline=True, pretrained_dir=tmp_path)
    techniques = {"transfer": {"pretrain_epochs": 1, "fine_tune_epochs": 2, "fine_tune_factor": 0.1}}
    record = run_cell(tiny_cell(model="small_cnn", techniques=techniques, epochs=3, learning_rate=1e-3), options)
    assert record.status == "ok" and record.epochs_run == 5
    assert record.history["train"]["learning_rate"] == pytest.approx([1e-3] * 3 + [1e-4] * 2)


@pytest.mark.slow
def test_imagenet_weights_come_from_the_keras_cache(tmp_path, monkeypatch):
    import h5py
    import keras
    from keras.src.backend import config
    from keras.src.legacy.saving import legacy_h5_format

    # A temporary Keras cache holding a weights file of the right shape, under the name Keras
    # asks for (image size 32 is not one with its own weights: Keras falls back to the 224 file).
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    keras.utils.set_random_seed(7)
    fake = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(224, 224, 3))
    path = tmp_path / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, fake)

    cell = tiny_cell(
        model="small_cnn", techniques={"transfer": {"source": "imagenet:MobileNetV2", "image_size": 32}}, epochs=1
    )
    [transfer] = cell.technique_objects()
    context = Context(cell, datasets.get_dataset("digits"), RunOptions(offline=True), models.build)
    model = models.build("small_cnn", (8, 8, 1), 10, [transfer], dataset=context.dataset)
    transfer.prepare(model, context)
    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    for loaded, written in zip(base.weights, fake.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(loaded), np.asarray(written))
    # Frozen but for the last block (block_16) and the layers after it.
    trainable = [layer.name for layer in base.layers if layer.trainable and layer.weights]
    assert trainable[0].startswith("block_16_") and all(
        not n.startswith("block_1") or n.startswith("block_16_") for n in trainable
    )
    assert [layer.trainable for layer in base.layers].count(True) < 20

    record = run_cell(cell, RunOptions(offline=True))
    assert record.status == "ok", record.error
    assert record.setup["transfer"] == {"source": "imagenet:MobileNetV2", "network": "MobileNetV2", "image_size": 32}
