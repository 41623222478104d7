"""Pretrained feature extractors for the `transfer` technique.

`pretrain:<dataset>`: the cell's own architecture (same width) is trained once on the source
dataset, its images resized to the target's input shape, and the hidden layers' weights are cached
in `<pretrained_dir>/<id>/` (weights.npz + pretrain.json), where the id hashes everything that
determines them. A file lock makes parallel workers wait for the one that pretrains.
`imagenet:<network>`: a keras.applications network with ImageNet weights from the Keras cache
(~/.keras/models) or a download.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zipfile
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from regbench.errors import UsageError
from regbench.records.disk import atomic_folder, first_line, quarantine
from regbench.train import datasets
from regbench.train.hooks import SetHooks

PRETRAIN_BATCH, PRETRAIN_LR, PRETRAIN_SEED = 128, 1e-3, 0


@dataclass(frozen=True)
class Pretraining:
    """Everything that determines a pretrained backbone."""

    source: str  # dataset name
    model: str
    width: float  # the target's width multiplier: the same architecture, layer for layer
    input_shape: tuple[int, ...]  # the target's; source images are resized to it
    epochs: int
    batch_size: int = PRETRAIN_BATCH
    learning_rate: float = PRETRAIN_LR
    seed: int = PRETRAIN_SEED

    @property
    def id(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


class Backbone(NamedTuple):
    weights: list[list[np.ndarray]]  # per hidden conv/dense layer, in model order: [kernel, bias]
    meta: dict[str, Any]  # backbone_id, pretraining spec, source_test_accuracy, pretrain_time_s


_MEMO: dict[str, Backbone] = {}  # a worker pretrains or reads a backbone once per cache folder


def backbone(transfer: Any, context: Any) -> Backbone:
    """The pretrained hidden-layer weights for a `pretrain:` transfer in this cell's context."""
    cell, info, options, build_model = context
    # The same architecture at the same width (the set's width techniques); no other technique.
    widths = SetHooks.of(cell.technique_objects()).width_only()
    spec = Pretraining(
        transfer.origin, cell.model, float(widths.width), tuple(info.input_shape), transfer.pretrain_epochs
    )
    folder = Path(options.pretrained_dir) if options.pretrained_dir else None
    key = f"{folder}/{spec.id}"  # per cache folder: another grid's folder gets its own copy
    if key in _MEMO:
        return _MEMO[key]

    def build(classes: int) -> Any:
        return build_model(spec.model, spec.input_shape, classes, widths)

    if folder is None:
        found = pretrain(spec, options, build)
    else:
        from filelock import FileLock

        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / f"{spec.id}.lock")):
            found = read(folder / spec.id) or write(folder / spec.id, pretrain(spec, options, build))
    _MEMO[key] = found
    return found


def read(path: Path) -> Backbone | None:
    """The cached backbone, or None when there is none; a damaged one (a file cut short, missing
    arrays) is moved to pretrained/damaged/ with a one-line warning and pretrained again."""
    if not path.is_dir():
        return None
    try:
        meta = json.loads((path / "pretrain.json").read_text())
        with np.load(path / "weights.npz", allow_pickle=False) as f:
            weights = [[f[f"{i}_{j}"] for j in range(n)] for i, n in enumerate(meta["arrays_per_layer"])]
        return Backbone(weights, meta)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        quarantine(path, path.parent / "damaged", first_line(exc), "backbone", "pretraining again")
        return None


def write(path: Path, found: Backbone) -> Backbone:
    """Store atomically: a folder written under another name, then renamed."""

    def fill(folder: Path) -> None:
        arrays = {f"{i}_{j}": w for i, layer in enumerate(found.weights) for j, w in enumerate(layer)}
        np.savez(folder / "weights.npz", **arrays)
        (folder / "pretrain.json").write_text(json.dumps(found.meta, indent=2, sort_keys=True) + "\n")

    atomic_folder(path, fill)
    return found


