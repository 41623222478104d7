"""The training budget of a grid, a section or a dataset entry: epochs or optimizer steps, batch
size, optimizer and learning rates; and how a lower level's budget table overrides the one above."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from regbench.train.techniques import MAX_EPOCHS, at_most, require


@dataclass(frozen=True)
class Budget:
    """The training budget; any key may be overridden per dataset and section. Either `epochs`
    (passes over the train set) or `steps` (optimizer steps, the same whatever the train size,
    with a validation pass every `eval_every` steps): a table giving one replaces the other."""

    epochs: int | None = 20  # None under a steps budget
    steps: int | None = None
    eval_every: int | None = None  # steps between evaluations; default: about 25 evaluations
    batch_size: int = 32
    optimizer: Literal["adam", "rmsprop", "sgd"] = "adam"
    learning_rate: float = 1e-3
    # Tuned arms: every cell is trained at each rate and the report keeps, per technique set and
    # condition, the rate with the best validation accuracy. None: `learning_rate` alone.
    learning_rates: tuple[float, ...] | None = None
    momentum: float = 0.0  # used by sgd and rmsprop only

    def __post_init__(self) -> None:
        if self.steps is not None:  # frozen: fields are settled here, once
            object.__setattr__(self, "epochs", None)
            if self.eval_every is None and 1 <= self.steps <= MAX_STEPS:  # check() rejects the rest
                object.__setattr__(self, "eval_every", default_eval_every(self.steps))

    def check(self) -> None:
        if self.steps is None:
            require(self.epochs is not None and self.epochs >= 1, "epochs", "epochs >= 1")
            at_most(self.epochs, MAX_EPOCHS, "epochs", "epochs >= 1")
            require(self.eval_every is None, "eval_every", "only with a steps budget (steps = N)")
        else:
            require(self.steps >= 1, "steps", "steps >= 1")
            at_most(self.steps, MAX_STEPS, "steps", "steps >= 1")
            require(1 <= self.eval_every <= self.steps, "eval_every", f"1 <= eval_every <= steps ({self.steps})")
            require(self.steps % self.eval_every == 0, "eval_every", f"a divisor of steps ({self.steps})")
        # Larger than the train set is allowed: a full batch (article D's 30 moons in batches of 32).
        require(1 <= self.batch_size <= MAX_BATCH, "batch_size", f"1 <= batch_size <= {MAX_BATCH}")
        require(RATES[0] <= self.learning_rate <= RATES[1], "learning_rate", RATE_RULE.format("learning_rate"))
        if self.learning_rates is not None:
            rates = self.learning_rates
            ok = bool(rates) and len(set(rates)) == len(rates) and len(rates) <= MAX_RATES
            ok = ok and all(RATES[0] <= r <= RATES[1] for r in rates)
            require(ok, "learning_rates", f"a non-empty list of distinct rates > 0, at most {MAX_RATES} rates, each "
                    + RATE_RULE.format("rate"))  # fmt: skip
        require(0.0 <= self.momentum < 1.0, "momentum", "0 <= momentum < 1")

    @property
    def rates(self) -> tuple[float, ...]:
        """The learning rates every cell is trained at."""
        return self.learning_rates or (self.learning_rate,)


# Bounds a budget is checked against before anything runs: a count of optimizer steps or epochs
# beyond these would not finish, a larger batch would not fit in memory, and a learning rate
# outside float32's range (Keras keeps it in float32) is zero or infinite by the first step.
MAX_STEPS = 10**7
MAX_BATCH = 65_536
MAX_RATES = 100
RATES = (1e-38, 1e38)
RATE_RULE = "1e-38 <= {} <= 1e38 (float32's range, in which Keras keeps it)"


def default_eval_every(steps: int) -> int:
    """The largest divisor of `steps` that gives at least 25 evaluations (divisors found in pairs up
    to sqrt(steps): 3,163 tries at MAX_STEPS)."""
    limit = max(1, steps // 25)
    small = [d for d in range(1, math.isqrt(steps) + 1) if steps % d == 0]
    return max(d for d in small + [steps // d for d in small] if d <= limit)


# Budget keys that exclude each other in one table; a table that sets one of a pair drops the
# other it inherits (a dataset with `steps` under a top-level `epochs` trains in steps).
EXCLUSIVE = (("epochs", "steps"), ("learning_rate", "learning_rates"))


def merge_budget(base: dict, own: dict, where: str, fail) -> dict:
    """`own` budget keys over the inherited `base`; `own` may not set both keys of a pair."""
    dropped = set()
    for a, b in EXCLUSIVE:
        if a in own and b in own:
            raise fail(f"{where}.{b}", f"{a} and {b} exclude each other; allowed: one of them in a table")
        dropped |= {b} if a in own else {a} if b in own else set()
    if "epochs" in own:  # an epochs budget has no evaluation interval
        dropped.add("eval_every")
    return {k: v for k, v in base.items() if k not in dropped} | own
