"""The rate budget dora assumes for one token bucket, adapted AIMD-style. Pure.

The account's real limits (``GET /account/limits``) set the ceiling; without them the configured
tier does. When the exchange answers 429 anyway (a tier set too high, a downgrade, an endpoint
costing more than dora thinks) the assumed budget is cut multiplicatively: the capacity to half of
what the refused request needed (so a refused batch is never sent again at that size: the next one
is at most half of it), the refill rate to half. After each quiet spell without a 429 it grows back
additively, a twentieth of the ceiling at a time, so it probes upward slowly and a real limit is
found again with one refusal, not a storm.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

RECOVERY_STEPS = 20  # additive increase: the ceiling / RECOVERY_STEPS per quiet spell
QUIET_S = 10.0  # a quiet spell: this long without a 429 on the bucket


@dataclass(frozen=True, slots=True)
class Budget:
    rate: int  # tokens per second
    capacity: int  # the most tokens the bucket holds

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.capacity <= 0:
            raise ValueError(f"a budget needs a positive rate and capacity, got {self}")


# The least dora ever assumes: one default-cost request a second, two in a burst.
FLOOR = Budget(rate=10, capacity=20)


@dataclass(frozen=True, slots=True)
class AdaptiveBudget:
    ceiling: Budget  # the most the account allows (its real limits, or the configured tier)
    current: Budget  # what dora spends against now (never above the ceiling)
    cuts: int = 0  # 429s that cut it since the ceiling was last set

    @classmethod
    def at(cls, ceiling: Budget) -> AdaptiveBudget:
        return cls(ceiling, ceiling)

    def with_ceiling(self, ceiling: Budget) -> AdaptiveBudget:
        """New known limits (re-read from the exchange): start from them afresh."""
        return AdaptiveBudget(ceiling, ceiling)

    def after_refusal(self, cost: int) -> AdaptiveBudget:
        """A request costing ``cost`` tokens was refused with 429: multiplicative decrease."""
        capacity = max(FLOOR.capacity, min(self.current.capacity, max(cost, 1)) // 2)
        rate = max(FLOOR.rate, self.current.rate // 2)
        current = Budget(min(rate, self.ceiling.rate), min(capacity, self.ceiling.capacity))
        return replace(self, current=current, cuts=self.cuts + 1)

    def after_quiet_spell(self) -> AdaptiveBudget:
        """No 429 for :data:`QUIET_S`: additive increase toward the ceiling."""
        if self.current == self.ceiling:
            return self
        step_rate = max(1, self.ceiling.rate // RECOVERY_STEPS)
        step_capacity = max(1, self.ceiling.capacity // RECOVERY_STEPS)
        return replace(self, current=Budget(
            min(self.ceiling.rate, self.current.rate + step_rate),
            min(self.ceiling.capacity, self.current.capacity + step_capacity)))

    @property
    def reduced(self) -> bool:
        return self.current != self.ceiling