def adapt(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Images (N, H, W, C) resized (area averaging) to shape (h, w, c); gray <-> RGB as needed."""
    from PIL import Image

    h, w, c = shape
    if x.shape[1:3] != (h, w):
        x = np.stack(
            [
                np.stack(
                    [np.asarray(Image.fromarray(img[..., k]).resize((w, h), Image.BOX)) for k in range(img.shape[-1])],
                    -1,
                )
                for img in x
            ]
        )
    if x.shape[-1] != c:
        x = np.repeat(x, c, axis=-1) if x.shape[-1] == 1 else x.mean(axis=-1, keepdims=True)
    return x.astype(np.float32)


def pretrain(spec: Pretraining, options: Any, build: Any) -> Backbone:
    """Train the architecture, `build(num_classes)`, on the whole source training set; returns its
    hidden layers' weights."""
    from regbench.train.seeding import seeded_keras

    start = time.perf_counter()
    raw = datasets.load_raw(spec.source, options.data_dir, options.offline)
    source = datasets.get_dataset(spec.source)
    x_train, x_test = adapt(raw.x_train, spec.input_shape), adapt(raw.x_test, spec.input_shape)
    keras = seeded_keras(spec.seed, options.threads)
    model = build(source.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(spec.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, raw.y_train, epochs=spec.epochs, batch_size=spec.batch_size, shuffle=True, verbose=0)
    accuracy = float(model.evaluate(x_test, raw.y_test, batch_size=512, verbose=0, return_dict=True)["accuracy"])
    weights = [[np.asarray(w) for w in layer.get_weights()] for layer in hidden_layers(model)]
    meta = {
        "backbone_id": spec.id, "pretraining": asdict(spec), "source_test_accuracy": round(accuracy, 4),
        "pretrain_time_s": round(time.perf_counter() - start, 1), "arrays_per_layer": [len(w) for w in weights],
    }  # fmt: skip
    return Backbone(weights, meta)


def hidden_layers(model: Any) -> list[Any]:
    """The conv and dense layers of a model's hidden blocks, in order (the output layer excluded)."""
    import keras

    linear = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense))
    ]
    return linear[:-1]


def load_backbone(model: Any, found: Backbone, trainable_blocks: int) -> None:
    """Pretrained weights into the model's hidden layers; all but the last `trainable_blocks` frozen."""
    layers = hidden_layers(model)
    if len(layers) != len(found.weights):
        raise ValueError(f"the pretrained backbone has {len(found.weights)} hidden layers, the model {len(layers)}")
    for i, (layer, weights) in enumerate(zip(layers, found.weights, strict=True)):
        layer.set_weights(weights)
        layer.trainable = i >= len(layers) - trainable_blocks


def imagenet_body(network: str, image_size: int, preprocess_module: str):
    """Body: gray -> RGB, resize, the network's own input scaling, the network (BN in inference
    mode), global average pooling, then one dense block of 256 as the trained head."""

    def body(b: Any, x: Any) -> Any:
        import importlib

        import keras

        if x.shape[-1] == 1:
            x = b.layers.Concatenate()([x, x, x])
        x = b.layers.Resizing(image_size, image_size)(x)
        preprocess = importlib.import_module(f"keras.applications.{preprocess_module}").preprocess_input
        x = b.layers.Lambda(lambda t: preprocess(t * 255.0), name="imagenet_preprocess")(x)
        base = getattr(keras.applications, network)(
            include_top=False, weights="imagenet", input_shape=(image_size, image_size, 3), pooling="avg"
        )
        # training=False: its batch norm keeps ImageNet statistics even when fine-tuned (Keras' advice).
        return b.dense(base(x, training=False), 256)

    return body


@cache
def check_imagenet_weights(network: str, image_size: int) -> dict[str, Any]:
    """Build the network once per process so that missing weights fail here, with a clear message."""
    import keras

    try:
        getattr(keras.applications, network)(
            include_top=False, weights="imagenet", input_shape=(image_size, image_size, 3), pooling="avg"
        )
    except Exception as exc:  # no internet, proxy, truncated file
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise UsageError(
            f"transfer source imagenet:{network}: ImageNet weights are not in the Keras cache ($KERAS_HOME/models, "
            f"default ~/.keras/models) and the download failed ({reason}); run "
            f"`python scripts/fetch_datasets.py --weights {network}` on a machine with internet and copy the cache"
        ) from None
    return {"network": network, "image_size": image_size}


def freeze_application(model: Any, block_pattern: str, trainable_blocks: int) -> None:
    """Freeze the pretrained network inside `model` but for its last `trainable_blocks` blocks
    (layers named by `block_pattern`) and the layers after them."""
    import keras

    base = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    names = [layer.name for layer in base.layers]
    blocks = list(dict.fromkeys(m.group(0) for n in names if (m := re.match(block_pattern, n))))
    kept = blocks[len(blocks) - trainable_blocks :] if trainable_blocks else []
    first = next((i for i, n in enumerate(names) if kept and n.startswith(kept[0])), len(names))
    for i, layer in enumerate(base.layers):
        layer.trainable = i >= first
