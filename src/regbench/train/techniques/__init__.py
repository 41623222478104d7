"""Registry of techniques: name -> frozen dataclass. Adding one = a module + a line here + a test."""

from __future__ import annotations

from typing import Any

from regbench.registry import Registry
from regbench.train.techniques.augmentation import Augmentation
from regbench.train.techniques.base import (
    DATA_KINDS,
    FLOAT32_LIMIT,
    MAX_EPOCHS,
    MAX_PATIENCE,
    Context,
    ParamError,
    Technique,
    at_most,
    require,
)
from regbench.train.techniques.batchnorm import BatchNorm
from regbench.train.techniques.best_checkpoint import BestCheckpoint
from regbench.train.techniques.capacity import Capacity
from regbench.train.techniques.class_weights import ClassWeights
from regbench.train.techniques.dropout import Dropout
from regbench.train.techniques.early_stopping import EarlyStopping
from regbench.train.techniques.l1 import L1, L1L2
from regbench.train.techniques.l2 import L2
from regbench.train.techniques.label_smoothing import LabelSmoothing
from regbench.train.techniques.reduce_lr_on_plateau import ReduceLROnPlateau
from regbench.train.techniques.transfer import Transfer
from regbench.train.techniques.weight_decay import WeightDecay

TECHNIQUES: Registry[type[Technique]] = Registry("technique")
for _cls in (
    Augmentation,
    BatchNorm,
    BestCheckpoint,
    Capacity,
    ClassWeights,
    Dropout,
    EarlyStopping,
    L1,
    L1L2,
    L2,
    LabelSmoothing,
    ReduceLROnPlateau,
    Transfer,
    WeightDecay,
):
    TECHNIQUES.register(_cls.name, _cls)


def get_technique(name: str) -> type[Technique]:
    """The technique class registered under `name`; an unknown name is a UsageError."""
    return TECHNIQUES.get(name)


def make_technique(name: str, params: dict[str, Any]) -> Technique:
    """An instance with `params` (already validated, e.g. from a stored cell)."""
    return get_technique(name)(**params)


__all__ = [
    "DATA_KINDS",
    "FLOAT32_LIMIT",
    "MAX_EPOCHS",
    "MAX_PATIENCE",
    "Context",
    "TECHNIQUES",
    "ParamError",
    "Technique",
    "get_technique",
    "make_technique",
    "at_most",
    "require",
]
