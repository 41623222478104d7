"""The kinds of [[claims]] a grid may state, declared once: each kind's name, whether it compares
two technique sets, which metrics it accepts and which of a claim's parameters it reads. The grid
file is checked against these declarations; each kind's measure lives in the analysis stage
(analysis/claim_measures.py, keyed by the same name, checked there at import)."""

from __future__ import annotations

from dataclasses import dataclass

from regbench.registry import Registry

# Final metrics of a cell a claim may be about, and the learning-curve metrics (recorded per evaluation).
FINAL_METRICS = (
    "accuracy_gap", "loss_gap", "test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy",
    "train_loss", "epochs_run", "best_epoch",
)  # fmt: skip
CURVE_METRICS = ("val_accuracy", "val_loss", "train_accuracy", "train_loss")


@dataclass(frozen=True)
class ClaimKind:
    """One kind of claim: `paired` kinds compare `set` with `against` seed by seed; `curve_only` kinds
    read a learning curve, so their metric must be one of CURVE_METRICS; `reads` names the claim's
    own parameters the kind uses (beside set, against, metric and expect)."""

    name: str
    paired: bool
    description: str
    curve_only: bool = False
    reads: tuple[str, ...] = ()


CLAIM_KINDS: Registry[ClaimKind] = Registry("claim kind")
for _kind in (
    ClaimKind("effect", True, "`set` minus `against`, paired by seed, moves `metric` the `expect`ed way "
              "(with `epoch` or `step`: the learning curve's value at that point)", reads=("epoch", "step")),
    ClaimKind("level", False, "`set`'s `metric` lies within [`low`, `high`]", reads=("low", "high")),
    ClaimKind("effect_shrinks_with_size", True, "the effect at the smallest train size minus at the largest"),
    ClaimKind("val_loss_rises", False, "`set`'s validation loss ends above its low point"),
    ClaimKind("rises_after_lr_drop", True, "`metric` over the `window` evaluations after `set`'s first learning-"
              "rate drop, against the same evaluations of `against`", curve_only=True, reads=("window",)),
):  # fmt: skip
    CLAIM_KINDS.register(_kind.name, _kind)


def is_paired(kind: str) -> bool:
    """Whether claims of `kind` compare two technique sets (their `against` must exist too)."""
    return CLAIM_KINDS.get(kind).paired
