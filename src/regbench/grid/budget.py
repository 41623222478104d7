"""The training budget of a grid, a section or a dataset entry: epochs or optimizer steps, batch
size, optimizer and learning rates; and how a lower level's budget table overrides the one above."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from regbench.train.techniques import require


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
            if self.eval_every is None and self.steps >= 1:
                object.__setattr__(self, "eval_every", default_eval_every(self.steps))

    def check(self) -> None:
        if self.steps is None:
            require(self.epochs is not None and self.epochs >= 1, "epochs", "epochs >= 1")
            require(self.eval_every is None, "eval_every", "only with a steps budget (steps = N)")
        else:
            require(self.steps >= 1, "steps", "steps >= 1")
            require(1 <= self.eval_every <= self.steps, "eval_every", f"1 <= eval_every <= steps ({self.steps})")
            require(self.steps % self.eval_every == 0, "eval_every", f"a divisor of steps ({self.steps})")
        require(self.batch_size >= 1, "batch_size", "batch_size >= 1")
        require(self.learning_rate > 0, "learning_rate", "learning_rate > 0")
        if self.learning_rates is not None:
            rates = self.learning_rates
            ok = bool(rates) and all(r > 0 for r in rates) and len(set(rates)) == len(rates)
            require(ok, "learning_rates", "a non-empty list of distinct rates > 0")
        require(0.0 <= self.momentum < 1.0, "momentum", "0 <= momentum < 1")

    @property
    def rates(self) -> tuple[float, ...]:
        """The learning rates every cell is trained at."""
        return self.learning_rates or (self.learning_rate,)


def default_eval_every(steps: int) -> int:
    """The largest divisor of `steps` that gives at least 25 evaluations."""
    return max(d for d in range(1, max(1, steps // 25) + 1) if steps % d == 0)


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
