from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from regbench.train.techniques.base import Technique


@dataclass(frozen=True)
class ClassWeights(Technique):
    """Weight each class's loss by n / (k * n_class), "balanced" (King & Zeng, 2001; scikit-learn)."""

    name: ClassVar[str] = "class_weights"
    short: ClassVar[str] = "cw"

    def class_weight(self, y_train: Any, num_classes: int) -> dict[int, float]:
        from sklearn.utils.class_weight import compute_class_weight

        labels = y_train.reshape(-1)
        present = np.unique(labels)
        weights = dict(zip(present.tolist(), compute_class_weight("balanced", classes=present, y=labels), strict=True))
        # A class absent from the training subset never reaches the loss; Keras wants every class.
        return {c: float(weights.get(c, 1.0)) for c in range(num_classes)}
