"""Registry of techniques: name -> frozen dataclass. Adding one = a module + a line here + a test."""

from __future__ import annotations

from typing import Any

from regbench.registry import Registry
from regbench.techniques.augmentation import Augmentation
from regbench.techniques.base import DATA_KINDS, Context, ParamError, Technique, require
from regbench.techniques.batchnorm import BatchNorm
from regbench.techniques.best_checkpoint import BestCheckpoint
from regbench.techniques.capacity import Capacity
from regbench.techniques.class_weights import ClassWeights
from regbench.techniques.dropout import Dropout
from regbench.techniques.early_stopping import EarlyStopping
from regbench.techniques.l1 import L1, L1L2
from regbench.techniques.l2 import L2
from regbench.techniques.label_smoothing import LabelSmoothing
from regbench.techniques.reduce_lr_on_plateau import ReduceLROnPlateau
from regbench.techniques.transfer import Transfer
from regbench.techniques.weight_decay import WeightDecay

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
    "Context",
    "TECHNIQUES",
    "ParamError",
    "Technique",
    "get_technique",
    "make_technique",
    "require",
]
