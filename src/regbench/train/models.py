"""Registry of architectures built with pure Keras 3 APIs, with a technique set's hooks applied.

Every hidden block is: linear layer (conv or dense, with the set's kernel penalty) -> the
techniques' `between` layers -> ReLU -> the techniques' `after` layers. Keras is imported inside
the builders so that the registry can be read without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from regbench.registry import Registry
from regbench.train.hooks import SetHooks
from regbench.train.techniques import Technique


class Blocks:
    """Builds hidden and output blocks for one technique set, from its combined hooks."""

    def __init__(self, hooks: SetHooks) -> None:
        import keras

        self.layers = keras.layers
        self.hooks = hooks
        l1, l2 = hooks.kernel_penalty
        self.regularizer = keras.regularizers.L1L2(l1=l1, l2=l2) if (l1 or l2) else None
        self.width = hooks.width

    def units(self, n: int) -> int:
        """A hidden layer's width after the set's width multiplier (at least 1)."""
        return max(1, round(n * self.width))

    def _block(self, x: Any, linear: Any, kind: str) -> Any:
        x = linear(x)
        for layer in self.hooks.between(kind):
            x = layer(x)
        x = self.layers.Activation("relu")(x)
        for layer in self.hooks.after(kind):
            x = layer(x)
        return x

    def conv2d(self, x: Any, filters: int) -> Any:
        conv = self.layers.Conv2D(self.units(filters), 3, padding="same", kernel_regularizer=self.regularizer)
        return self._block(x, conv, "conv")

    def conv1d(self, x: Any, filters: int, kernel_size: int = 5) -> Any:
        conv = self.layers.Conv1D(self.units(filters), kernel_size, padding="same", kernel_regularizer=self.regularizer)
        return self._block(x, conv, "conv")

    def dense(self, x: Any, units: int) -> Any:
        return self._block(x, self.layers.Dense(self.units(units), kernel_regularizer=self.regularizer), "dense")

    def output(self, x: Any, num_classes: int) -> Any:
        """One sigmoid unit for two classes (article D), else a softmax; float32 for stability."""
        units, activation = (1, "sigmoid") if num_classes == 2 else (num_classes, "softmax")
        dense = self.layers.Dense(units, activation=activation, kernel_regularizer=self.regularizer, dtype="float32")
        return dense(x)


def mlp_body(b: Blocks, x: Any) -> Any:
    x = b.layers.Flatten()(x)
    return b.dense(x, 500)


def small_cnn_body(b: Blocks, x: Any) -> Any:
    x = b.layers.MaxPooling2D()(b.conv2d(x, 16))
    x = b.layers.MaxPooling2D()(b.conv2d(x, 32))
    return b.dense(b.layers.Flatten()(x), 32)


def vgg_cnn_body(b: Blocks, x: Any) -> Any:
    for filters in (32, 64, 128):
        x = b.layers.MaxPooling2D()(b.conv2d(b.conv2d(x, filters), filters))
    return b.dense(b.layers.Flatten()(x), 512)


def cnn1d_body(b: Blocks, x: Any) -> Any:
    x = b.layers.MaxPooling1D()(b.conv1d(x, 32))
    x = b.layers.MaxPooling1D()(b.conv1d(x, 64))
    return b.dense(b.layers.Flatten()(x), 128)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kinds: frozenset[str]  # data kinds the architecture accepts
    description: str
    body: Callable[[Blocks, Any], Any]  # input tensor -> last hidden tensor


MODELS: Registry[ModelInfo] = Registry("model")
for _info in (
    ModelInfo("mlp", frozenset({"image", "sequence", "tabular"}), "Flatten-Dense500 (article D)", mlp_body),
    ModelInfo("small_cnn", frozenset({"image"}), "Conv16-pool-Conv32-pool-Dense32 (article B)", small_cnn_body),
    ModelInfo(
        "vgg_cnn", frozenset({"image"}), "Conv32x2-pool-Conv64x2-pool-Conv128x2-pool-Dense512 (article A)", vgg_cnn_body
    ),
    ModelInfo("cnn1d", frozenset({"sequence"}), "Conv1D32-pool-Conv1D64-pool-Dense128 (for MNIST-1D)", cnn1d_body),
):
    MODELS.register(_info.name, _info)


def get_model(name: str) -> ModelInfo:
    return MODELS.get(name)


def build(
    model: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    techniques: Iterable[Technique] | SetHooks,
    dataset: Any = None,
    seed: int = 0,
) -> Any:
    """A fresh, uncompiled keras.Model of architecture `model` with the hooks of `techniques` (or
    their SetHooks) applied. Input layers (augmentation) need the `dataset` (DatasetInfo) and are
    seeded with `seed`."""
    import keras

    hooks = techniques if isinstance(techniques, SetHooks) else SetHooks.of(techniques)
    blocks = Blocks(hooks)
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for layer in hooks.input_layers(dataset, seed) if dataset is not None else []:
        x = layer(x)
    # A technique may replace the architecture's body (transfer from an ImageNet network).
    body = hooks.body() or get_model(model).body
    outputs = blocks.output(body(blocks, x), num_classes)
    return keras.Model(inputs, outputs, name=model)
