from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from regbench.train.techniques.base import Technique, require


@dataclass(frozen=True)
class Augmentation(Technique):
    """Random label-preserving input transforms in training, chosen per dataset (Simard et al., 2003, ICDAR)."""

    name: ClassVar[str] = "augmentation"
    short: ClassVar[str] = "aug"
    group: ClassVar[str | None] = "augmentation"
    # Images: mirror left-right only where the dataset allows it (clothes, photos; never digits),
    # then shift, rotate and zoom. Sequences (MNIST-1D): circular shift, then Gaussian noise.
    # Tabular (moons): Gaussian noise on the inputs.
    flip: bool = True
    shift: float = 0.1  # fraction of height and width
    rotation: float = 10.0  # degrees, either way
    zoom: float = 0.1  # fraction, in or out
    roll: float = 0.1  # sequences: fraction of the length, either way
    noise: float = 0.05  # sequences and tabular data: standard deviation of added Gaussian noise

    def check(self) -> None:
        for key, high in (("shift", 0.5), ("zoom", 0.5), ("roll", 0.5)):
            require(0.0 <= getattr(self, key) <= high, key, f"0 <= {key} <= {high}")
        require(0.0 <= self.rotation <= 180.0, "rotation", "0 <= rotation <= 180 (degrees)")
        require(0.0 <= self.noise <= 10.0, "noise", "0 <= noise <= 10 (inputs are scaled to [0, 1])")

    def input_layers(self, dataset: Any, seed: int) -> list[Any]:
        from keras import layers

        from regbench.train.backend import mark_jittable

        if dataset.kind == "image":
            out = [layers.RandomFlip("horizontal", seed=seed)] if self.flip and dataset.mirror_ok else []
            if self.shift:
                out.append(layers.RandomTranslation(self.shift, self.shift, fill_mode="constant", seed=seed + 1))
            if self.rotation:
                out.append(layers.RandomRotation(self.rotation / 360.0, fill_mode="constant", seed=seed + 2))
            if self.zoom:
                out.append(layers.RandomZoom(self.zoom, self.zoom, fill_mode="constant", seed=seed + 3))
            return mark_jittable(out)
        out = []
        if dataset.kind == "sequence" and self.roll:
            from regbench.train.layers import RandomCircularShift

            out.append(RandomCircularShift(self.roll, seed=seed + 4))
        if self.noise:
            out.append(layers.GaussianNoise(self.noise, seed=seed + 5))
        return out
