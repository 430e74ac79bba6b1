"""A sudden drop of a high count against its own recent level: approvals halving within minutes.

Volume-relative, so a daily cycle (which moves over hours) does not alert, and it
needs no history: it compares the mean of the last ``window`` minutes with the
median of the ``reference`` minutes before them. Below ``min_level`` per minute
the reference is too thin to judge (night traffic) and the rule stays quiet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .metrics import feed_of
from .rules import ConfigError, FieldReader, Judgement, Rule, register_rule
from .series import SeriesView


@register_rule
class DropRule(Rule):
    type_name = "drop"

    def __init__(self, *, window: int = 3, reference: int = 60, max_ratio: float = 0.5, min_level: float = 40.0,
                 **common: Any):
        super().__init__(**common)
        self.window = window
        self.reference = reference
        self.max_ratio = max_ratio
        self.min_level = min_level
        self._feed = feed_of(self.metric)

    def _levels(self, view: SeriesView, first: int, last: int) -> list[int]:
        """Counts of the minutes in [first, last] the feed sent data for (a feed gap is unknown, not zero)."""
        counts = view.counts_of(self.metric)
        return [counts.get(m, 0) for m in range(first, last + 1) if view.has_data(self._feed, m)]

    def judge(self, view: SeriesView, minute: int) -> Judgement:
        recent = self._levels(view, minute - self.window + 1, minute)
        mean = sum(recent) / len(recent) if recent else 0.0
        end = minute - self.window
        reference = sorted(self._levels(view, end - self.reference + 1, end))
        if len(recent) < self.window or len(reference) < self.reference // 2:
            return Judgement(False, mean, 0.0, True, None)  # a gap in the window, or too little history
        level = float(reference[len(reference) // 2])
        if level < self.min_level:
            return Judgement(False, mean, 0.0, True, level)
        limit = self.max_ratio * level
        return Judgement(mean < limit, mean, limit, mean >= limit, level)

    def worse(self, new: float, old: float) -> bool:
        return new < old

    def condition_text(self) -> str:
        return (f"below {self.max_ratio:.0%} of its level over the previous {self.reference} min "
                f"({self.window}-min mean)")

    def params(self) -> dict[str, Any]:
        return {"window": self.window, "reference": self.reference, "max_ratio": self.max_ratio,
                "min_level": self.min_level}

    @classmethod
    def from_config(cls, reader: FieldReader, metrics: Iterable[str]) -> DropRule:
        common = cls.common_fields(reader, metrics)
        window = reader.int("window", 3, minimum=1)
        reference = reader.int("reference", 60, minimum=10)
        if window > 60:
            raise ConfigError(f"{reader.where}.window: expected an integer from 1 to 60, got {window}")
        max_ratio = reader.number("max_ratio", 0.5, minimum=0.0)
        if max_ratio >= 1:
            raise ConfigError(f"{reader.where}.max_ratio: expected a fraction below 1, got {max_ratio!r}")
        min_level = reader.number("min_level", 40.0, minimum=0.0)
        reader.reject_unknown(("type", "description"))
        return cls(window=window, reference=reference, max_ratio=max_ratio, min_level=min_level, **common)
