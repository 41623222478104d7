"""Custom Keras 3 layers, backend-agnostic (keras.ops and keras.random only). Imported only where
a model is built, never when a grid is read."""

from __future__ import annotations

from typing import Any

import keras


class RandomCircularShift(keras.layers.Layer):
    """Roll each sequence by a random number of steps, up to max_fraction of its length either way,
    in training only; MNIST-1D's signals are translation-invariant up to their ends."""

    def __init__(self, max_fraction: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_fraction = max_fraction
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool = False) -> Any:
        length = inputs.shape[1]
        max_shift = round(self.max_fraction * length)
        if not training or max_shift == 0:
            return inputs
        batch = keras.ops.shape(inputs)[0]
        shifts = keras.random.randint((batch, 1), -max_shift, max_shift + 1, seed=self.seed_generator)
        index = keras.ops.mod(keras.ops.arange(length)[None, :] - shifts, length)
        return keras.ops.take_along_axis(inputs, keras.ops.expand_dims(index, -1), axis=1)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {"max_fraction": self.max_fraction, "seed": self.seed}
